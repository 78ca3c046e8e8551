"""Temporal sampling shared by every view of a sample, and the gather of those frames."""

from __future__ import annotations

from typing import Dict

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class SampleSkeletonFrames(BaseTransform):
    """Choose ``clip_len`` frame indices uniformly over the clip's valid frames.

    The ``valid_frames`` frames are cut into ``clip_len`` equal segments and one frame is
    taken from each: at a uniformly random position in training (jitter), or at a fixed
    position in test mode, where clip ``k`` of ``num_clips`` takes position
    ``(k + 0.5) / num_clips`` of every segment (deterministic, no random state). A clip
    shorter than ``clip_len`` repeats frames in order. The same indices are applied to
    every view (format) of the sample by :class:`GatherSkeletonViews`. When the sample has
    ``frame_index`` (the frames that hold someone, from
    :class:`~msclr_mm.datasets.MultiSkeletonDataset`), positions are drawn over those
    ``valid_frames`` entries and mapped through it, so frames without a person are skipped.

    Required keys: ``valid_frames``; optional ``frame_index`` (int ``(valid_frames,)``).
    Added keys: ``frame_inds`` (int64 ``(num_clips, clip_len)``), ``clip_len``,
    ``num_clips``.

    Args:
        clip_len (int): Frames per clip. Defaults to 50.
        num_clips (int): Clips per sample (test-time multi-clip). Defaults to 1.
        test_mode (bool): Deterministic positions. Defaults to False.
        jitter (bool): In training, a random position per segment; False takes the test
            positions in training too (the segments' centres for one clip): every epoch
            sees the same frames, as the references' clips resized once to ``clip_len``
            frames. Defaults to True.

    """

    def __init__(
        self, clip_len: int = 50, num_clips: int = 1, test_mode: bool = False, jitter: bool = True
    ) -> None:
        if clip_len < 1 or num_clips < 1:
            raise ValueError(f'clip_len={clip_len}, num_clips={num_clips}; expected >= 1')
        self.clip_len = clip_len
        self.num_clips = num_clips
        self.test_mode = test_mode
        self.jitter = jitter
        self._base = np.arange(clip_len, dtype=np.float64)

    def transform(self, results: Dict) -> Dict:
        """Add ``frame_inds``.

        Args:
            results (dict): The sample.

        Returns:
            dict: The sample with ``frame_inds``.

        """
        T = int(results['valid_frames'])
        if self.test_mode or not self.jitter:
            off = (np.arange(self.num_clips, dtype=np.float64)[:, None] + 0.5) / self.num_clips
        else:
            off = np.random.random_sample((self.num_clips, self.clip_len))
        pos = (self._base[None] + off) * (T / self.clip_len)
        inds = np.minimum(pos.astype(np.int64), T - 1)
        index = results.get('frame_index')
        if index is not None:
            inds = np.asarray(index, np.int64)[inds]
        results['frame_inds'] = inds
        results['clip_len'] = self.clip_len
        results['num_clips'] = self.num_clips
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(clip_len={self.clip_len}, num_clips={self.num_clips}, '
            f'test_mode={self.test_mode}, jitter={self.jitter})'
        )


@TRANSFORMS.register_module()
class GatherSkeletonViews(BaseTransform):
    """Gather the chosen frames of each view's format (one fancy index per view).

    Required keys: ``skeletons`` (format -> ``(T, M, V, C)``), ``view_formats``,
    ``frame_inds`` ``(S, L)``.
    Added keys: ``views`` (view -> ``{'format': name, 'keypoint': (M, L, V, C)}`` of
    ``dtype``, or ``(S, M, L, V, C)`` when ``S > 1``; for a view given a tuple of candidate formats
    (rule ``'balanced'``), ``'format'`` is the tuple and ``'keypoint'`` a dict per format).
    Two views of the same format share one array (read-only use).

    Args:
        drop_skeletons (bool): Remove ``skeletons`` after gathering. Defaults to True.
        dtype (str): The gathered arrays' type: ``'float32'`` (what mmaction2's pose
            pipelines produce) or ``'float16'``, the type of
            :class:`~msclr_mm.datasets.MultiSkeletonDataset`'s store, so the same values
            exactly at half the bytes through collate, shared memory, pinning and the
            host-to-device copy; :class:`~msclr_mm.models.SkeletonDataPreprocessor` casts
            to float32 on the device, before anything computes with them. Only for
            pipelines whose batches go to that preprocessor. Defaults to ``'float32'``.

    """

    DTYPES = ('float32', 'float16')

    def __init__(self, drop_skeletons: bool = True, dtype: str = 'float32') -> None:
        if dtype not in self.DTYPES:
            raise ValueError(
                f'GatherSkeletonViews: dtype must be one of {self.DTYPES}, got {dtype!r}'
            )
        self.drop_skeletons = drop_skeletons
        self.dtype = dtype

    def transform(self, results: Dict) -> Dict:
        """Add ``views``.

        Args:
            results (dict): The sample.

        Returns:
            dict: The sample with ``views``.

        """
        inds = results['frame_inds']
        skeletons = results['skeletons']
        views = {}
        gathered: Dict[str, np.ndarray] = {}
        for view, fmt in results['view_formats'].items():
            for name in (fmt,) if isinstance(fmt, str) else fmt:
                if name not in gathered:
                    x = skeletons[name][inds]  # (S, L, M, V, C)
                    x = np.ascontiguousarray(x.transpose(0, 2, 1, 3, 4), dtype=self.dtype)
                    gathered[name] = x[0] if len(x) == 1 else x
            if isinstance(fmt, str):
                views[view] = dict(format=fmt, keypoint=gathered[fmt])
            else:  # candidates ('balanced', 'batch' rules; the type kept): the collate keeps one
                cands = fmt if isinstance(fmt, tuple) else tuple(fmt)
                views[view] = dict(format=cands, keypoint={f: gathered[f] for f in fmt})
        results['views'] = views
        if self.drop_skeletons:
            del results['skeletons']
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(drop_skeletons={self.drop_skeletons}, dtype={self.dtype!r})'
        )
