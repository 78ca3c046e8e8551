"""Pack a multi-skeleton sample (batch contract) and collate samples into a batch."""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmaction.structures import ActionDataSample
from mmcv.transforms import BaseTransform
from mmengine.registry import FUNCTIONS
from torch.utils.data import get_worker_info

from ..sample_list import SampleList
from .format_views import BatchFormat


@TRANSFORMS.register_module()
class PackMultiSkeletonInputs(BaseTransform):
    """Pack the gathered views and an ``ActionDataSample`` (the batch contract).

    Required keys: ``views``, ``label``, ``frame_dir``, ``formats``.
    Output: ``{'inputs': {view: {'format': name, 'keypoint': float32 (M, T, V, C) or
    (S, M, T, V, C)}}, 'data_samples': ActionDataSample}`` with ``gt_label`` and metainfo
    ``frame_dir``, ``formats`` and the ``meta_keys`` present in the sample.

    Args:
        meta_keys (Sequence[str]): Extra keys copied into the metainfo when present.
            Defaults to ``('view_formats', 'sample_idx', 'total_frames')``.

    """

    def __init__(
        self, meta_keys: Sequence[str] = ('view_formats', 'sample_idx', 'total_frames')
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict) -> Dict:
        """Pack the sample.

        Args:
            results (dict): The sample.

        Returns:
            dict: ``inputs`` and ``data_samples``.

        """
        sample = ActionDataSample()
        sample.set_gt_label(int(results['label']))
        meta = dict(frame_dir=results['frame_dir'], formats=tuple(results['formats']))
        meta.update({k: results[k] for k in self.meta_keys if k in results})
        sample.set_metainfo(meta)
        return dict(inputs=results['views'], data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'


def balanced_formats(candidates: Sequence[Sequence[str]]) -> List[str]:
    """Pick one format per row so that the formats are as evenly used as possible.

    The batch-level draw of the ``'balanced'`` rule of :class:`SampleFormatViews`: rows are
    visited in a random order (``np.random``, seeded per DataLoader worker) and each takes,
    among its candidates, a format with the fewest rows so far, ties broken towards the
    first format in sorted order. When every row has the same ``F`` candidates, each
    format gets ``N // F`` rows and the first ``N % F`` formats (sorted) one more: the
    same group sizes in every batch. Rows with fewer candidates (clips missing a format)
    are served first.

    Args:
        candidates (Sequence[Sequence[str]]): The candidate formats of each row.

    Returns:
        list[str]: The chosen format of each row, in row order.

    """
    counts: Dict[str, int] = {f: 0 for c in candidates for f in c}
    order = np.random.permutation(len(candidates))
    order = sorted(order, key=lambda i: len(candidates[i]))  # stable: random within a size
    chosen: List[str] = [''] * len(candidates)
    for i in order:
        if not candidates[i]:
            raise ValueError(f'row {i} of the batch has no candidate format')
        best = min(sorted(candidates[i]), key=lambda f: counts[f])
        counts[best] += 1
        chosen[i] = best
    return chosen


def _clip_name(data_batch: Sequence[Dict], i: int) -> str:
    """The ``frame_dir`` of row ``i`` of a batch (``row i`` without one), for messages."""
    return getattr(data_batch[i]['data_samples'], 'metainfo', {}).get('frame_dir', f'row {i}')


def batch_format(view: str, candidates: Sequence[Sequence[str]], data_batch, rows) -> str:
    """The one format of a view for the whole batch (rule ``'batch'``).

    Uniform (``np.random``, seeded per DataLoader worker) over the formats that every row
    has.

    Args:
        view (str): The view (for the error message).
        candidates (Sequence[Sequence[str]]): The candidate formats of each row.
        data_batch (Sequence[dict]): The batch (for the error message).
        rows (Sequence[int]): The rows' positions in the batch.

    Returns:
        str: The format.

    """
    common = sorted(set.intersection(*(set(c) for c in candidates)))
    if not common:
        names = [_clip_name(data_batch, i) for i in rows]
        listed = ', '.join(f'{n}: {list(c)}' for n, c in list(zip(names, candidates))[:8])
        raise ValueError(
            f"multi_skeleton_collate: view {view!r} (format rule 'batch'): no format is "
            f"shared by every clip of the batch ({listed}); use rule 'balanced' for data "
            'whose clips miss formats'
        )
    return common[np.random.randint(len(common))]


def _check_shapes(view: str, fmt: str, rows: List, data_batch: Sequence[Dict]) -> None:
    """Raise a ValueError naming the clips when one group's keypoint shapes differ."""
    shapes = {np.shape(kp) for _, kp in rows}
    if len(shapes) == 1:
        return
    names = [_clip_name(data_batch, i) for i, _ in rows]
    clips = ', '.join(f'{name}: {np.shape(kp)}' for name, (_, kp) in zip(names[:8], rows))
    more = f', and {len(rows) - 8} more' if len(rows) > 8 else ''
    raise ValueError(
        f'multi_skeleton_collate: view {view!r}, format {fmt!r}: the keypoint arrays of a '
        f'batch must share one shape (M, T, V, C), got {len(shapes)} shapes ({clips}{more}); '
        'set a fixed clip_len in SampleSkeletonFrames'
    )


_ALIGN = 64  # bytes: every tensor of a batch buffer starts on a cache line


def batch_buffer(nbytes: int) -> torch.Tensor:
    """A flat buffer for a whole batch, in shared memory inside a DataLoader worker.

    Shared memory is where a worker's tensors are moved anyway when the batch is pickled
    for the training process (``torch.utils.data.default_collate`` allocates its output
    there directly, in the same way); in the training process itself (no worker) the
    buffer is ordinary memory.

    Args:
        nbytes (int): The buffer's size in bytes.

    Returns:
        torch.Tensor: uint8, shape ``(nbytes,)``, uninitialised.

    """
    if get_worker_info() is None:
        return torch.empty(nbytes, dtype=torch.uint8)
    new_shared = getattr(torch.UntypedStorage, '_new_shared', None)  # private in torch 2.x
    if new_shared is None:
        return torch.empty(nbytes, dtype=torch.uint8).share_memory_()  # one extra copy
    return torch.empty(0, dtype=torch.uint8).set_(new_shared(nbytes))


def _stack_groups(groups: Dict[str, Dict[str, List]]) -> Dict:
    """Stack each (view, format) group's rows into views of one :func:`batch_buffer`."""
    layout = []  # (view, fmt, rows, keypoint dtype, shape, keypoint offset, index offset)
    nbytes = 0
    for view, by_fmt in groups.items():
        for fmt, rows in by_fmt.items():
            first = np.asarray(rows[0][1])
            shape = (len(rows),) + first.shape
            kp_at = nbytes
            nbytes += -(-int(np.prod(shape)) * first.dtype.itemsize // _ALIGN) * _ALIGN
            index_at = nbytes
            nbytes += -(-len(rows) * 8 // _ALIGN) * _ALIGN
            layout.append((view, fmt, rows, first.dtype, shape, kp_at, index_at))
    buffer = batch_buffer(nbytes)
    inputs: Dict[str, Dict] = {}
    for view, fmt, rows, dtype, shape, kp_at, index_at in layout:
        dtype = torch.from_numpy(np.empty(0, dtype)).dtype
        size = int(np.prod(shape)) * dtype.itemsize
        keypoint = buffer[kp_at : kp_at + size].view(dtype).view(shape)
        np.stack([kp for _, kp in rows], out=keypoint.numpy())
        index = buffer[index_at : index_at + len(rows) * 8].view(torch.long)
        index.numpy()[:] = [i for i, _ in rows]
        inputs.setdefault(view, {})[fmt] = dict(keypoint=keypoint, index=index)
    return inputs


@FUNCTIONS.register_module()
def multi_skeleton_collate(
    data_batch: Sequence[Dict], compact_samples: bool = True, one_buffer: bool = True
) -> Dict:
    """Collate packed samples, grouping each view by format (formats are never stacked).

    Args:
        data_batch (Sequence[dict]): ``N`` outputs of :class:`PackMultiSkeletonInputs`.
        compact_samples (bool): Return the data samples as a
            :class:`~msclr_mm.datasets.SampleList`, which crosses the DataLoader's process
            boundary as one label array and the metainfo dicts (about 0.1 ms to unpickle
            128 samples instead of 10-12 ms for a list of ``ActionDataSample`` s; see
            ``tools/analysis/bench_loader.py``). False: a plain list. Set it in a config
            as ``collate_fn=dict(type='multi_skeleton_collate', compact_samples=False)``.
            Defaults to True.
        one_buffer (bool): Write every tensor of the batch (each group's ``keypoint``
            and ``index``) into one buffer and return views of it; inside a DataLoader
            worker the buffer is allocated in shared memory. The batch then crosses to
            the training process as one shared-memory segment (one file descriptor
            passed, instead of one per tensor: 8 for a two-format, two-view batch), and
            the worker's copy of each tensor into shared memory when pickling is skipped.
            The tensors are ordinary (views), only ``untyped_storage()`` is shared. False:
            one tensor per array, as ``torch.stack`` would. Defaults to True.

    A view whose ``format`` is a tuple of candidates (rule ``'balanced'``) gets its
    formats drawn here, per batch, by :func:`balanced_formats`; one whose ``format`` is a
    :class:`~msclr_mm.datasets.transforms.BatchFormat` (rule ``'batch'``) gets one format
    for all its rows, by :func:`batch_format`.

    Returns:
        dict: ``inputs``: ``{view: {format: {'keypoint': float32 Tensor (n, M, T, V, C) or
        (n, S, M, T, V, C), 'index': LongTensor (n,)}}}``, ``index`` holding each row's
        position in the batch (ascending); ``data_samples``: the ``N`` samples in batch
        order (a :class:`~msclr_mm.datasets.SampleList` or a list).

    """
    groups: Dict[str, Dict[str, List]] = defaultdict(lambda: defaultdict(list))
    undecided: Dict[str, List[int]] = defaultdict(list)
    for i, sample in enumerate(data_batch):
        for view, item in sample['inputs'].items():
            if isinstance(item['format'], str):
                groups[view][item['format']].append((i, item['keypoint']))
            else:
                undecided[view].append(i)
    for view, rows in undecided.items():
        kinds = {i: data_batch[i]['inputs'][view]['format'] for i in rows}
        per_batch = [i for i in rows if isinstance(kinds[i], BatchFormat)]
        spread = [i for i in rows if not isinstance(kinds[i], BatchFormat)]
        chosen = {}
        if per_batch:
            fmt = batch_format(view, [kinds[i] for i in per_batch], data_batch, per_batch)
            chosen.update((i, fmt) for i in per_batch)
        if spread:
            chosen.update(zip(spread, balanced_formats([tuple(kinds[i]) for i in spread])))
        for i in rows:
            fmt = chosen[i]
            groups[view][fmt].append((i, data_batch[i]['inputs'][view]['keypoint'][fmt]))
    for view in groups:
        for fmt in groups[view]:
            groups[view][fmt].sort(key=lambda row: row[0])
    for view, by_fmt in groups.items():
        for fmt, rows in by_fmt.items():
            _check_shapes(view, fmt, rows, data_batch)
    inputs = _stack_groups(groups) if one_buffer else {
        view: {
            fmt: dict(
                keypoint=torch.from_numpy(np.stack([kp for _, kp in rows])),
                index=torch.tensor([i for i, _ in rows], dtype=torch.long),
            )
            for fmt, rows in by_fmt.items()
        }
        for view, by_fmt in groups.items()
    }  # fmt: skip
    samples = [s['data_samples'] for s in data_batch]
    return dict(inputs=inputs, data_samples=SampleList(samples) if compact_samples else samples)
