"""`MultiSkeletonDataset`: one clip seen through several skeleton conventions."""

from __future__ import annotations

import gc
import os
from typing import Any, Callable, Dict, List, Mapping, Sequence

import numpy as np
from mmaction.registry import DATASETS, TRANSFORMS
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from torch.utils.data import get_worker_info

from ..skeletons import SkeletonFormat, get_format
from .annotations import AnnotationError, check_alignment
from .normalize import ALIGNS, CENTERS
from .skeleton_store import SkeletonStore, build_store

MISSING_POLICIES = ('drop', 'raise', 'keep')


_FROZEN_IN_PID: int | None = None


def freeze_inherited_objects() -> bool:
    """In a DataLoader worker, move every object it holds so far out of the cyclic GC's scans.

    A forked worker shares the parent's Python heap copy-on-write, but its garbage
    collector writes to every object it scans, so each worker's first full collection
    copies the pages of every object inherited from the parent (about 75 MiB per worker
    with torch, mmengine and mmaction2 imported: measured by ``bench_memory.py``, one
    step per worker). ``gc.freeze()`` first thing in the worker moves those objects to the
    permanent generation by relinking two list heads, touching no object. Runs once per
    process; a no-op outside DataLoader workers.

    Returns:
        bool: Whether it froze now.

    """
    global _FROZEN_IN_PID
    pid = os.getpid()
    if _FROZEN_IN_PID == pid or get_worker_info() is None:
        return False
    gc.freeze()
    _FROZEN_IN_PID = pid
    return True


def split_family(name: str) -> str:
    """The benchmark a split belongs to: the part before its last ``_``, else ``''``.

    Args:
        name (str): A split name (``'xsub_train'``, ``'xset_val'``, ``'train'``).

    Returns:
        str: ``'xsub'``, ``'xset'``, ``''``: splits of one family partition the same clips.
    """
    return name.rsplit('_', 1)[0] if '_' in name else ''


