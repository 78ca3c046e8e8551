"""`SampleList`: a batch's data samples that cross the DataLoader's process boundary cheaply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Dict, Iterable, Iterator, List, Tuple, Union

import numpy as np
import torch
from mmaction.structures import ActionDataSample

#: ``label`` value of a sample without ``gt_label``.
NO_LABEL = -1


class SampleList(Sequence):
    """The ``ActionDataSample`` s of one batch, as a read-only sequence.

    A DataLoader worker pickles the collated batch and the main process unpickles it (in
    the pin-memory thread, holding the GIL the training step needs to launch its
    kernels). A list of ``ActionDataSample`` s is slow to unpickle: about 17 ms for 128
    samples on one core of the development machine, against well under a millisecond for
    their content as one label array and a list of metainfo dicts. This sequence pickles
    that content when every sample is a plain packed sample (an ``ActionDataSample`` whose
    only data field is a one-element integer ``gt_label``, as
    :class:`PackMultiSkeletonInputs` makes them) and rebuilds the samples on first access:
    pretraining only asks for ``len()`` and never pays for them. Samples with anything
    else are pickled as they are.

    It reads like a list (``len``, indexing, slicing to a list, iteration); the samples
    are built once, so fields set on them (``pred_feature`` in evaluation) persist.
    ``labels`` and ``metainfo`` read the content without building the samples.

    Args:
        samples (Iterable[ActionDataSample]): The batch's samples, in batch order.
            Defaults to none.

    """

    def __init__(self, samples: Iterable[ActionDataSample] = ()) -> None:
        self._samples: List[ActionDataSample] | None = list(samples)
        self._labels: np.ndarray | None = None
        self._metas: List[Dict[str, Any]] | None = None

    @classmethod
    def from_content(cls, labels: np.ndarray, metas: List[Dict[str, Any]]) -> SampleList:
        """Rebuild from :meth:`content` (what unpickling calls); the samples come lazily.

        Args:
            labels (np.ndarray): ``(N,)`` int64, :data:`NO_LABEL` where there is none.
            metas (list[dict]): ``N`` metainfo dicts.

        Returns:
            SampleList: ``N`` samples.

        """
        if len(labels) != len(metas):
            raise ValueError(f'SampleList: {len(labels)} labels but {len(metas)} metainfo dicts')
        out = cls()
        out._samples = None
        out._labels, out._metas = labels, metas
        return out

    def content(self) -> Tuple[np.ndarray, List[Dict[str, Any]]] | None:
        """``(labels (N,) int64, metainfo dicts)``, or None when a sample holds more."""
        if self._samples is None:
            return self._labels, self._metas
        labels = np.full(len(self._samples), NO_LABEL, dtype=np.int64)
        for i, sample in enumerate(self._samples):
            if type(sample) is not ActionDataSample:
                return None
            keys = sample.keys()
            if not keys:
                continue
            if keys != ['gt_label']:
                return None
            label = sample.gt_label
            if not (
                isinstance(label, torch.Tensor)
                and label.numel() == 1
                and label.dim() == 1
                and label.dtype == torch.int64
                and label.device.type == 'cpu'
                and int(label) >= 0
            ):
                return None
            labels[i] = int(label)
        return labels, [dict(s.metainfo) for s in self._samples]

    @property
    def labels(self) -> np.ndarray:
        """np.ndarray: ``(N,)`` int64 ground-truth labels, :data:`NO_LABEL` where absent."""
        content = self.content()
        if content is None:
            raise ValueError('SampleList.labels: the samples hold more than a gt_label')
        return content[0]

    @property
    def metainfo(self) -> List[Dict[str, Any]]:
        """list[dict]: Every sample's metainfo (a copy when the samples are built)."""
        if self._samples is None:
            return self._metas
        return [dict(s.metainfo) for s in self._samples]

    def _built(self) -> List[ActionDataSample]:
        if self._samples is None:
            samples = []
            for label, meta in zip(self._labels.tolist(), self._metas):
                sample = ActionDataSample()
                if label != NO_LABEL:
                    sample.set_gt_label(label)
                sample.set_metainfo(meta)
                samples.append(sample)
            self._samples = samples
            self._labels = self._metas = None
        return self._samples

    def __len__(self) -> int:
        return len(self._labels) if self._samples is None else len(self._samples)

    def __getitem__(
        self, index: Union[int, slice]
    ) -> Union[ActionDataSample, List[ActionDataSample]]:
        return self._built()[index]

    def __iter__(self) -> Iterator[ActionDataSample]:
        return iter(self._built())

    def pin_memory(self, device: Any = None) -> SampleList:
        """Return self: there is nothing to pin (the DataLoader's pin-memory thread calls it).

        Without it the thread would treat the list as a sequence and rebuild every sample
        to pin it; a list of ``ActionDataSample`` s is not pinned either.
        """
        return self

    def __reduce__(self):
        content = self.content()
        if content is None:
            return SampleList, (self._built(),)
        return SampleList.from_content, content

    def __repr__(self) -> str:
        state = 'built' if self._samples is not None else 'packed'
        return f'SampleList({len(self)} samples, {state})'
