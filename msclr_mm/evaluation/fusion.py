"""Multi-skeleton ensemble and multi-stream fusion of class scores, with their accuracies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Dict, Union

import numpy as np

#: Stream coefficients of the three-stream fusion (joint:bone:motion = 0.6:0.6:0.4).
DEFAULT_STREAM_COEFFS: Dict[str, float] = {'joint': 0.6, 'bone': 0.6, 'motion': 0.4}

StreamScores = Union[np.ndarray, Mapping[str, np.ndarray]]


def ensemble_formats(scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """Average the scores of the formats available for each clip.

    Args:
        scores (Mapping[str, np.ndarray]): Format name -> scores ``(N, K)``. A row of NaN
            means the clip lacks that format.

    Returns:
        np.ndarray: ``(N, K)`` float64, each row the mean over the formats the clip has.

    """
    if not scores:
        raise ValueError('ensemble_formats needs the scores of at least one format')
    names = list(scores)
    stack = np.stack([np.asarray(scores[n], dtype=np.float64) for n in names])
    if stack.ndim != 3:
        raise ValueError(
            f'ensemble_formats expects (N, K) per format, got shapes '
            f'{[np.shape(scores[n]) for n in names]}'
        )
    have = ~np.isnan(stack).any(axis=2)  # (F, N)
    count = have.sum(axis=0)
    if (count == 0).any():
        rows = np.flatnonzero(count == 0)[:5].tolist()
        raise ValueError(f'clips {rows} have scores in none of the formats {names}')
    total = np.where(have[..., None], stack, 0.0).sum(axis=0)
    return total / count[:, None]


def fuse_streams(
    scores: Mapping[str, StreamScores], coeffs: Mapping[str, float] | None = None
) -> np.ndarray:
    """Weighted sum of stream scores (joint, bone, motion, ...); formats are averaged first.

    Args:
        scores (Mapping[str, np.ndarray | Mapping[str, np.ndarray]]): Stream name -> scores
            ``(N, K)``, or -> ``{format: (N, K)}`` (averaged with :func:`ensemble_formats`).
        coeffs (Mapping[str, float], optional): Stream name -> coefficient. Defaults to
            None: :data:`DEFAULT_STREAM_COEFFS` (0.6, 0.6, 0.4 for joint, bone, motion).

    Returns:
        np.ndarray: ``(N, K)`` float64 ``sum_s coeffs[s] * scores[s]``.

    """
    if not scores:
        raise ValueError('fuse_streams needs at least one stream')
    coeffs = DEFAULT_STREAM_COEFFS if coeffs is None else coeffs
    missing = [s for s in scores if s not in coeffs]
    if missing:
        raise KeyError(
            f'no fusion coefficient for streams {missing}; coefficients are given for '
            f'{list(coeffs)}'
        )
    fused = None
    for stream, value in scores.items():
        s = ensemble_formats(value) if isinstance(value, Mapping) else np.asarray(value, float)
        if fused is not None and s.shape != fused.shape:
            raise ValueError(
                f"stream '{stream}' has scores of shape {s.shape}, the others {fused.shape}"
            )
        fused = coeffs[stream] * s if fused is None else fused + coeffs[stream] * s
    return fused


def accuracy_metrics(
    scores: np.ndarray, labels: Sequence[int], topk: Sequence[int] = (1, 5)
) -> Dict[str, float]:
    """Top-k accuracies and mean class accuracy (fractions in ``[0, 1]``).

    Ranks are taken with a stable sort of the negated scores, so ties go to the lower class
    index, as ``argmax``. Mean class accuracy is the mean over the classes present in
    ``labels`` of each class's top-1 recall (mmaction2's ``mean1`` also averages in a 0 for
    classes that are predicted but never occur in ``labels``).

    Args:
        scores (np.ndarray): ``(N, K)`` class scores.
        labels (Sequence[int]): ``(N,)`` class indices.
        topk (Sequence[int]): The ``k`` of the top-k accuracies. Defaults to ``(1, 5)``.

    Returns:
        dict[str, float]: ``top{k}`` for each k and ``mean_class``.

    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if scores.ndim != 2 or labels.shape != (scores.shape[0],):
        raise ValueError(
            f'accuracy_metrics expects scores (N, K) and labels (N,), got {scores.shape} and '
            f'{labels.shape}'
        )
    if scores.shape[0] == 0:
        raise ValueError('accuracy_metrics got no clips')
    if np.isnan(scores).any():
        raise ValueError('accuracy_metrics got NaN scores (a clip without this format?)')
    order = np.argsort(-scores, axis=1, kind='stable')
    out: Dict[str, float] = {}
    for k in topk:
        out[f'top{k}'] = float((order[:, :k] == labels[:, None]).any(axis=1).mean())
    hit = order[:, 0] == labels
    classes = np.unique(labels)
    out['mean_class'] = float(np.mean([hit[labels == c].mean() for c in classes]))
    return out
