"""Input streams: joint, bone and motion, with each format's own bones.

The streams act on the coordinate channels ``x[..., :fmt.dim]``; other channels (a 2D
format's keypoint score) pass through unchanged, so a bone or motion of a 2D clip keeps the
score of its (child) joint. Every function accepts any leading dimensions:
``(..., T, V, C)``, e.g. ``(n, M, T, V, C)`` or ``(n, S, M, T, V, C)``.

Conventions of the reference code (AimCLR ``pretrain_aimclr.py``), with the format's bones:

* bone: ``b[v] = x[v] - x[parent(v)]`` for each ``(child, parent)`` of
  ``fmt.bone_pairs()``; the centre's bone ``(center, center)`` is zero.
* motion: ``m[t] = x[t + 1] - x[t]``; the last frame is zero.
* bone_motion: the motion of the bone stream.
"""

from __future__ import annotations

from typing import Callable, Dict

import torch

from msclr_mm.skeletons import SkeletonFormat

from .base import format_index


def _with_extra_channels(out: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    if x.shape[-1] == dim:
        return out
    return torch.cat([out, x[..., dim:]], dim=-1)


def joint_stream(x: torch.Tensor, fmt: SkeletonFormat) -> torch.Tensor:
    """The joint stream: the coordinates themselves.

    Args:
        x (torch.Tensor): ``(..., T, V, C)``.
        fmt (SkeletonFormat): Its format.

    Returns:
        torch.Tensor: ``x`` unchanged.

    """
    return x


def bone_stream(x: torch.Tensor, fmt: SkeletonFormat) -> torch.Tensor:
    """The bone stream: each joint minus its parent in the format's bone tree.

    Args:
        x (torch.Tensor): ``(..., T, V, C)``.
        fmt (SkeletonFormat): Its format (``bone_pairs()`` gives the parents).

    Returns:
        torch.Tensor: ``(..., T, V, C)``.

    """
    d = fmt.dim
    parent = format_index(fmt, 'parent', x.device)
    coords = x[..., :d]
    out = coords - coords.index_select(-2, parent)
    return _with_extra_channels(out, x, d)


def motion_stream(x: torch.Tensor, fmt: SkeletonFormat) -> torch.Tensor:
    """The motion stream: frame-to-frame differences, the last frame zero.

    Args:
        x (torch.Tensor): ``(..., T, V, C)``.
        fmt (SkeletonFormat): Its format.

    Returns:
        torch.Tensor: ``(..., T, V, C)``.

    """
    d = fmt.dim
    coords = x[..., :d]
    diff = coords[..., 1:, :, :] - coords[..., :-1, :, :]
    out = torch.cat([diff, torch.zeros_like(coords[..., :1, :, :])], dim=-3)
    return _with_extra_channels(out, x, d)


def bone_motion_stream(x: torch.Tensor, fmt: SkeletonFormat) -> torch.Tensor:
    """The motion of the bone stream.

    Args:
        x (torch.Tensor): ``(..., T, V, C)``.
        fmt (SkeletonFormat): Its format.

    Returns:
        torch.Tensor: ``(..., T, V, C)``.

    """
    return motion_stream(bone_stream(x, fmt), fmt)


STREAMS: Dict[str, Callable[[torch.Tensor, SkeletonFormat], torch.Tensor]] = {
    'joint': joint_stream,
    'bone': bone_stream,
    'motion': motion_stream,
    'bone_motion': bone_motion_stream,
}


def convert_stream(x: torch.Tensor, fmt: SkeletonFormat, stream: str) -> torch.Tensor:
    """Convert a joint-coordinate batch to a stream.

    Args:
        x (torch.Tensor): ``(..., T, V, C)``.
        fmt (SkeletonFormat): Its format.
        stream (str): One of ``'joint'``, ``'bone'``, ``'motion'``, ``'bone_motion'``.

    Returns:
        torch.Tensor: ``(..., T, V, C)``.

    """
    if stream not in STREAMS:
        raise KeyError(f'unknown stream {stream!r}; expected one of {sorted(STREAMS)}')
    return STREAMS[stream](x, fmt)
