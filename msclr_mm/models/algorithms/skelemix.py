"""SkeleMix: body-part and time-span mixing of skeleton clips, and mask pooling."""

from __future__ import annotations

import functools
from typing import Mapping, Sequence, Tuple

import torch


def skelemix_mask(
    parts: Mapping[str, Sequence[int]],
    num_joints: int,
    feat_frames: int,
    num_parts: Tuple[int, int] = (2, 3),
    span: Tuple[int, int] = (7, 11),
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Draw the region that is pasted from the partner clip, at feature resolution.

    ``k`` body parts (``k`` uniform in ``num_parts``, inclusive, clipped to the format's
    part count; the parts a uniformly random subset of that size) and a contiguous span of
    ``t`` feature frames (``t`` uniform in ``span``, inclusive, clipped to ``feat_frames``)
    starting at a uniform position in ``[0, feat_frames - t]``. Everything is drawn and
    built on ``device``: no number is read on the host and no host tensor is copied, so a
    step that calls this can be captured as a CUDA graph and replayed with fresh draws
    (``cuda_graph_step``), and a GPU step never waits for the host.

    Args:
        parts (Mapping[str, Sequence[int]]): The format's body parts (joint indices).
        num_joints (int): ``V``.
        feat_frames (int): ``T'``, the frames of the backbone's output.
        num_parts (tuple[int, int]): Range of mixed parts. Defaults to ``(2, 3)``.
        span (tuple[int, int]): Range of mixed feature frames. Defaults to ``(7, 11)``
            (SkeleMixCLR with 64 input frames, ``T' = 16``).
        generator (torch.Generator, optional): A generator on ``device``. Defaults to None
            (the device's default generator).
        device (torch.device | str, optional): Where the mask is drawn and built. Defaults
            to None (the CPU).

    Returns:
        torch.Tensor: Bool mask ``(T', V)`` on ``device``, True where the partner is pasted.

    """
    device = torch.device(device or 'cpu')
    table = part_table(tuple(tuple(parts[n]) for n in parts), num_joints, device)
    num = table.shape[0]
    lo, hi = min(num_parts[0], num), min(num_parts[1], num)
    k = torch.randint(lo, hi + 1, (1,), device=device, generator=generator)
    # the ranks of a random permutation: the parts ranked below k are a uniform k-subset
    ranks = torch.rand(num, device=device, generator=generator).argsort().argsort()
    joints = (table & (ranks < k)[:, None]).any(dim=0)
    t_lo, t_hi = max(1, min(span[0], feat_frames)), max(1, min(span[1], feat_frames))
    t = torch.randint(t_lo, t_hi + 1, (1,), device=device, generator=generator)
    u = torch.rand(1, device=device, generator=generator)
    t0 = (u * (feat_frames - t + 1)).floor().long().clamp_(max=feat_frames - t)
    frames = torch.arange(feat_frames, device=device)
    return ((frames >= t0) & (frames < t0 + t))[:, None] & joints[None, :]


@functools.lru_cache(maxsize=64)
def part_table(
    parts: Tuple[Tuple[int, ...], ...], num_joints: int, device: torch.device
) -> torch.Tensor:
    """``(P, V)`` bool: row ``p`` marks the joints of body part ``p``; built once per device.

    Args:
        parts (tuple[tuple[int, ...], ...]): Joint indices of each part.
        num_joints (int): ``V``.
        device (torch.device): Where the table lives.

    Returns:
        torch.Tensor: The table (shared: do not modify it).

    """
    table = torch.zeros(len(parts), num_joints, dtype=torch.bool)
    for p, joints in enumerate(parts):
        table[p, list(joints)] = True
    return table.to(device)


def upsample_mask(mask: torch.Tensor, frames: int, stride: int) -> torch.Tensor:
    """Input-resolution mask: input frame ``t`` belongs to feature frame ``t // stride``.

    Args:
        mask (torch.Tensor): ``(T', V)`` with ``T' = ceil(frames / stride)``.
        frames (int): Input frames ``T``.
        stride (int): Total temporal stride of the backbone.

    Returns:
        torch.Tensor: ``(T, V)``, same dtype and device.

    """
    expected = -(-frames // stride)
    if mask.shape[0] != expected:
        raise ValueError(
            f'mask has {mask.shape[0]} frames, expected ceil({frames} / {stride}) = {expected}'
        )
    return mask[torch.arange(frames, device=mask.device) // stride]


def skelemix(x: torch.Tensor, mask: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """Paste ``x[partner]`` into ``x`` where ``mask`` is True (all persons and channels).

    Args:
        x (torch.Tensor): Skeletons ``(n, M, T, V, C)`` of one format.
        mask (torch.Tensor): Bool ``(T, V)``.
        partner (torch.Tensor): ``(n,)`` row of the clip pasted into each row.

    Returns:
        torch.Tensor: Mixed skeletons ``(n, M, T, V, C)``.

    """
    m = mask.to(x.device)[None, None, :, :, None]
    return torch.where(m, x[partner.to(x.device)], x)


def mask_pool(feat: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Spatio-temporal mask pooling: average inside and outside the mask, then over persons.

    Args:
        feat (torch.Tensor): Backbone features ``(n, M, C, T', V)``.
        mask (torch.Tensor): Bool ``(T', V)``, True on the pasted region.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``(inside, outside)`` features ``(n, C)``: the
        pasted (trimmed) region and the clip's own (truncated) remainder.

    """
    if feat.shape[-2:] != mask.shape:
        raise ValueError(
            f"mask {tuple(mask.shape)} does not match the features (T', V) = "
            f'{tuple(feat.shape[-2:])}'
        )
    m = mask.to(device=feat.device, dtype=feat.dtype)
    # an empty region pools to zeros instead of 0 / 0
    inside = (feat * m).sum(dim=(-2, -1)) / m.sum().clamp(min=1)
    outside = (feat * (1 - m)).sum(dim=(-2, -1)) / (1 - m).sum().clamp(min=1)
    return inside.mean(dim=1), outside.mean(dim=1)
