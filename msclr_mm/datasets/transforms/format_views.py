"""Choose which skeleton format each view of a sample uses."""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

FORMAT_RULES = ('random', 'cross', 'anchor', 'epoch', 'balanced', 'batch')


class BatchFormat(tuple):
    """A view's candidate formats under rule ``'batch'``: one is drawn for the whole batch.

    A tuple of format names; its type tells :func:`multi_skeleton_collate` to give every
    row of the batch the same format (the ``'balanced'`` rule's plain tuple spreads the
    formats over the rows instead).
    """

    __slots__ = ()


@TRANSFORMS.register_module()
class SampleFormatViews(BaseTransform):
    """Draw the formats of the query and key views (MS-CLR pretraining).

    Rules, over the formats the clip has (``results['formats']``):

    - ``'random'``: each view uniform and independent (the paper's setting).
    - ``'cross'``: the views always get different formats (a clip with one format gives
      that format to every view).
    - ``'anchor'``: the ``anchor_view`` gets format ``anchor``; every other view is uniform
      over the clip's other formats (``anchor`` itself if the clip has no other). A clip
      without the anchor format falls back to ``'random'``.
    - ``'epoch'``: the first view gets ``results['epoch_format']`` (the format whose
      repetition of the epoch this index is, see ``repeat_per_format`` of the dataset), the
      others are uniform.
    - ``'balanced'``: as ``'random'`` (each view uniform, views independent), but drawn
      per batch by :func:`multi_skeleton_collate` so that every view holds the same number
      of clips of each format in every batch (``N / F``, the first formats in sorted order
      taking the remainder). The encoder then sees the same group shapes at every step,
      which is what CUDA graphs, ``torch.compile`` and cuDNN's plan cache need. Here the
      view gets the tuple of the clip's formats; :class:`GatherSkeletonViews` gathers all
      of them (the same frames) and the collate keeps one.
    - ``'batch'``: one format per view for the whole batch, drawn per batch by
      :func:`multi_skeleton_collate` (uniform over the formats every clip of the batch
      has, views independent): the MS-CLR reference's batches, whose query and key formats
      are set for the whole batch (its ``Feeder_mixed_triple.set_batch_skeletons``, drawn
      per DataLoader worker), so BatchNorm sees the whole batch in one format and the
      encoder runs once per view. The view gets a :class:`BatchFormat` of the clip's
      formats; :class:`GatherSkeletonViews` gathers all of them.

    Required keys: ``formats`` (and ``epoch_format`` for ``'epoch'``).
    Added keys: ``view_formats`` (dict view name -> format name, in ``views`` order; with
    ``'balanced'``, the tuple of candidate formats; with ``'batch'``, a
    :class:`BatchFormat`).

    Args:
        rule (str): One of ``'random'``, ``'cross'``, ``'anchor'``, ``'epoch'``,
            ``'balanced'``, ``'batch'``. Defaults to ``'random'``.
        views (Sequence[str]): View names. Defaults to ``('query', 'key')``.
        anchor (str, optional): Format fixed by ``'anchor'``.
        anchor_view (str): View that gets the anchor. Defaults to ``'key'``.

    """

    def __init__(
        self,
        rule: str = 'random',
        views: Sequence[str] = ('query', 'key'),
        anchor: str | None = None,
        anchor_view: str = 'key',
    ) -> None:
        if rule not in FORMAT_RULES:
            raise ValueError(f'rule={rule!r}; expected one of {FORMAT_RULES}')
        if rule == 'anchor' and (anchor is None or anchor_view not in views):
            raise ValueError(
                f"rule='anchor' needs anchor=<format name> and anchor_view in {list(views)}; "
                f'got anchor={anchor!r}, anchor_view={anchor_view!r}'
            )
        if len(views) < 1 or len(set(views)) != len(views):
            raise ValueError(f'views={views!r}; expected distinct view names')
        self.rule = rule
        self.views = tuple(views)
        self.anchor = anchor
        self.anchor_view = anchor_view

    def transform(self, results: Dict) -> Dict:
        """Add ``view_formats``.

        Args:
            results (dict): The sample.

        Returns:
            dict: The sample with ``view_formats``.

        """
        formats = tuple(results['formats'])
        n = len(formats)
        k = len(self.views)
        rule = self.rule
        if rule == 'anchor' and self.anchor not in formats:
            rule = 'random'
        if rule == 'balanced':
            picks = [formats] * k
        elif rule == 'batch':
            picks = [BatchFormat(formats)] * k
        elif rule == 'random':
            picks = [formats[i] for i in np.random.randint(0, n, size=k)]
        elif rule == 'cross':
            if n == 1:
                picks = [formats[0]] * k
            else:
                order = np.random.permutation(n)
                picks = [formats[order[i % n]] for i in range(k)]
        elif rule == 'anchor':
            others = [f for f in formats if f != self.anchor] or [self.anchor]
            picks = [others[i] for i in np.random.randint(0, len(others), size=k)]
            picks[self.views.index(self.anchor_view)] = self.anchor
        else:  # epoch
            picks = [formats[i] for i in np.random.randint(0, n, size=k)]
            first = results.get('epoch_format')
            if first in formats:
                picks[0] = first
        results['view_formats'] = dict(zip(self.views, picks))
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(rule={self.rule!r}, views={self.views}, '
            f'anchor={self.anchor!r}, anchor_view={self.anchor_view!r})'
        )


@TRANSFORMS.register_module()
class AllFormatViews(BaseTransform):
    """One view per format of the clip, named by the format (evaluation, probes, supervised).

    Required keys: ``formats``.
    Added keys: ``view_formats`` (format name -> format name).

    Args:
        formats (Sequence[str], optional): Keep only these formats (e.g. one format for a
            single-format supervised run). Defaults to all of the clip's formats.

    """

    def __init__(self, formats: Sequence[str] | None = None) -> None:
        self.formats = None if formats is None else tuple(formats)

    def transform(self, results: Dict) -> Dict:
        """Add ``view_formats``.

        Args:
            results (dict): The sample.

        Returns:
            dict: The sample with ``view_formats``.

        """
        fmts = [f for f in results['formats'] if self.formats is None or f in self.formats]
        results['view_formats'] = {f: f for f in fmts}
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(formats={self.formats})'
