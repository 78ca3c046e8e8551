"""The interface of one batched skeleton augmentation, and the lookup of ops by name.

Every op works on a batch of clips of ONE skeleton format, channels last:
``x`` of shape ``(n, M, T, V, C)``. The first ``fmt.dim`` channels are coordinates
(x, y, z for 3D; x, y for 2D); the remaining channels (the keypoint score of a 2D format)
are never changed by a geometric op.

An op is split into two steps so that tests (and users) can reproduce it:

* :meth:`SkeletonAugment.sample_params` draws every random number the op needs, for all
  ``n`` clips at once, from a ``torch.Generator`` on the batch's device, and returns them
  as a dict of tensors (always including ``apply``, the ``(n,)`` bool mask of the clips the
  op is applied to, drawn with probability ``p``);
* :meth:`SkeletonAugment.apply` is deterministic given those parameters.

Ops are built from config dicts such as ``dict(type='shear', amplitude=0.5)`` by
:func:`build_augment`; the names are those of :data:`AUGMENTS` (see
:func:`register_augment`).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Dict, Iterator, Mapping, Type, Union

import torch

from msclr_mm.skeletons import SkeletonFormat

Params = Dict[str, torch.Tensor]

AUGMENTS: Dict[str, Type[SkeletonAugment]] = {}


def register_augment(name: str) -> Callable[[type], type]:
    """Class decorator: make an op buildable as ``dict(type=name, ...)``.

    Args:
        name (str): The ``type`` used in configs, e.g. ``'shear'``.

    Returns:
        Callable: The decorator, returning the class unchanged.

    """

    def decorator(cls: type) -> type:
        if name in AUGMENTS and AUGMENTS[name] is not cls:
            raise KeyError(f'a skeleton augmentation named {name!r} is already registered')
        AUGMENTS[name] = cls
        cls.type_name = name
        return cls

    return decorator


def build_augment(cfg: Union[Mapping[str, Any], SkeletonAugment]) -> SkeletonAugment:
    """Build an op from its config dict (or return an op unchanged).

    Args:
        cfg (dict | SkeletonAugment): ``dict(type=name, **kwargs)`` with ``name`` one of
            :data:`AUGMENTS`, or an already built op.

    Returns:
        SkeletonAugment: The op.

    """
    if isinstance(cfg, SkeletonAugment):
        return cfg
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise TypeError(f"an augmentation is a dict with a 'type' key, got {cfg!r}")
    kwargs = dict(cfg)
    name = kwargs.pop('type')
    if name not in AUGMENTS:
        raise KeyError(
            f'unknown skeleton augmentation {name!r}; known augmentations: {sorted(AUGMENTS)}'
        )
    try:
        return AUGMENTS[name](**kwargs)
    except TypeError as exc:
        raise TypeError(f'augmentation {name!r}: {exc}') from exc


class SkeletonAugment:
    """Base class of the batched augmentations.

    Args:
        p (float): Probability that the op is applied to a clip (drawn per clip).
            Defaults to 1.0.

    """

    type_name = 'augment'

    def __init__(self, p: float = 1.0) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f'{type(self).__name__}: p = {p} must be in [0, 1]')
        self.p = float(p)

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items())
        return f'{type(self).__name__}({args})'

    def sample_apply(self, n: int, device: torch.device, generator: torch.Generator | None):
        """Draw the per-clip mask of the clips the op is applied to.

        Args:
            n (int): Number of clips.
            device (torch.device): Device of the batch.
            generator (torch.Generator, optional): Source of randomness on ``device``.

        Returns:
            torch.Tensor: bool ``(n,)``; all True when ``p == 1`` (no number is drawn).

        """
        if self.p >= 1.0:
            return torch.ones(n, dtype=torch.bool, device=device)
        return torch.rand(n, device=device, generator=generator) < self.p

    def sample_params(
        self, x: torch.Tensor, fmt: SkeletonFormat, generator: torch.Generator | None = None
    ) -> Params:
        """Draw the op's random parameters for a batch.

        Args:
            x (torch.Tensor): The batch ``(n, M, T, V, C)``; only its shape and device are
                used.
            fmt (SkeletonFormat): The batch's skeleton format.
            generator (torch.Generator, optional): Source of randomness on ``x.device``.
                Defaults to None (torch's global generator).

        Returns:
            dict[str, torch.Tensor]: At least ``apply`` (bool ``(n,)``).

        """
        return dict(apply=self.sample_apply(x.shape[0], x.device, generator))

    def apply(self, x: torch.Tensor, params: Params, fmt: SkeletonFormat) -> torch.Tensor:
        """Apply the op with given parameters.

        Args:
            x (torch.Tensor): float ``(n, M, T, V, C)``.
            params (dict[str, torch.Tensor]): As returned by :meth:`sample_params`.
            fmt (SkeletonFormat): The batch's skeleton format.

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``, a new tensor.

        """
        raise NotImplementedError

    def __call__(
        self, x: torch.Tensor, fmt: SkeletonFormat, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Sample parameters and apply the op.

        Args:
            x (torch.Tensor): float ``(n, M, T, V, C)``.
            fmt (SkeletonFormat): The batch's skeleton format.
            generator (torch.Generator, optional): Source of randomness on ``x.device``.
                Defaults to None (torch's global generator).

        Returns:
            torch.Tensor: ``(n, M, T, V, C)``.

        """
        return self.apply(x, self.sample_params(x, fmt, generator), fmt)


def where_applied(apply: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Per clip, ``new`` where ``apply`` is True, else ``old``.

    Args:
        apply (torch.Tensor): bool ``(n,)``.
        new (torch.Tensor): ``(n, ...)``.
        old (torch.Tensor): ``(n, ...)``, same shape as ``new``.

    Returns:
        torch.Tensor: ``(n, ...)``.

    """
    return torch.where(apply.view(-1, *([1] * (new.dim() - 1))), new, old)


_shortcut_state = threading.local()


@contextlib.contextmanager
def without_host_shortcuts() -> Iterator[None]:
    """Within the block, every op takes its accelerator path, whatever the device.

    On a CPU the ops take shortcuts that look at values on the host (compute only the
    selected clips, skip an interpolation whose weights are all zero). On a GPU each such
    look is a device-to-host synchronisation, so there they compute everything and pick
    with masks. This context lets a CPU run, check and count exactly what a GPU step runs
    (``tools/analysis/count_ops.py --accelerator-paths``, the no-sync tests). Thread-local.
    """
    previous = getattr(_shortcut_state, 'off', False)
    _shortcut_state.off = True
    try:
        yield
    finally:
        _shortcut_state.off = previous


def host_shortcuts(x: torch.Tensor) -> bool:
    """Whether an op may decide on the host from ``x``'s values.

    Args:
        x (torch.Tensor): The batch.

    Returns:
        bool: True for a CPU tensor outside :func:`without_host_shortcuts`.

    """
    return x.device.type == 'cpu' and not getattr(_shortcut_state, 'off', False)


def apply_selected(
    apply: torch.Tensor,
    x: torch.Tensor,
    fn: Callable[[torch.Tensor, Union[torch.Tensor, slice]], torch.Tensor],
    select: bool | None = None,
) -> torch.Tensor:
    """Per clip, ``fn`` where ``apply`` is True, else the clip unchanged.

    On the CPU only the selected clips are computed (half the work for ``p = 0.5``); on an
    accelerator ``fn`` runs on every clip and :func:`where_applied` picks, which avoids a
    device-to-host synchronisation. Both give the same values.

    Args:
        apply (torch.Tensor): bool ``(n,)``.
        x (torch.Tensor): ``(n, ...)``.
        fn (Callable): ``fn(x_rows, rows)`` returns the transformed ``x_rows``; ``rows``
            (an index tensor or ``slice(None)``) selects the matching per-clip parameters.
        select (bool, optional): Compute only the selected clips (True) or all clips and
            pick (False). Defaults to None: :func:`host_shortcuts` (True on the CPU).

    Returns:
        torch.Tensor: ``(n, ...)``.

    """
    if select is None:
        select = host_shortcuts(x)
    if not select:
        return where_applied(apply, fn(x, slice(None)), x)
    rows = apply.nonzero().squeeze(1)
    if rows.numel() == x.shape[0]:
        return fn(x, slice(None))
    out = x.clone()
    if rows.numel():
        out[rows] = fn(x[rows], rows)
    return out


@functools.lru_cache(maxsize=256)
def format_index(fmt: SkeletonFormat, what: str, device: torch.device) -> torch.Tensor:
    """A joint index of the format as a LongTensor on ``device``, built once and cached.

    Args:
        fmt (SkeletonFormat): The format.
        what (str): ``'flip'`` (the left/right permutation, ``(V,)``) or ``'parent'`` (the
            parent of each joint in the bone tree, ``(V,)``, from ``fmt.bone_pairs()``).
        device (torch.device): Target device.

    Returns:
        torch.Tensor: int64 ``(V,)``.

    """
    if what == 'flip':
        index = fmt.flip
    elif what == 'parent':
        pairs = fmt.bone_pairs()
        index = [p for _, p in pairs]
        if [c for c, _ in pairs] != list(range(fmt.num_joints)):
            raise ValueError(
                f"format '{fmt.name}': bone_pairs() must list one bone per joint in joint "
                f'order, got children {[c for c, _ in pairs]}'
            )
    else:
        raise KeyError(f'unknown format index {what!r}')
    return torch.as_tensor(index, dtype=torch.long, device=device)


def check_clip_batch(x: torch.Tensor, fmt: SkeletonFormat, where: str = '') -> None:
    """Check that ``x`` is a ``(n, M, T, V, C)`` batch of ``fmt``.

    Args:
        x (torch.Tensor): The batch.
        fmt (SkeletonFormat): Its format.
        where (str): Prefix of the error message, naming the view and the samples.
            Defaults to ''.

    """
    prefix = f'{where}: ' if where else ''
    if x.dim() != 5:
        raise ValueError(
            f"{prefix}format '{fmt.name}': keypoint has shape {tuple(x.shape)}, expected "
            '(n, M, T, V, C)'
        )
    if x.shape[-2] != fmt.num_joints or x.shape[-1] < fmt.dim:
        raise ValueError(
            f"{prefix}format '{fmt.name}': keypoint has shape {tuple(x.shape)}, expected "
            f'V = {fmt.num_joints} joints and C >= {fmt.dim} channels '
            f'(format channels: {fmt.in_channels})'
        )
