"""Batched temporal augmentations: crop-resize with reflect padding, time flip, blur.

All act on the time axis of a ``(n, M, T, V, C)`` batch. Semantics follow the
SkeletonCLR / AimCLR feeders (``feeder/tools.py``), written as batched tensor ops.
"""

from __future__ import annotations

from typing import Sequence

import torch

from msclr_mm.skeletons import SkeletonFormat

from .base import Params, SkeletonAugment, apply_selected, host_shortcuts, register_augment


def reflect_index(index: torch.Tensor, pad: int, num_frames: int) -> torch.Tensor:
    """Map positions of a reflect-padded time axis to frames of the original clip.

    The padded axis is ``x[pad-1], ..., x[0], x[0], ..., x[T-1], x[T-1], ..., x[T-pad]``:
    the edge frame is repeated (numpy's ``'symmetric'`` mode), which is what the reference
    ``temperal_crop`` builds with ``data[:, :pad][:, ::-1]``.

    Args:
        index (torch.Tensor): int64, positions in ``[0, T + 2 * pad)``.
        pad (int): Frames padded on each side, at most ``T``.
        num_frames (int): ``T``.

    Returns:
        torch.Tensor: int64, same shape, frames in ``[0, T)``.

    """
    j = index - pad
    j = torch.where(j < 0, -j - 1, j)
    return torch.where(j >= num_frames, 2 * num_frames - 1 - j, j)


