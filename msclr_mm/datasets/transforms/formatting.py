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


@FUNCTIONS.register_module()
def multi_skeleton_collate(data_batch: Sequence[Dict]) -> Dict:
    """Collate packed samples, grouping each view by format (formats are never stacked).

    Args:
        data_batch (Sequence[dict]): ``N`` outputs of :class:`PackMultiSkeletonInputs`.

    Returns:
        dict: ``inputs``: ``{view: {format: {'keypoint': float32 Tensor (n, M, T, V, C) or
        (n, S, M, T, V, C), 'index': LongTensor (n,)}}}``, ``index`` holding each row's
        position in the batch; ``data_samples``: the ``N`` samples in batch order.

    """
    groups: Dict[str, Dict[str, List]] = defaultdict(lambda: defaultdict(list))
    for i, sample in enumerate(data_batch):
        for view, item in sample['inputs'].items():
            groups[view][item['format']].append((i, item['keypoint']))
    inputs = {}
    for view, by_fmt in groups.items():
        inputs[view] = {}
        for fmt, rows in by_fmt.items():
            inputs[view][fmt] = dict(
                keypoint=torch.from_numpy(np.stack([kp for _, kp in rows])),
                index=torch.tensor([i for i, _ in rows], dtype=torch.long),
            )
    return dict(inputs=inputs, data_samples=[s['data_samples'] for s in data_batch])
