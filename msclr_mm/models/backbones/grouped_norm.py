"""Several batches in one tensor: the packing and a BatchNorm with statistics per batch.

:class:`UnifiedSTGCN` can encode several *groups* (the format groups of a view, or the
views that go through the same encoder) in one trunk pass. Groups of different formats sit
side by side on the joint axis (their adjacencies form one block-diagonal graph, so no
joint of one format ever mixes with another's); groups of the same format are stacked on
the batch axis. Convolutions and the graph product act per position, per joint column and
per row, so they cannot tell the difference. BatchNorm can: in training it normalises with
the statistics of its batch. :func:`grouped_batch_norm` takes them per group, so the fused
pass computes what one pass per group computes, running statistics included.

Groups of one format and one view stack rows (``n * M``); columns are formats. Every
``(row, column)`` cell belongs to exactly one group.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Sequence, Tuple

import torch
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


def grouped_batch_norm(x: torch.Tensor, bn: _BatchNorm, layout: GroupLayout) -> torch.Tensor:
    """``bn`` applied to every group of a packed batch as if each were its own batch.

    In training (or without running statistics) ``bn`` runs once per group on the group's
    block of ``x`` (a view made by ``split``), in group order, and the normalised blocks
    are put back together: the features, gradients and running statistics
    (``num_batches_tracked`` grows by ``G``) are those of ``G`` separate calls, with ``G``
    BatchNorm kernels and a few concatenations instead of the ~40 operators of
    hand-written grouped statistics. In evaluation every group uses the same running
    statistics, so this is ``bn(x)``.

    Args:
        x (torch.Tensor): ``(B, C, T, V)`` packed batch (any memory format).
        bn (_BatchNorm): The BatchNorm whose parameters and running statistics to use.
        layout (GroupLayout): Where the groups are.

    Returns:
        torch.Tensor: ``(B, C, T, V)``.

    """
    use_batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
    if not use_batch_stats:
        return bn(x)
    # blocks as views made by ``split`` (whose backward is one ``cat``; a slice's backward
    # would scatter each group's gradient into a zero tensor of the whole batch)
    columns: Dict[Tuple[int, int], List[int]] = {}
    for g, col in enumerate(layout.cols):
        columns.setdefault(col, []).append(g)
    order = sorted(columns)
    col_views = torch.split(x, [v1 - v0 for v0, v1 in order], dim=3)
    blocks: Dict[int, torch.Tensor] = {}
    for col, view in zip(order, col_views):
        groups = sorted(columns[col], key=lambda g: layout.rows[g][0])
        sizes = [layout.rows[g][1] - layout.rows[g][0] for g in groups]
        blocks.update(zip(groups, torch.split(view, sizes, dim=0)))
    normed = {g: bn(blocks[g]) for g in range(layout.num_groups)}  # in group order
    parts = []
    for col in order:
        groups = sorted(columns[col], key=lambda g: layout.rows[g][0])
        parts.append(
            torch.cat([normed[g] for g in groups]) if len(groups) > 1 else normed[groups[0]]
        )
    return torch.cat(parts, dim=3) if len(parts) > 1 else parts[0]