def _gather_frames(x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """``out[i, :, t] = x[i, :, frames[i, t]]``, ``x`` ``(n, M, T, V, C)``, frames ``(n, T2)``."""
    n, M, _, V, C = x.shape
    index = frames.view(n, 1, -1, 1, 1).expand(n, M, frames.shape[1], V, C)
    return x.gather(2, index)


# --------------------------------------------------------------------------- crop-resize
@register_augment('temporal_crop')
class TemporalCrop(SkeletonAugment):
    """Random temporal crop of the reflect-padded clip, resized back to ``T`` frames.

    As SkeletonCLR/AimCLR ``temperal_crop``: ``pad = T // padding_ratio`` frames are added
    on each side by reflection (edge frame repeated, :func:`reflect_index`), a window of
    ``L`` frames starting at a uniform random integer in ``[0, T + 2 pad - L]`` is cut out
    and resized to ``T`` frames by linear interpolation (output frame ``t`` samples the
    window at ``t (L - 1) / (T - 1)``, the end frames of the window are kept). ``L = T``
    (``crop_ratio=(1, 1)``, the default) is exactly the reference: the resize is the
    identity and the op is a random shift by up to ``pad`` frames with reflected borders.
    ``crop_ratio=(0.8, 1.0)`` draws ``L = round(r T)`` with ``r ~ U(0.8, 1.0)`` per clip.

    Args:
        padding_ratio (int): ``pad = T // padding_ratio``; 0 or less disables padding.
            Defaults to 6.
        crop_ratio (Sequence[float]): Range of ``L / T``; ``L`` is clamped to
            ``[1, T + 2 pad]``. Defaults to ``(1.0, 1.0)``.
        p (float): Probability per clip. Defaults to 1.0 (the reference always crops).

    """

    def __init__(
        self, padding_ratio: int = 6, crop_ratio: Sequence[float] = (1.0, 1.0), p: float = 1.0
    ) -> None:
        super().__init__(p)
        self.padding_ratio = int(padding_ratio)
        lo, hi = (float(r) for r in crop_ratio)
        if not 0 < lo <= hi:
            raise ValueError(f'TemporalCrop: crop_ratio = {crop_ratio} must satisfy 0 < lo <= hi')
        self.crop_ratio = (lo, hi)

    def padding(self, num_frames: int) -> int:
        """Frames padded on each side for a clip of ``num_frames`` frames.

        Args:
            num_frames (int): ``T``.

        Returns:
            int: ``T // padding_ratio`` (0 when ``padding_ratio <= 0``).

        """
        return num_frames // self.padding_ratio if self.padding_ratio > 0 else 0

    def sample_params(
        self, x: torch.Tensor, fmt: SkeletonFormat, generator: torch.Generator | None = None
    ) -> Params:
        """Draw ``start`` and ``length`` of the window per clip.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``; shape and device only.
            fmt (SkeletonFormat): The batch's format.
            generator (torch.Generator, optional): Randomness on ``x.device``.

        Returns:
            dict[str, torch.Tensor]: ``start`` and ``length`` int64 ``(n,)`` on the padded
            axis (``start = pad``, ``length = T`` where not applied: the identity), and
            ``apply``.

        """
        n, T, dev = x.shape[0], x.shape[2], x.device
        pad = self.padding(T)
        apply = self.sample_apply(n, dev, generator)
        lo, hi = self.crop_ratio
        if lo == hi:
            length = torch.full((n,), round(lo * T), dtype=torch.long, device=dev)
        else:
            r = lo + (hi - lo) * torch.rand(n, device=dev, generator=generator)
            length = torch.round(r * T).long()
        length = length.clamp(1, T + 2 * pad)
        u = torch.rand(n, device=dev, generator=generator)
        room = T + 2 * pad - length + 1
        start = torch.minimum((u * room).long(), room - 1)
        start = torch.where(apply, start, pad)
        length = torch.where(apply, length, T)
        return dict(start=start, length=length, apply=apply)

    def apply(self, x: torch.Tensor, params: Params, fmt: SkeletonFormat) -> torch.Tensor:
        """Crop and resize.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``.
            params (dict): ``start``, ``length`` ``(n,)``, as :meth:`sample_params` draws
                them (with ``crop_ratio=(1, 1)`` every ``length`` is ``T``).
            fmt (SkeletonFormat): The batch's format.

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``.

        """
        T = x.shape[2]
        pad = self.padding(T)
        start, length = params['start'], params['length']
        if self.crop_ratio == (1.0, 1.0):
            # every window is T frames long (sample_params): a whole-frame shift, no
            # interpolation; the same values as the general path in a quarter of the
            # operators (they are launched one by one)
            t = torch.arange(T, device=x.device)
            return _gather_frames(x, reflect_index(start[:, None] + t, pad, T))
        t = torch.arange(T, device=x.device, dtype=torch.float64)
        step = (length.double() - 1) / max(T - 1, 1)
        pos = start.double()[:, None] + t[None] * step[:, None]  # (n, T) on the padded axis
        i0 = pos.floor().long()
        w = (pos - i0).to(x.dtype)
        i1 = (i0 + 1).clamp(max=T + 2 * pad - 1)
        x0 = _gather_frames(x, reflect_index(i0, pad, T))
        if host_shortcuts(x) and not bool((w != 0).any()):  # no host sync on a GPU
            return x0
        x1 = _gather_frames(x, reflect_index(i1, pad, T))
        w = w.view(x.shape[0], 1, T, 1, 1)
        return x0 + (x1 - x0) * w


# --------------------------------------------------------------------------- time flip
@register_augment('time_flip')
class TimeFlip(SkeletonAugment):
    """Play the clip backwards, as AimCLR ``random_time_flip``.

    Args:
        p (float): Probability per clip. Defaults to 0.5 (as the reference).

    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def apply(self, x: torch.Tensor, params: Params, fmt: SkeletonFormat) -> torch.Tensor:
        """Reverse the time axis of the selected clips.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``.
            params (dict): ``apply`` ``(n,)``.
            fmt (SkeletonFormat): The batch's format.

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``.

        """
        return apply_selected(params['apply'], x, lambda clips, rows: clips.flip(2))


# --------------------------------------------------------------------------- blur
@register_augment('gaussian_blur')
class GaussianBlur(SkeletonAugment):
    """Temporal Gaussian blur with a random width, as AimCLR ``GaussianBlurConv``.

    Each clip draws ``sigma ~ U(sigma[0], sigma[1])``; the coordinates are convolved along
    time with ``w[k] = exp(-k^2 / (2 sigma^2))``, ``k = -r..r``, ``r = kernel // 2``, with
    zero padding at both ends. The reference does NOT normalise the kernel (its taps sum to
    about ``sigma * sqrt(2 pi)``, so a blurred clip is also scaled by up to 5x for
    ``sigma = 2``); ``normalize=False`` (default) reproduces that, ``normalize=True``
    divides by the sum of the taps (a pure blur). A 2D format's score channel is kept.

    Args:
        kernel (int): Taps, odd. Defaults to 15.
        sigma (Sequence[float]): Range of ``sigma`` in frames. Defaults to ``(0.1, 2.0)``.
        p (float): Probability per clip. Defaults to 0.5 (as the reference).
        normalize (bool): Divide the taps by their sum. Defaults to False.

    """

    def __init__(
        self,
        kernel: int = 15,
        sigma: Sequence[float] = (0.1, 2.0),
        p: float = 0.5,
        normalize: bool = False,
    ) -> None:
        super().__init__(p)
        if kernel < 1 or kernel % 2 != 1:
            raise ValueError(f'GaussianBlur: kernel = {kernel} must be a positive odd number')
        self.kernel = int(kernel)
        self.sigma = (float(sigma[0]), float(sigma[1]))
        self.normalize = bool(normalize)

    def sample_params(
        self, x: torch.Tensor, fmt: SkeletonFormat, generator: torch.Generator | None = None
    ) -> Params:
        """Draw ``sigma`` ``(n,)`` and the resulting ``weights`` ``(n, kernel)``.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``; shape and device only.
            fmt (SkeletonFormat): The batch's format.
            generator (torch.Generator, optional): Randomness on ``x.device``.

        Returns:
            dict[str, torch.Tensor]: ``sigma``, ``weights`` (a unit impulse where not
            applied) and ``apply``.

        """
        n, dev = x.shape[0], x.device
        apply = self.sample_apply(n, dev, generator)
        lo, hi = self.sigma
        sigma = lo + (hi - lo) * torch.rand(n, device=dev, generator=generator)
        r = self.kernel // 2
        k = torch.arange(-r, r + 1, device=dev, dtype=torch.float32)
        weights = torch.exp(-(k[None] ** 2) / (2 * sigma[:, None] ** 2))
        if self.normalize:
            weights = weights / weights.sum(1, keepdim=True)
        impulse = (k == 0).float().expand(n, -1)
        weights = torch.where(apply[:, None], weights, impulse)
        return dict(sigma=sigma, weights=weights, apply=apply)

    def apply(self, x: torch.Tensor, params: Params, fmt: SkeletonFormat) -> torch.Tensor:
        """Blur the coordinates along time.

        Args:
            x (torch.Tensor): ``(n, M, T, V, C)``.
            params (dict): ``weights`` ``(n, kernel)``.
            fmt (SkeletonFormat): The batch's format.

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``.

        """
        T, d = x.shape[2], fmt.dim
        weights = params['weights'].to(x.dtype)
        r = weights.shape[1] // 2

        def blur(clips: torch.Tensor, rows) -> torch.Tensor:
            w = weights[rows]
            m, M, _, V, _ = clips.shape
            # one depthwise convolution along time (zero padding r): every (clip, person,
            # joint, axis) series is a channel, with its clip's taps
            series = clips[..., :d].permute(0, 1, 3, 4, 2).reshape(1, m * M * V * d, T)
            taps = w.repeat_interleave(M * V * d, dim=0).unsqueeze(1)
            out = torch.nn.functional.conv1d(series, taps, padding=r, groups=m * M * V * d)
            out = out.view(m, M, V, d, T).permute(0, 1, 4, 2, 3)
            if clips.shape[-1] == d:
                return out.contiguous()
            return torch.cat([out, clips[..., d:]], dim=-1)

        return apply_selected(params['apply'], x, blur)
