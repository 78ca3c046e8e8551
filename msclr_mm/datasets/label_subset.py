"""`LabelSubsetDataset`: a class-balanced, seeded fraction of a dataset's distinct clips."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any, Dict, List, Tuple, Union

import numpy as np
from mmaction.registry import DATASETS
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.logging import print_log


def subset_counts(
    class_sizes: Dict[int, int], fraction: float, min_per_class: int
) -> Dict[int, int]:
    """Clips kept per class: ``max(min_per_class, round(fraction * n))``, at most ``n``.

    ``round`` rounds halves up (``0.5 -> 1``), unlike Python's banker's rounding.

    Args:
        class_sizes (dict[int, int]): Class -> number of clips.
        fraction (float): Fraction of each class to keep, in ``(0, 1]``.
        min_per_class (int): Lower bound per class.

    Returns:
        dict[int, int]: Class -> number of clips to keep.

    """
    return {
        c: min(n, max(min_per_class, int(math.floor(fraction * n + 0.5))))
        for c, n in class_sizes.items()
    }


def select_label_subset(
    labels: Sequence[int], fraction: float, seed: int = 0, min_per_class: int = 1
) -> np.ndarray:
    """Indices of a class-balanced random subset of ``labels``.

    Classes are visited in increasing order and each draws its clips with one
    ``numpy.random.default_rng(seed)`` generator, so the result depends only on the labels,
    ``fraction``, ``seed`` and ``min_per_class`` (not on the process, the hash seed or the
    order of a dict).

    Args:
        labels (Sequence[int]): Class index of every clip, ``(N,)``.
        fraction (float): Fraction of each class to keep, in ``(0, 1]``.
        seed (int): Random seed. Defaults to 0.
        min_per_class (int): Clips kept at least per class (fewer only if the class has
            fewer). Defaults to 1.

    Returns:
        np.ndarray: Sorted int64 indices into ``labels``.

    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}')
    if min_per_class < 0:
        raise ValueError(f'min_per_class must be >= 0, got {min_per_class}')
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    classes, sizes = np.unique(labels, return_counts=True)
    counts = subset_counts(
        {int(c): int(n) for c, n in zip(classes, sizes)}, fraction, min_per_class
    )
    chosen: List[np.ndarray] = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        chosen.append(rng.permutation(members)[: counts[int(c)]])
    if not chosen:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(chosen))


