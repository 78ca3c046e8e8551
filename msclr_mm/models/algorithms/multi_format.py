"""Running a model per (view, format) group of the batch contract and reassembling rows."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Mapping, Sequence, Tuple

import torch

ViewInputs = Mapping[str, Mapping[str, torch.Tensor]]


def iter_groups(view: ViewInputs, view_name: str = '?') -> Iterator[Tuple[str, torch.Tensor, Any]]:
    """Yield the format groups of one view, checking the contract.

    Args:
        view (Mapping): ``{fmt: {'keypoint': Tensor (n, ...), 'index': LongTensor (n,)}}``.
        view_name (str): Name used in error messages. Defaults to ``'?'``.

    Yields:
        tuple[str, torch.Tensor, torch.Tensor]: ``(fmt, keypoint, index)``.

    """
    if not isinstance(view, Mapping):
        raise TypeError(f"view '{view_name}' must be a dict {{fmt: group}}, got {type(view)}")
    for fmt, group in view.items():
        if not isinstance(group, Mapping) or 'keypoint' not in group or 'index' not in group:
            raise KeyError(
                f"view '{view_name}', format '{fmt}': expected a dict with 'keypoint' and "
                f"'index', got {type(group).__name__}"
                + (f' with keys {sorted(group)}' if isinstance(group, Mapping) else '')
            )
        x, index = group['keypoint'], group['index']
        if index.dim() != 1 or index.shape[0] != x.shape[0]:
            raise ValueError(
                f"view '{view_name}', format '{fmt}': 'index' has shape {tuple(index.shape)}, "
                f"expected ({x.shape[0]},) like the rows of 'keypoint' {tuple(x.shape)}"
            )
        yield fmt, x, index


def group_sizes(view: ViewInputs, view_name: str = '?') -> Dict[str, int]:
    """Rows per format of one view.

    Args:
        view (Mapping): One view of the batch contract.
        view_name (str): Name used in error messages. Defaults to ``'?'``.

    Returns:
        dict[str, int]: ``{fmt: n}``.

    """
    return {fmt: x.shape[0] for fmt, x, _ in iter_groups(view, view_name)}


def scatter_rows(
    parts: Sequence[Tuple[torch.Tensor, torch.Tensor]], num: int, view_name: str = '?'
) -> torch.Tensor:
    """Put per-group rows back in batch order.

    Args:
        parts (Sequence[tuple[Tensor, Tensor]]): ``(index (n,), rows (n, ...))`` per group.
        num (int): Batch size ``N``; the groups must cover it exactly.
        view_name (str): Name used in error messages. Defaults to ``'?'``.

    Returns:
        torch.Tensor: ``(N, ...)`` with ``out[index[i]] = rows[i]`` (differentiable).

    """
    if not parts:
        raise ValueError(f"view '{view_name}' has no format group")
    total = sum(rows.shape[0] for _, rows in parts)
    if total != num:
        raise ValueError(
            f"view '{view_name}' has {total} rows over its format groups, expected the batch "
            f'size {num}: every sample must appear in exactly one group of a training view'
        )
    if len(parts) == 1:
        index, rows = parts[0]
        return rows.new_zeros((num,) + rows.shape[1:]).index_copy(0, index.to(rows.device), rows)
    index = torch.cat([i.to(parts[0][1].device) for i, _ in parts])
    rows = torch.cat([r for _, r in parts])
    return rows.new_zeros((num,) + rows.shape[1:]).index_copy(0, index, rows)


def map_groups(
    view: ViewInputs,
    fn: Callable[[str, torch.Tensor], Any],
    view_name: str = '?',
) -> List[Tuple[str, torch.Tensor, Any]]:
    """Apply ``fn(fmt, keypoint)`` to every format group of a view.

    Args:
        view (Mapping): One view of the batch contract.
        fn (Callable): Called once per group.
        view_name (str): Name used in error messages. Defaults to ``'?'``.

    Returns:
        list[tuple[str, Tensor, Any]]: ``(fmt, index, fn(fmt, keypoint))`` per group.

    """
    return [(fmt, index, fn(fmt, x)) for fmt, x, index in iter_groups(view, view_name)]


def attach_pred_features(
    groups: Iterator[Tuple[str, str, torch.Tensor, torch.Tensor]],
    data_samples: Sequence[Any],
    owner: str,
) -> List[Any]:
    """Set ``pred_feature = {fmt: (C,)}`` on each sample from per-group pooled features.

    Shared by the contrastive algorithms' and ``MultiSkeletonRecognizer``'s feature
    prediction (what ``KNNMetric`` reads).

    Args:
        groups (Iterator[tuple]): ``(view, fmt, index (n,), feat (n, C))`` per group.
        data_samples (Sequence[ActionDataSample]): The ``N`` samples of the batch.
        owner (str): The model's name, for error messages.

    Returns:
        list[ActionDataSample]: The same samples, each with ``pred_feature`` (float32
        tensors, for the formats the clip has).

    Raises:
        ValueError: A row index outside ``0..N-1``, or a clip with one format in two views
            (features are keyed by format); the message names the view, format or sample.

    """
    per_sample: List[Dict[str, torch.Tensor]] = [{} for _ in data_samples]
    for view, fmt, index, feat in groups:
        rows = index.tolist()
        if rows and (min(rows) < 0 or max(rows) >= len(data_samples)):
            raise ValueError(
                f"{owner}: view '{view}', format '{fmt}' has row indices outside "
                f'0..{len(data_samples) - 1}'
            )
        for row, i in enumerate(rows):
            if fmt in per_sample[i]:
                meta = getattr(data_samples[i], 'metainfo', {})
                raise ValueError(
                    f"{owner}: sample {meta.get('frame_dir', f'#{i}')} has format '{fmt}' in "
                    f"two views (the second is '{view}'); expected one view per format "
                    '(AllFormatViews): features are keyed by format'
                )
            per_sample[i][fmt] = feat[row].float()
    for sample, pred in zip(data_samples, per_sample):
        sample.set_field(pred, 'pred_feature')
    return list(data_samples)
