"""Batched spatial augmentations: shear, rotation, left/right flip, noise, axis mask.

All act on the coordinate channels ``x[..., :fmt.dim]`` of a ``(n, M, T, V, C)`` batch;
a 2D format's score channel passes through unchanged. Semantics follow the SkeletonCLR /
AimCLR feeders (``feeder/tools.py``), written as batched tensor ops; differences are
stated in each class.
"""

from __future__ import annotations

import math

import torch

from msclr_mm.skeletons import SkeletonFormat

from .base import (
    Params,
    SkeletonAugment,
    apply_selected,
    format_index,
    host_shortcuts,
    register_augment,
)


def _transform_coords(x: torch.Tensor, matrix: torch.Tensor, dim: int) -> torch.Tensor:
    """``x'[..., :dim] = A @ x[..., :dim]`` per clip; other channels kept.

    Written as ``dim`` broadcast multiply-adds, which is about three times faster on the
    CPU than a batched matmul with 3x3 matrices.

    Args:
        x (torch.Tensor): ``(n, M, T, V, C)``.
        matrix (torch.Tensor): ``(n, dim, dim)``, acting on column vectors.
        dim (int): Number of coordinate channels.

    Returns:
        torch.Tensor: ``(n, M, T, V, C)``.

    """
    n = x.shape[0]
    rows = matrix.transpose(1, 2).to(x.dtype).reshape(n, 1, 1, 1, dim, dim)  # [k, j] = A[j, k]
    out = x[..., 0:1] * rows[..., 0, :]
    for k in range(1, dim):
        out = out.addcmul_(x[..., k : k + 1], rows[..., k, :])
    if x.shape[-1] == dim:
        return out
    return torch.cat([out, x[..., dim:]], dim=-1)


# --------------------------------------------------------------------------- shear
@register_augment('shear')
class Shear(SkeletonAugment):
    """Random shear: ``x' = A x`` with ``A = I + S``, off-diagonals of ``S`` uniform.

    As SkeletonCLR/AimCLR ``shear(data, r)``: the six off-diagonal entries of a 3x3 matrix
    are drawn from ``U(-amplitude, amplitude)``, the diagonal is 1, and the matrix is applied
    to each joint's xyz. For a 2D format the top-left 2x2 block acts on x, y.

    Args:
        amplitude (float): Range of the off-diagonal entries. Defaults to 0.5.
        p (float): Probability per clip. Defaults to 1.0 (the reference always shears).

    """

    def __init__(self, amplitude: float = 0.5, p: float = 1.0) -> None:
        super().__init__(p)
        self.amplitude = float(amplitude)

    def sample_params(
        self, x: torch.Tensor, fmt: SkeletonFormat, generator: torch.Generator | None = None
    ) -> Params:
        """Draw ``matrix`` ``(n, 3, 3)`` (identity where not applied) and ``apply``.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``; shape and device only.
            fmt (SkeletonFormat): The batch's format.
            generator (torch.Generator, optional): Randomness on ``x.device``.

        Returns:
            dict[str, torch.Tensor]: ``matrix`` float32 ``(n, 3, 3)``, ``apply`` ``(n,)``.

        """
        n = x.shape[0]
        apply = self.sample_apply(n, x.device, generator)
        off = torch.rand(n, 3, 3, device=x.device, generator=generator)
        off = (off * 2 - 1) * self.amplitude
        eye = torch.eye(3, device=x.device)
        matrix = eye + off * (1 - eye) * apply.view(n, 1, 1)
        return dict(matrix=matrix, apply=apply)

    def apply(self, x: torch.Tensor, params: Params, fmt: SkeletonFormat) -> torch.Tensor:
        """Shear the coordinates.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``.
            params (dict): ``matrix`` ``(n, 3, 3)``.
            fmt (SkeletonFormat): The batch's format.

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``.

        """
        d = fmt.dim
        return _transform_coords(x, params['matrix'][:, :d, :d], d)


