"""`LabelSubsetDataset`: a class-balanced, seeded fraction of a dataset's labelled clips."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any, Dict, List, Union

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
    """Wrap a dataset and keep a class-balanced, seeded fraction of its clips.

    For semi-supervised evaluation (1 % / 10 % of the labels): class ``c`` with ``n_c``
    clips keeps ``max(min_per_class, round(fraction * n_c))`` of them (at most ``n_c``),
    drawn with ``seed``. Every process computes the same subset. Metainfo is the wrapped
    dataset's; the counts are logged.

    Labels come from the wrapped dataset's ``get_labels()`` when it has one, else from
    ``get_data_info(i)['label']``.

    Args:
        dataset (dict | BaseDataset): The dataset (or its config) to subsample.
        fraction (float): Fraction of each class to keep, in ``(0, 1]``, e.g. 0.01 or 0.1.
        seed (int): Random seed of the selection. Defaults to 0.
        min_per_class (int): Clips kept at least per class. Defaults to 1.
        lazy_init (bool): Defer loading the wrapped dataset's annotations and selecting
            until :meth:`full_init`. Defaults to False.

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
        self._subset_labels: np.ndarray = np.zeros(0, dtype=np.int64)
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """dict: The wrapped dataset's metainfo (a copy)."""
        return copy.deepcopy(self._metainfo)

    def _labels(self) -> np.ndarray:
        name = type(self.dataset).__name__
        if hasattr(self.dataset, 'get_labels'):
            labels = list(self.dataset.get_labels())
        else:
            labels = []
            for i in range(len(self.dataset)):
                info = self.dataset.get_data_info(i)
                if 'label' not in info:
                    raise KeyError(
                        f'LabelSubsetDataset: sample {info.get("frame_dir", i)} of {name} has '
                        "no 'label' in get_data_info(); a class index is needed"
                    )
                labels.append(info['label'])
        out = np.zeros(len(labels), dtype=np.int64)
        for i, y in enumerate(labels):
            arr = np.asarray(y)
            if arr.size != 1 or not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(
                    f'LabelSubsetDataset: sample {i} of {name} has label {y!r}; expected one '
                    'integer class index (single-label data)'
                )
            out[i] = int(arr.reshape(()))
        return out

    def full_init(self) -> None:
        """Load the wrapped dataset and select the subset (once)."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        labels = self._labels()
        self._subset_labels = labels
        self.indices = select_label_subset(labels, self.fraction, self.seed, self.min_per_class)
        kept = np.bincount(labels[self.indices], minlength=int(labels.max(initial=-1)) + 1)
        total = np.bincount(labels, minlength=kept.shape[0])
        per_class = kept[total > 0] if len(labels) else np.zeros(1, dtype=np.int64)
        print_log(
            f'LabelSubsetDataset: kept {len(self.indices)} of {len(labels)} clips '
            f'({self.fraction:g} per class, seed {self.seed}, min {self.min_per_class}); '
            f'{int((total > 0).sum())} classes, {int(per_class.min())}-{int(per_class.max())} '
            'clips per class',
            logger='current',
        )
        self._fully_initialized = True

    @force_full_init
    def get_labels(self) -> List[int]:
        """Class index of every kept clip.

        Returns:
            list[int]: ``(len(self),)`` labels in subset order.

        """
        return [int(y) for y in self._subset_labels[self.indices]]

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Annotation of the ``idx``-th kept clip (the wrapped dataset's).

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