@DATASETS.register_module()
class MultiSkeletonDataset(BaseDataset):
    """Clips joined on ``frame_dir`` across one annotation pickle per skeleton format.

    Each file is loaded safely, validated and canonically normalised once into a float16,
    memory-mapped cache (see :mod:`msclr_mm.datasets.skeleton_store` and
    :mod:`msclr_mm.datasets.normalize`); DataLoader workers share that memory. The views of
    one clip must cover the same frames (same ``total_frames``) and carry the same label.

    A sample given to the pipeline holds ``frame_dir``, ``label``, ``total_frames``,
    ``valid_frames`` (frames up to the last non-empty one in any format; when some frame
    before it holds no one in any format, e.g. before the first detection, instead the
    number of frames that hold someone, listed in ``frame_index``, int64, ascending: only
    those are sampled), ``formats`` (the
    formats this clip has, in the dataset's order), ``skeletons`` (format -> float16 view
    ``(T, M, V, 3)`` of the cache, no copy), ``epoch_format`` (the format whose repetition
    this index belongs to, see ``repeat_per_format``) and ``sample_idx``.

    Args:
        ann_files (Mapping[str, str]): Format name -> annotation pickle. A key may also be
            the ``name`` of an inline format given in ``formats``.
        split (str, optional): Split name inside the files (e.g. ``'xsub_train'``); the
            clips are the union of that split over the files, in order of first appearance.
            None takes every annotated clip. Defaults to None.
        formats (Sequence[str | dict | SkeletonFormat], optional): Formats (names, inline
            dicts or objects) in the order views use them. Defaults to the keys of
            ``ann_files``.
        pipeline (Sequence[dict | Callable]): Transforms, built from mmaction2's
            ``TRANSFORMS``. Defaults to ``()``.
        test_mode (bool): Evaluation dataset (no repetition). Defaults to False.
        missing (str): A clip absent from some format: ``'drop'`` it (counted and logged),
            ``'raise'`` an :class:`AnnotationError`, or ``'keep'`` it with the formats it
            has. Defaults to ``'drop'``.
        repeat_per_format (bool): In training, one epoch covers every clip once per format
            (length ``num_clips * num_formats``), as the paper scales iterations by the
            number of formats. Defaults to True.
        num_person (int): Persons per clip ``M`` (extra dropped, missing zero-padded).
            Defaults to 2.
        normalize (bool): Canonical normalisation (centre, body-size scale, 3D facing, 2D
            image size). Defaults to True.
        align (bool | str): The 3D facing rotation of the normalisation: True (or
            ``'clip'``), ``'frame'`` (also turn every frame about the vertical axis so that
            its left -> right points to +x, as the references' ``y_rotation``) or False.
            Defaults to True.
        center (str): ``'clip'`` (one origin per clip: translation over time kept) or
            ``'frame'`` (every frame on its own centre joints, as the references'
            ``data_type='relative'``). See :mod:`msclr_mm.datasets.normalize`. Defaults to
            ``'clip'``.
        cache_dir (str, optional): Where the normalised caches are written. Defaults to
            ``$MSCLR_MM_CACHE_DIR`` or ``{tempdir}/msclr_mm_cache``; never beside the input.
        gc_freeze_workers (bool): ``gc.freeze()`` in each DataLoader worker at its first
            sample, so that the workers' garbage collector does not copy the parent's
            Python heap (see :func:`freeze_inherited_objects`). Defaults to True.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset` (``metainfo``,
            ``indices``, ``serialize_data``, ``lazy_init``, ``max_refetch``).

    """

    def __init__(
        self,
        ann_files: Mapping[str, str],
        split: str | None = None,
        formats: Sequence[Any] | None = None,
        pipeline: Sequence[dict | Callable] = (),
        test_mode: bool = False,
        missing: str = 'drop',
        repeat_per_format: bool = True,
        num_person: int = 2,
        normalize: bool = True,
        align: bool | str = True,
        center: str = 'clip',
        cache_dir: str | None = None,
        gc_freeze_workers: bool = True,
        **kwargs: Any,
    ) -> None:
        if missing not in MISSING_POLICIES:
            raise ValueError(f'missing={missing!r}; expected one of {MISSING_POLICIES}')
        if center not in CENTERS or align not in ALIGNS:
            raise ValueError(
                f'MultiSkeletonDataset: center={center!r}, align={align!r}; expected center '
                f'in {CENTERS} and align in {ALIGNS}'
            )
        if not ann_files:
            raise ValueError('ann_files is empty; expected {format_name: path, ...}')
        self.ann_files = dict(ann_files)
        fmts: List[SkeletonFormat] = [get_format(f) for f in (formats or list(self.ann_files))]
        names = [f.name for f in fmts]
        unknown = [n for n in names if n not in self.ann_files]
        if unknown:
            raise ValueError(
                f'formats {unknown} have no entry in ann_files (keys {list(self.ann_files)})'
            )
        self.skeleton_formats = fmts
        self.format_names = tuple(names)
        self.split = split
        self.missing = missing
        self.repeat_per_format = repeat_per_format
        self.num_person = num_person
        self.normalize = normalize
        self.align = align
        self.center = center
        self.cache_dir = cache_dir
        self.gc_freeze_workers = gc_freeze_workers
        self.stores: Dict[str, SkeletonStore] = {}
        built = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(ann_file='', pipeline=built, test_mode=test_mode, **kwargs)

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> List[dict]:
        """Build (or open) every format's cache and join the clips on ``frame_dir``.

        Returns:
            list[dict]: One dict per clip: ``frame_dir``, ``label``, ``total_frames``,
            ``valid_frames`` and ``rows`` (the clip's row in each format's store, -1 when
            absent).

        """
        for fmt in self.skeleton_formats:
            self.stores[fmt.name] = build_store(
                self.ann_files[fmt.name],
                fmt,
                cache_dir=self.cache_dir,
                num_person=self.num_person,
                normalize=self.normalize,
                align=self.align,
                center=self.center,
            )
        light = {
            name: dict(
                annotations=[
                    dict(frame_dir=str(fd), total_frames=int(t), label=int(lb))
                    for fd, t, lb in zip(s.frame_dir, s.total_frames, s.label)
                ]
            )
            for name, s in self.stores.items()
        }
        check_alignment(light, self.ann_files)

        if self.split is None:
            order = [str(fd) for s in self.stores.values() for fd in s.frame_dir]
        else:
            order = []
            for name, s in self.stores.items():
                if self.split not in s.split:
                    raise AnnotationError(
                        self.ann_files[name],
                        f'has no split {self.split!r}; it has {sorted(s.split)}',
                        field='split',
                        fmt=name,
                    )
                order.extend(s.split[self.split])
        order = list(dict.fromkeys(order))
        if self.split is not None:
            self._check_split_agreement(order)

        data_list, dropped = [], []
        for fd in order:
            rows = tuple(self.stores[n].row_of.get(fd, -1) for n in self.format_names)
            absent = [n for n, r in zip(self.format_names, rows) if r < 0]
            if absent:
                if self.missing == 'raise':
                    name = absent[0]
                    raise AnnotationError(
                        self.ann_files[name],
                        'clip is missing in this format but present in '
                        f'{[n for n, r in zip(self.format_names, rows) if r >= 0]}; expected '
                        "every format to hold it (or set missing='drop'/'keep')",
                        frame_dir=fd,
                        fmt=name,
                    )
                if self.missing == 'drop':
                    dropped.append((fd, absent))
                    continue
            present = [(n, r) for n, r in zip(self.format_names, rows) if r >= 0]
            n0, r0 = present[0]
            s0 = self.stores[n0]
            valid = max(int(self.stores[n].valid_frames[r]) for n, r in present)
            info = dict(
                frame_dir=fd,
                label=int(s0.label[r0]),
                total_frames=int(s0.total_frames[r0]),
                valid_frames=max(valid, 1),
                rows=rows,
            )
            # frames where no format holds anyone (before the first detection, gaps) are not
            # sampled: once here, the indices of the others when such frames come before
            # the last one (most clips have none and keep the plain range)
            held = [self.stores[n].frames_present(r) for n, r in present]
            anyone = held[0] if len(held) == 1 else np.logical_or.reduce(held)
            if not anyone[:valid].all():
                index = np.flatnonzero(anyone)
                if len(index):
                    info.update(frame_index=index, valid_frames=len(index))
            data_list.append(info)
        if not data_list:
            files = ', '.join(f'{self.ann_files[n]} ({n})' for n in self.format_names)
            why = (
                f'all {len(order)} clips are missing in some format (missing={self.missing!r})'
                if order
                else 'it lists no clips'
            )
            raise AnnotationError(
                files,
                f'split {self.split!r} gives an empty dataset: {why}; expected at least one '
                'clip held by every format',
                field='split',
            )
        if dropped:
            print_log(
                f'MultiSkeletonDataset(split={self.split!r}): dropped {len(dropped)} of '
                f'{len(order)} clips missing in some format, e.g. {dropped[0][0]!r} '
                f'(missing in {dropped[0][1]})',
                logger='current',
            )
        print_log(
            f'MultiSkeletonDataset(split={self.split!r}): {len(data_list)} clips in formats '
            f'{list(self.format_names)}',
            logger='current',
        )
        return data_list

    # ------------------------------------------------------------------ access
    @property
    def num_clips(self) -> int:
        """int: Clips in the dataset (without the per-format repetition)."""
        return super().__len__()

    @property
    def repeats(self) -> int:
        """int: ``num_formats`` in training with ``repeat_per_format``, else 1."""
        if self.repeat_per_format and not self.test_mode:
            return len(self.format_names)
        return 1

    def _check_split_agreement(self, order: List[str]) -> None:
        """Refuse a clip of this split that another format files under another split.

        The split is the union of the formats' lists (so a clip missing from one format
        can be dropped or kept, ``missing``); a clip that one format puts in
        ``xsub_train`` and another in ``xsub_val`` would be trained on and evaluated on,
        silently. Only splits of the same family are compared (:func:`split_family`:
        ``xsub_train`` and ``xsub_val``, not ``xview_val``, which legitimately shares
        clips with ``xsub_train``). Raises :class:`AnnotationError` naming the clip, both
        formats and their splits. A format that holds the clip in no such split is not an
        error.
        """
        wanted = {name: set(s.split[self.split]) for name, s in self.stores.items()}
        family = split_family(self.split)
        for fd in order:
            holders = [n for n, s in self.stores.items() if fd in s.row_of]
            listed = [n for n in holders if fd in wanted[n]]
            elsewhere = [n for n in holders if fd not in wanted[n]]
            for name in elsewhere if listed else ():
                others = sorted(
                    k
                    for k, v in self.stores[name].split.items()
                    if k != self.split and split_family(k) == family and fd in v
                )
                if others:  # (a format that lists the clip in no such split leaks nothing)
                    raise AnnotationError(
                        self.ann_files[name],
                        f'the clip is in split {self.split!r} of {listed} but this format '
                        f'lists it under {others}; expected every format to put each clip in '
                        'the same split (otherwise it is both trained and evaluated on)',
                        frame_dir=fd,
                        field='split',
                        fmt=name,
                    )

    def __len__(self) -> int:
        return self.num_clips * self.repeats

    def get_clip_labels(self) -> List[int]:
        """Class index of every clip, once per clip (not per format repetition).

        Returns:
            list[int]: ``(num_clips,)`` labels; see :meth:`get_entry_clips` for the clip of
            each dataset index.

        """
        base = super()
        return [int(base.get_data_info(c)['label']) for c in range(self.num_clips)]

    def get_entry_clips(self) -> np.ndarray:
        """Clip of every dataset index: ``idx % num_clips``.

        With ``repeat_per_format`` in training each clip appears ``num_formats`` times
        (once per ``epoch_format``), else once.

        Returns:
            np.ndarray: ``(len(self),)`` int64 clip indices in ``[0, num_clips)``.

        """
        return np.arange(len(self), dtype=np.int64) % self.num_clips

    def get_data_info(self, idx: int) -> dict:
        """The sample dict of index ``idx`` (see the class docstring).

        In a DataLoader worker the first call also freezes the objects inherited from the
        parent (:func:`freeze_inherited_objects`), so that the workers' garbage collection
        does not copy the parent's heap.

        Args:
            idx (int): In ``[0, len(self))``; clip ``idx % num_clips``.

        Returns:
            dict: The sample before the pipeline.

        """
        if self.gc_freeze_workers:
            freeze_inherited_objects()
        n = self.num_clips
        clip = idx % n
        info = super().get_data_info(clip)
        rows = info.pop('rows')
        info['formats'] = tuple(f for f, r in zip(self.format_names, rows) if r >= 0)
        info['skeletons'] = {
            f: self.stores[f].clip(r) for f, r in zip(self.format_names, rows) if r >= 0
        }
        info['epoch_format'] = self.format_names[(idx // n) % len(self.format_names)]
        info['sample_idx'] = clip
        return info

    def get_clip_keypoints(self, clip: int) -> Dict[str, np.ndarray]:
        """Every format's normalised keypoints of one clip, as float32 ``(M, T, V, 3)``.

        Args:
            clip (int): Clip index in ``[0, num_clips)``.

        Returns:
            dict[str, np.ndarray]: Format name -> array (formats the clip has).

        """
        info = self.get_data_info(clip)
        return {
            f: np.ascontiguousarray(a.transpose(1, 0, 2, 3), np.float32)
            for f, a in info['skeletons'].items()
        }
