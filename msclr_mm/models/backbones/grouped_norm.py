"""Several batches in one tensor: the packing and a BatchNorm with statistics per batch.

:class:`UnifiedSTGCN` can encode several *groups* (the format groups of a view, or the
views that go through the same encoder) in one trunk pass. Groups of different formats sit
side by side on the joint axis (their adjacencies form one block-diagonal graph, so no
joint of one format ever mixes with another's); groups of the same format are stacked on
the batch axis. Convolutions and the graph product act per position, per joint column and
per row, so they cannot tell the difference. BatchNorm can: in training it normalises with
the statistics of its batch. :func:`grouped_batch_norm` takes them per group, so the fused
pass computes what one pass per group computes, running statistics included.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm


class GroupLayout(NamedTuple):
    """Where each group sits in a packed ``(B, C, T, V)`` tensor.

    Every cell ``(row, joint column)`` of the rectangle belongs to exactly one group.

    Attributes:
        rows (tuple[tuple[int, int], ...]): ``(r0, r1)`` row range per group (rows are
            ``n * M``: clips times persons).
        cols (tuple[tuple[int, int], ...]): ``(v0, v1)`` joint range per group.
        num_rows (int): ``B``.
        num_joints (int): ``V``, the sum of the columns' joints.

    """

    rows: Tuple[Tuple[int, int], ...]
    cols: Tuple[Tuple[int, int], ...]
    num_rows: int
    num_joints: int

    @property
    def num_groups(self) -> int:
        """int: Number of groups ``G``."""
        return len(self.rows)


def pack_layout(
    columns: Sequence[Tuple[int, Sequence[Tuple[int, int]]]],
) -> GroupLayout:
    """The layout of groups stacked in joint columns.

    Args:
        columns (Sequence[tuple[int, Sequence[tuple[int, int]]]]): Per column, its joint
            count ``V_j`` and its groups top to bottom as ``(group id, rows)``. Group ids
            run over ``0 .. G - 1`` across all columns. Every column must hold the same
            number of rows.

    Returns:
        GroupLayout: ``rows`` and ``cols`` indexed by group id.

    """
    num_groups = sum(len(groups) for _, groups in columns)
    rows: List[Tuple[int, int] | None] = [None] * num_groups
    cols: List[Tuple[int, int] | None] = [None] * num_groups
    totals = []
    v0 = 0
    for width, groups in columns:
        r0 = 0
        for gid, n in groups:
            rows[gid] = (r0, r0 + n)
            cols[gid] = (v0, v0 + width)
            r0 += n
        totals.append(r0)
        v0 += width
    if len(set(totals)) != 1:
        raise ValueError(f'the columns of a packed batch must have equal rows, got {totals}')
    if any(r is None for r in rows):
        raise ValueError(f'group ids must run over 0..{num_groups - 1} once each')
    return GroupLayout(tuple(rows), tuple(cols), totals[0], v0)


class LayoutTensors(NamedTuple):
    """Device tensors of a :class:`GroupLayout` used by :func:`grouped_batch_norm`.

    Attributes:
        assign (torch.Tensor): ``(G, B * J)`` float, 1 where cell ``(row, column j)``
            belongs to the group.
        cell_group (torch.Tensor): ``(B * J,)`` long, the group of each cell.
        joint_column (torch.Tensor): ``(V,)`` long, the column of each joint.
        counts (torch.Tensor): ``(G,)`` float, rows times joints of each group (times
            ``T`` at use).

    """

    assign: torch.Tensor
    cell_group: torch.Tensor
    joint_column: torch.Tensor
    counts: torch.Tensor


def layout_tensors(layout: GroupLayout, device: torch.device) -> LayoutTensors:
    """Build the :class:`LayoutTensors` of ``layout`` on ``device``."""
    col_starts = sorted({c for c in layout.cols})
    col_index = {c: j for j, c in enumerate(col_starts)}
    num_cols = len(col_starts)
    cell_group = torch.full((layout.num_rows, num_cols), -1, dtype=torch.long)
    joint_column = torch.empty(layout.num_joints, dtype=torch.long)
    for (v0, v1), j in col_index.items():
        joint_column[v0:v1] = j
    for g, ((r0, r1), c) in enumerate(zip(layout.rows, layout.cols)):
        cell_group[r0:r1, col_index[c]] = g
    if (cell_group < 0).any():
        raise ValueError('the groups of a packed batch must cover every (row, column) cell')
    cell_group = cell_group.flatten()
    assign = F.one_hot(cell_group, layout.num_groups).t().float()
    counts = torch.tensor(
        [(r1 - r0) * (v1 - v0) for (r0, r1), (v0, v1) in zip(layout.rows, layout.cols)],
        dtype=torch.float32,
    )
    return LayoutTensors(
        assign.to(device), cell_group.to(device), joint_column.to(device), counts.to(device)
    )


def grouped_batch_norm(
    x: torch.Tensor, bn: _BatchNorm, layout: GroupLayout, tensors: LayoutTensors
) -> torch.Tensor:
    """``bn`` applied to every group of a packed batch as if each were its own batch.

    In training (or without running statistics) each group is normalised with its own
    mean and biased variance over its rows, frames and joints; the running statistics
    are then updated once per group, in group order, exactly as ``G`` separate calls of
    ``bn`` would (``num_batches_tracked`` grows by ``G``). In evaluation every group uses
    the same running statistics, so this is ``bn(x)``. Statistics are accumulated in
    float32 (float64 for float64 input) as ``E[x^2] - E[x]^2`` (the form SyncBatchNorm
    uses).

    Args:
        x (torch.Tensor): ``(B, C, T, V)`` packed batch (any memory format).
        bn (_BatchNorm): The BatchNorm whose parameters and running statistics to use.
        layout (GroupLayout): Where the groups are.
        tensors (LayoutTensors): ``layout_tensors(layout, x.device)``.

    Returns:
        torch.Tensor: ``(B, C, T, V)``, ``x``'s dtype.

    """
    use_batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
    if not use_batch_stats:
        return bn(x)
    B, C, T, V = x.shape
    xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
    # per (row, joint) sums over frames, then per (row, column) and per group
    s1 = xf.sum(dim=2)  # (B, C, V)
    s2 = xf.square().sum(dim=2)
    num_cols = int(tensors.assign.shape[1]) // B
    s = torch.stack([s1, s2])  # (2, B, C, V)
    cell = s.new_zeros(2, B, C, num_cols).index_add_(3, tensors.joint_column, s)
    cell = cell.permute(0, 1, 3, 2).reshape(2, B * num_cols, C)
    sums = tensors.assign.to(cell.dtype) @ cell  # (2, G, C)
    counts = (tensors.counts.to(cell.dtype) * T)[:, None]
    mean = sums[0] / counts
    var = (sums[1] / counts - mean.square()).clamp(min=0)
    rstd = torch.rsqrt(var + bn.eps)
    scale = rstd if bn.weight is None else rstd * bn.weight.to(xf.dtype)
    shift = -mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias.to(xf.dtype)
    # back to every (row, joint): group of the cell, cell of the joint
    per_cell = torch.stack([scale, shift])[:, tensors.cell_group]  # (2, B * J, C)
    per_joint = per_cell.view(2, B, num_cols, C)[:, :, tensors.joint_column]  # (2, B, V, C)
    per_joint = per_joint.permute(0, 1, 3, 2).unsqueeze(3)  # (2, B, C, 1, V)
    y = torch.addcmul(per_joint[1], xf, per_joint[0])
    if bn.training and bn.track_running_stats:
        _update_running_stats(bn, mean.detach(), var.detach(), counts[:, 0])
    return y.to(x.dtype)


@torch.no_grad()
def _update_running_stats(
    bn: _BatchNorm, mean: torch.Tensor, var: torch.Tensor, counts: torch.Tensor
) -> None:
    """``G`` successive running-statistics updates, one per group (rows of ``mean``)."""
    unbiased = var * (counts / (counts - 1).clamp(min=1))[:, None]
    for g in range(mean.shape[0]):
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:  # cumulative moving average
            factor = 1.0 / bn.num_batches_tracked.to(bn.running_mean.dtype)
        else:
            factor = bn.momentum
        bn.running_mean.lerp_(mean[g].to(bn.running_mean.dtype), factor)
        bn.running_var.lerp_(unbiased[g].to(bn.running_var.dtype), factor)


#: Cache key of :func:`layout_tensors` results (per layout and device).
LayoutCache = Dict[Tuple[GroupLayout, str], LayoutTensors]