@DATASETS.register_module()
class LabelSubsetDataset:
    """Wrap a dataset and keep a class-balanced, seeded fraction of its distinct clips.

    For semi-supervised evaluation (1 % / 10 % of the labels): class ``c`` with ``n_c``
    distinct clips keeps ``max(min_per_class, round(fraction * n_c))`` of them (at most
    ``n_c``), drawn with ``seed``; no clip is drawn twice. Every process computes the same
    subset. Metainfo is the wrapped dataset's; the counts are logged.

    A wrapped dataset may hold a clip at several indices (entries), e.g.
    :class:`MultiSkeletonDataset` with ``repeat_per_format=True`` in training holds each
    clip once per format. The fraction is always of the distinct clips, and every entry of
    a kept clip is kept, so the subset visits each kept clip as often per epoch as the
    wrapped dataset does (once per format in that example, each with its ``epoch_format``).

    Clips and labels come from, in this order of preference:

    - ``get_clip_labels()`` (``(C,)``, one label per clip) with ``get_entry_clips()``
      (``(len(dataset),)``, the clip of every index), as :class:`MultiSkeletonDataset` has;
    - ``get_labels()`` (one label per index; each index is its own clip);
    - ``get_data_info(i)['label']``, entries with the same ``get_data_info(i)['frame_dir']``
      being one clip (they must have the same label).

    Args:
        dataset (dict | BaseDataset): The dataset (or its config) to subsample.
        fraction (float): Fraction of each class's clips to keep, in ``(0, 1]``, e.g. 0.01
            or 0.1.
        seed (int): Random seed of the selection. Defaults to 0.
        min_per_class (int): Clips kept at least per class. Defaults to 1.
        lazy_init (bool): Defer loading the wrapped dataset's annotations and selecting
            until :meth:`full_init`. Defaults to False.

    Attributes:
        indices (np.ndarray): ``(len(self),)`` sorted int64 indices into the wrapped
            dataset (every entry of every kept clip).
        clip_indices (np.ndarray): ``(K,)`` sorted int64 indices of the kept clips, in the
            wrapped dataset's clip numbering (the entry index when it has no clips of its
            own; the order of first appearance when clips are grouped by ``frame_dir``).

    """

    def __init__(
        self,
        dataset: Union[Dict[str, Any], BaseDataset],
        fraction: float,
        seed: int = 0,
        min_per_class: int = 1,
        lazy_init: bool = False,
    ) -> None:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise TypeError(f'LabelSubsetDataset: fraction must be a number, got {fraction!r}')
        if not 0.0 < fraction <= 1.0:
            raise ValueError(
                f'LabelSubsetDataset: fraction must be in (0, 1] (e.g. 0.01 for 1 %), '
                f'got {fraction}'
            )
        if int(min_per_class) != min_per_class or min_per_class < 0:
            raise ValueError(
                f'LabelSubsetDataset: min_per_class must be an integer >= 0, got {min_per_class}'
            )
        if isinstance(dataset, dict):
            self.dataset = DATASETS.build(dataset)
        elif hasattr(dataset, '__getitem__') and hasattr(dataset, '__len__'):
            self.dataset = dataset
        else:
            raise TypeError(
                'LabelSubsetDataset: dataset must be a config dict or a dataset, got '
                f'{type(dataset).__name__}'
            )
        self.fraction = float(fraction)
        self.seed = int(seed)
        self.min_per_class = int(min_per_class)
        self._metainfo = getattr(self.dataset, 'metainfo', {})
        self.indices: np.ndarray = np.zeros(0, dtype=np.int64)
        self.clip_indices: np.ndarray = np.zeros(0, dtype=np.int64)
        self._kept_labels: np.ndarray = np.zeros(0, dtype=np.int64)
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """dict: The wrapped dataset's metainfo (a copy)."""
        return copy.deepcopy(self._metainfo)

    def _as_labels(self, labels: Sequence[Any], what: str) -> np.ndarray:
        """Check single-integer labels; ``what`` names the unit (sample, clip) in errors."""
        name = type(self.dataset).__name__
        out = np.zeros(len(labels), dtype=np.int64)
        for i, y in enumerate(labels):
            arr = np.asarray(y)
            if arr.size != 1 or not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(
                    f'LabelSubsetDataset: {what} {i} of {name} has label {y!r}; expected one '
                    'integer class index (single-label data)'
                )
            out[i] = int(arr.reshape(()))
        return out

    def _clips(self) -> Tuple[np.ndarray, np.ndarray]:
        """Label of every distinct clip ``(C,)`` and the clip of every entry ``(L,)``."""
        ds = self.dataset
        name = type(ds).__name__
        if hasattr(ds, 'get_clip_labels') and hasattr(ds, 'get_entry_clips'):
            clip_labels = self._as_labels(list(ds.get_clip_labels()), 'clip')
            entry_clips = np.asarray(ds.get_entry_clips(), dtype=np.int64)
            num = len(clip_labels)
            if entry_clips.shape != (len(ds),) or (
                entry_clips.size and (entry_clips.min() < 0 or entry_clips.max() >= num)
            ):
                raise ValueError(
                    f'LabelSubsetDataset: {name}.get_entry_clips() gives shape '
                    f'{entry_clips.shape} with values outside [0, {num}) or a length other '
                    f'than len(dataset) = {len(ds)}; expected one clip index in [0, {num}) '
                    'per dataset index'
                )
            absent = np.setdiff1d(np.arange(num), entry_clips)
            if absent.size:
                raise ValueError(
                    f'LabelSubsetDataset: clip {int(absent[0])} of {name} has no dataset '
                    f'index in get_entry_clips() ({absent.size} such clips); expected every '
                    'clip of get_clip_labels() to appear'
                )
            return clip_labels, entry_clips
        if hasattr(ds, 'get_labels'):
            labels = self._as_labels(list(ds.get_labels()), 'sample')
            return labels, np.arange(len(labels), dtype=np.int64)
        raw, keys = [], []
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            if 'label' not in info:
                raise KeyError(
                    f'LabelSubsetDataset: sample {info.get("frame_dir", i)} of {name} has '
                    "no 'label' in get_data_info(); a class index is needed"
                )
            raw.append(info['label'])
            keys.append(info.get('frame_dir'))
        labels = self._as_labels(raw, 'sample')
        clip_of: Dict[str, int] = {}
        first_entry: List[int] = []
        entry_clips = np.zeros(len(labels), dtype=np.int64)
        for i, key in enumerate(keys):
            if key is None:
                entry_clips[i] = len(first_entry)
                first_entry.append(i)
                continue
            c = clip_of.setdefault(str(key), len(first_entry))
            if c == len(first_entry):
                first_entry.append(i)
            elif labels[first_entry[c]] != labels[i]:
                raise ValueError(
                    f'LabelSubsetDataset: clip {key} of {name} has label '
                    f'{labels[first_entry[c]]} at index {first_entry[c]} and {labels[i]} at '
                    f'index {i}; expected entries with one frame_dir to share one label'
                )
            entry_clips[i] = c
        return labels[np.asarray(first_entry, dtype=np.int64)], entry_clips

    def full_init(self) -> None:
        """Load the wrapped dataset and select the subset (once)."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        labels, entry_clips = self._clips()
        self.clip_indices = select_label_subset(
            labels, self.fraction, self.seed, self.min_per_class
        )
        keep = np.zeros(len(labels), dtype=bool)
        keep[self.clip_indices] = True
        self.indices = np.flatnonzero(keep[entry_clips]).astype(np.int64)
        self._kept_labels = labels[entry_clips[self.indices]]
        kept = np.bincount(labels[self.clip_indices], minlength=int(labels.max(initial=-1)) + 1)
        total = np.bincount(labels, minlength=kept.shape[0])
        per_class = kept[total > 0] if len(labels) else np.zeros(1, dtype=np.int64)
        entries = (
            f', {len(self.indices)} of {len(entry_clips)} dataset indices'
            if len(entry_clips) != len(labels)
            else ''
        )
        print_log(
            f'LabelSubsetDataset: kept {len(self.clip_indices)} of {len(labels)} clips'
            f'{entries} ({self.fraction:g} per class, seed {self.seed}, min '
            f'{self.min_per_class}); {int((total > 0).sum())} classes, '
            f'{int(per_class.min())}-{int(per_class.max())} clips per class',
            logger='current',
        )
        self._fully_initialized = True

    @force_full_init
    def get_labels(self) -> List[int]:
        """Class index of every kept clip.

        Returns:
            list[int]: ``(len(self),)`` labels in subset order (one per index, so a clip
            held at several indices of the wrapped dataset is counted at each).

        """
        return [int(y) for y in self._kept_labels]

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Annotation of the ``idx``-th kept index (the wrapped dataset's).

        Args:
            idx (int): Index into the subset.

        Returns:
            dict: ``self.dataset.get_data_info(self.indices[idx])``.

        """
        return self.dataset.get_data_info(int(self.indices[idx]))

    @force_full_init
    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int) -> Any:
        if not self._fully_initialized:
            self.full_init()
        return self.dataset[int(self.indices[idx])]