# --------------------------------------------------------------------------- rotation
def rotation_matrix(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices about coordinate axes, in the AimCLR ``random_rotate`` convention.

    Axis 0 (x): ``[[1, 0, 0], [0, c, s], [0, -s, c]]``; axis 1 (y):
    ``[[c, 0, -s], [0, 1, 0], [s, 0, c]]``; axis 2 (z): ``[[c, s, 0], [-s, c, 0], [0, 0, 1]]``
    (acting on column vectors, ``x' = R x``).

    Args:
        axis (torch.Tensor): int64 ``(n,)`` in {0, 1, 2}.
        angle (torch.Tensor): float ``(n,)`` in radians.

    Returns:
        torch.Tensor: ``(n, 3, 3)``.

    """
    n = angle.shape[0]
    c, s = torch.cos(angle), torch.sin(angle)
    # the two axes spanning the rotation plane, cyclic after ``axis``: R[a, b] = s
    a = (axis + 1) % 3
    b = (axis + 2) % 3
    R = torch.zeros(n, 3, 3, device=angle.device, dtype=angle.dtype)
    rows = torch.arange(n, device=angle.device)
    R[rows, axis, axis] = 1
    R[rows, a, a] = c
    R[rows, b, b] = c
    R[rows, a, b] = s
    R[rows, b, a] = -s
    return R


def xyz_rotation(angles: torch.Tensor) -> torch.Tensor:
    """``Rz Ry Rx`` for per-clip angles about x, y and z, in :func:`rotation_matrix`'s convention.

    The same products as three :func:`rotation_matrix` calls chained with ``bmm``, built
    from the nine entries of each factor: about a dozen operators instead of sixty (the
    augmentations run eagerly, one kernel launch per operator).

    Args:
        angles (torch.Tensor): ``(n, 3)`` radians about x, y, z.

    Returns:
        torch.Tensor: ``(n, 3, 3)``, acting on column vectors.

    """
    n = angles.shape[0]
    c, s = torch.cos(angles).unbind(1), torch.sin(angles).unbind(1)
    zero, one = torch.zeros_like(angles).unbind(1)[0], torch.ones_like(angles).unbind(1)[0]
    rx = torch.stack([one, zero, zero, zero, c[0], s[0], zero, -s[0], c[0]], 1)
    ry = torch.stack([c[1], zero, -s[1], zero, one, zero, s[1], zero, c[1]], 1)
    rz = torch.stack([c[2], s[2], zero, -s[2], c[2], zero, zero, zero, one], 1)
    rx, ry, rz = (m.view(n, 3, 3) for m in (rx, ry, rz))
    return torch.bmm(rz, torch.bmm(ry, rx))


@register_augment('rotate')
class Rotate(SkeletonAugment):
    """Random rotation: large about one random axis, tiny about the other two (3D).

    As AimCLR ``random_rotate``: one main axis is drawn uniformly from x, y, z and rotated
    by ``U(0, max_angle)`` degrees, the two other axes by ``U(0, minor_angle)`` degrees; the
    rotations are applied in the order x, y, z, so ``R = Rz Ry Rx`` (:func:`rotation_matrix`
    convention). For a 2D format: one in-plane rotation of x, y by ``U(0, max_angle)``
    degrees (the 2x2 block of the z rotation).

    Args:
        max_angle (float): Main rotation range in degrees. Defaults to 30.
        minor_angle (float): Range of the two other rotations in degrees (3D only).
            Defaults to 1 (as the reference).
        p (float): Probability per clip. Defaults to 1.0 (the reference always rotates).

    """

    def __init__(self, max_angle: float = 30.0, minor_angle: float = 1.0, p: float = 1.0):
        super().__init__(p)
        self.max_angle = float(max_angle)
        self.minor_angle = float(minor_angle)

    def sample_params(
        self, x: torch.Tensor, fmt: SkeletonFormat, generator: torch.Generator | None = None
    ) -> Params:
        """Draw ``main_axis`` ``(n,)``, ``angles`` ``(n, 3)`` (radians, per axis x, y, z).

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``; shape and device only.
            fmt (SkeletonFormat): The batch's format (2D: only the z angle is non-zero).
            generator (torch.Generator, optional): Randomness on ``x.device``.

        Returns:
            dict[str, torch.Tensor]: ``main_axis``, ``angles`` (zero where not applied),
            ``matrix`` ``(n, 3, 3)`` and ``apply``.

        """
        n, dev = x.shape[0], x.device
        apply = self.sample_apply(n, dev, generator)
        u = torch.rand(n, 3, device=dev, generator=generator)
        if fmt.is_2d:
            main_axis = torch.full((n,), 2, dtype=torch.long, device=dev)
            scale = torch.zeros(n, 3, device=dev)
            scale[:, 2] = self.max_angle  # a fill: no copy from host memory
        else:
            main_axis = torch.randint(0, 3, (n,), device=dev, generator=generator)
            # (one_hot would check the values on the host: a synchronisation on some devices)
            is_main = main_axis[:, None] == torch.arange(3, device=dev)
            scale = torch.where(is_main, self.max_angle, self.minor_angle)
        angles = u * scale * (math.pi / 180.0) * apply.view(n, 1)
        return dict(main_axis=main_axis, angles=angles, matrix=xyz_rotation(angles), apply=apply)

    def apply(self, x: torch.Tensor, params: Params, fmt: SkeletonFormat) -> torch.Tensor:
        """Rotate the coordinates.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``.
            params (dict): ``matrix`` ``(n, 3, 3)``.
            fmt (SkeletonFormat): The batch's format.

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``.

        """
        d = fmt.dim
        return _transform_coords(x, params['matrix'][:, :d, :d], d)


# --------------------------------------------------------------------------- flip
@register_augment('flip')
class Flip(SkeletonAugment):
    """Left/right flip through the format's ``flip`` permutation.

    Joint ``v`` of the flipped clip is joint ``fmt.flip[v]`` of the original. With
    ``mirror=True`` the x coordinate is negated too, so the result is the mirror image of
    the pose (coordinates are centred by the dataset, so the mirror plane passes through
    the body's centre). AimCLR's ``random_spatial_flip`` only permutes the joints
    (``mirror=False`` reproduces it), which gives a left/right-swapped but not mirrored body.

    Args:
        p (float): Probability per clip. Defaults to 0.5 (as the reference).
        mirror (bool): Also negate x. Defaults to True.

    """

    def __init__(self, p: float = 0.5, mirror: bool = True) -> None:
        super().__init__(p)
        self.mirror = bool(mirror)

    def apply(self, x: torch.Tensor, params: Params, fmt: SkeletonFormat) -> torch.Tensor:
        """Flip the selected clips.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``.
            params (dict): ``apply`` ``(n,)``.
            fmt (SkeletonFormat): The batch's format (its ``flip`` permutation).

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``.

        """
        perm = format_index(fmt, 'flip', x.device)

        def flip(clips: torch.Tensor, rows) -> torch.Tensor:
            flipped = clips.index_select(-2, perm)
            if self.mirror:
                flipped[..., 0].neg_()
            return flipped

        return apply_selected(params['apply'], x, flip)


# --------------------------------------------------------------------------- noise
@register_augment('gaussian_noise')
class GaussianNoise(SkeletonAugment):
    """Additive Gaussian noise on the coordinates, as AimCLR ``gaus_noise``.

    The reference adds noise to every channel (its channels are all coordinates); here a
    2D format's score channel is left unchanged. Zero-padded persons get noise too, as in
    the reference.

    Args:
        std (float): Standard deviation. Defaults to 0.01.
        mean (float): Mean. Defaults to 0.
        p (float): Probability per clip. Defaults to 0.5 (as the reference).

    """

    def __init__(self, std: float = 0.01, mean: float = 0.0, p: float = 0.5) -> None:
        super().__init__(p)
        self.std = float(std)
        self.mean = float(mean)

    def sample_params(
        self, x: torch.Tensor, fmt: SkeletonFormat, generator: torch.Generator | None = None
    ) -> Params:
        """Draw ``noise`` ``(n, M, T, V, dim)`` (zero where not applied) and ``apply``.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``; shape and device only.
            fmt (SkeletonFormat): The batch's format.
            generator (torch.Generator, optional): Randomness on ``x.device``.

        Returns:
            dict[str, torch.Tensor]: ``noise`` and ``apply``.

        """
        n = x.shape[0]
        apply = self.sample_apply(n, x.device, generator)
        shape = (*x.shape[:-1], fmt.dim)
        if host_shortcuts(x):  # draw only the noise that is used
            noise = torch.zeros(shape, device=x.device)
            rows = apply.nonzero().squeeze(1)
            drawn = torch.randn((rows.numel(), *shape[1:]), device=x.device, generator=generator)
            noise[rows] = drawn.mul_(self.std).add_(self.mean)
        else:
            noise = torch.randn(shape, device=x.device, generator=generator)
            noise = noise.mul_(self.std).add_(self.mean) * apply.view(n, 1, 1, 1, 1)
        return dict(noise=noise, apply=apply)

    def apply(self, x: torch.Tensor, params: Params, fmt: SkeletonFormat) -> torch.Tensor:
        """Add the noise.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``.
            params (dict): ``noise`` ``(n, M, T, V, dim)``.
            fmt (SkeletonFormat): The batch's format.

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``.

        """
        d = fmt.dim
        out = x[..., :d] + params['noise'].to(x.dtype)
        if x.shape[-1] == d:
            return out
        return torch.cat([out, x[..., d:]], dim=-1)


# --------------------------------------------------------------------------- axis mask
@register_augment('axis_mask')
class AxisMask(SkeletonAugment):
    """Zero one random coordinate axis, as AimCLR ``axis_mask``.

    The axis is drawn uniformly from the ``fmt.dim`` coordinate channels (x, y, z; for 2D
    x, y, the score is kept).

    Args:
        p (float): Probability per clip. Defaults to 0.5 (as the reference).

    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def sample_params(
        self, x: torch.Tensor, fmt: SkeletonFormat, generator: torch.Generator | None = None
    ) -> Params:
        """Draw ``axis`` ``(n,)`` in ``[0, fmt.dim)`` and ``apply``.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``; shape and device only.
            fmt (SkeletonFormat): The batch's format.
            generator (torch.Generator, optional): Randomness on ``x.device``.

        Returns:
            dict[str, torch.Tensor]: ``axis`` and ``apply``.

        """
        n = x.shape[0]
        apply = self.sample_apply(n, x.device, generator)
        axis = torch.randint(0, fmt.dim, (n,), device=x.device, generator=generator)
        return dict(axis=axis, apply=apply)

    def apply(self, x: torch.Tensor, params: Params, fmt: SkeletonFormat) -> torch.Tensor:
        """Zero the drawn axis of the selected clips.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``.
            params (dict): ``axis`` ``(n,)`` and ``apply`` ``(n,)``.
            fmt (SkeletonFormat): The batch's format.

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``.

        """
        channel = torch.arange(x.shape[-1], device=x.device)
        zero = (channel[None] == params['axis'][:, None]) & params['apply'][:, None]
        keep = (~zero).to(x.dtype).view(x.shape[0], 1, 1, 1, x.shape[-1])
        return x * keep
