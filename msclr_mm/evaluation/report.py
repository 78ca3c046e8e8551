"""Accuracy tables from ``tools/test.py --dump`` pickles: formats, ensemble, streams, fusion."""

from __future__ import annotations

import _codecs
import collections
import csv
import io
import os
import os.path as osp
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from .fusion import DEFAULT_STREAM_COEFFS, accuracy_metrics, fuse_streams

#: Field of a dumped sample holding ``{format: (K,) scores}`` (MultiSkeletonRecognizer).
PER_FORMAT_KEY = 'pred_scores_per_format'
#: Dump key of each sample's per-format raw logits (``MultiSkeletonRecognizer``).
PER_FORMAT_LOGITS_KEY = 'pred_logits_per_format'
#: What a report evaluates and fuses: softmax probabilities (mmaction2's ``pred_score``) or
#: the linear layers' raw outputs (the reference code's ensemble scripts).
SCORE_KINDS = ('probs', 'logits')


class UnsafeDumpError(pickle.UnpicklingError):
    """A prediction dump holds Python objects outside the allowlist and was refused."""


def _load_storage_bytes(b: bytes) -> Any:
    import torch

    return torch.load(io.BytesIO(b), weights_only=True)


class _DumpUnpickler(pickle.Unpickler):
    """Unpickler that only builds containers, tensors and numpy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        import torch

        if (module, name) == ('torch.storage', '_load_from_bytes'):
            return _load_storage_bytes
        allowed = {
            ('torch._utils', '_rebuild_tensor_v2'): torch._utils._rebuild_tensor_v2,
            ('torch._utils', '_rebuild_tensor'): torch._utils._rebuild_tensor,
            ('collections', 'OrderedDict'): collections.OrderedDict,
            ('_codecs', 'encode'): _codecs.encode,
            ('builtins', 'set'): set,
            ('builtins', 'frozenset'): frozenset,
            ('builtins', 'slice'): slice,
            ('torch', 'Size'): torch.Size,
        }
        if (module, name) in allowed:
            return allowed[(module, name)]
        if module in ('numpy', 'numpy.core.multiarray', 'numpy._core.multiarray', 'numpy.dtypes'):
            if name in ('ndarray', 'dtype', '_reconstruct', 'scalar') or name.endswith('DType'):
                return super().find_class(module, name)
        raise UnsafeDumpError(f'{module}.{name} is not allowed in a prediction dump')


def load_dump(path: str, trusted: bool = False) -> List[Dict[str, Any]]:
    """Read a ``DumpResults`` pickle without running code from it.

    Args:
        path (str): The ``.pkl`` written by ``tools/test.py --dump``.
        trusted (bool): Unpickle anything (only for files you trust). Defaults to False.

    Returns:
        list[dict]: One dict per sample (``pred_score``, ``gt_label``, metainfo such as
        ``frame_dir``, and ``pred_scores_per_format`` from ``MultiSkeletonRecognizer``).

    """
    with open(path, 'rb') as f:
        if trusted:
            data = pickle.load(f)
        else:
            try:
                data = _DumpUnpickler(f).load()
            except UnsafeDumpError as err:
                raise UnsafeDumpError(
                    f'Refused to read {path}: {err}. Prediction dumps hold tensors, numbers '
                    'and strings; this file holds other Python objects, which can run code '
                    'when unpickled. If you trust it, pass trusted=True (--trust-dump).'
                ) from None
    if not isinstance(data, list) or not all(isinstance(d, Mapping) for d in data):
        raise ValueError(
            f'{path} is not a tools/test.py --dump file: expected a list of dicts, got '
            f'{type(data).__name__}'
        )
    return data


def _array(value: Any) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().float().numpy()
    return np.asarray(value, dtype=np.float64)


@dataclass
class DumpScores:
    """The scores of one dump as arrays.

    Attributes:
        path (str): Where they come from.
        labels (np.ndarray): ``(N,)`` ground-truth classes.
        pred_score (np.ndarray): ``(N, K)`` the model's scores (the ensemble).
        per_format (dict[str, np.ndarray]): Format -> ``(N, K)``, NaN rows where the clip
            lacks the format. Empty for models without per-format scores.
        frame_dirs (list[str] | None): Clip names, when the dump has them.

    """

    path: str
    labels: np.ndarray
    pred_score: np.ndarray
    per_format: Dict[str, np.ndarray] = field(default_factory=dict)
    frame_dirs: List[str] | None = None

    def take(self, order: np.ndarray) -> DumpScores:
        """Rows ``order`` of every array (to align dumps)."""
        return DumpScores(
            self.path,
            self.labels[order],
            self.pred_score[order],
            {f: s[order] for f, s in self.per_format.items()},
            None if self.frame_dirs is None else [self.frame_dirs[i] for i in order],
        )


def read_dump(path: str, trusted: bool = False, scores: str = 'probs') -> DumpScores:
    """Read a dump into arrays (see :class:`DumpScores`).

    Args:
        path (str): The ``.pkl`` of ``tools/test.py --dump``.
        trusted (bool): As in :func:`load_dump`. Defaults to False.
        scores (str): ``'probs'``: ``pred_score`` and ``pred_scores_per_format``;
            ``'logits'``: ``pred_logits_per_format`` and, as the ensemble, the mean of each
            clip's formats' logits. Defaults to ``'probs'``.

    Returns:
        DumpScores: Labels ``(N,)``, scores ``(N, K)`` and per-format scores.

    """
    if scores not in SCORE_KINDS:
        raise ValueError(f'scores={scores!r}: expected one of {SCORE_KINDS}')
    samples = load_dump(path, trusted=trusted)
    if not samples:
        raise ValueError(f'{path} holds no predictions')
    if scores == 'logits':
        samples = [_with_logits(path, i, s) for i, s in enumerate(samples)]
    labels, scores, names = [], [], []
    per_format: Dict[str, List[Tuple[int, np.ndarray]]] = {}
    for i, s in enumerate(samples):
        name = s.get('frame_dir', f'#{i}')
        for key in ('pred_score', 'gt_label'):
            if key not in s:
                raise KeyError(f"{path}: sample {name} has no '{key}'")
        label = _array(s['gt_label']).reshape(-1)
        if label.size != 1:
            raise ValueError(
                f'{path}: sample {name} has gt_label of shape {label.shape}; expected one class'
            )
        labels.append(int(label[0]))
        scores.append(_array(s['pred_score']).reshape(-1))
        names.append(s.get('frame_dir'))
        for fmt, v in (s.get(PER_FORMAT_KEY) or {}).items():
            per_format.setdefault(fmt, []).append((i, _array(v).reshape(-1)))
    widths = {len(x) for x in scores}
    if len(widths) != 1:
        raise ValueError(f'{path}: pred_score has different lengths across samples: {widths}')
    k = widths.pop()
    n = len(samples)
    formats: Dict[str, np.ndarray] = {}
    for fmt, rows in per_format.items():
        arr = np.full((n, k), np.nan)
        for i, v in rows:
            if v.shape != (k,):
                raise ValueError(
                    f"{path}: sample {names[i] or i} has {PER_FORMAT_KEY}['{fmt}'] of shape "
                    f'{v.shape}; expected ({k},)'
                )
            arr[i] = v
        formats[fmt] = arr
    has_names = all(x is not None for x in names)
    return DumpScores(
        path,
        np.asarray(labels, dtype=np.int64),
        np.stack(scores),
        formats,
        [str(x) for x in names] if has_names else None,
    )


def _with_logits(path: str, i: int, sample: Dict[str, Any]) -> Dict[str, Any]:
    """``sample`` with its per-format logits as the scores and their mean as the ensemble."""
    logits = sample.get(PER_FORMAT_LOGITS_KEY)
    if not logits:
        raise KeyError(
            f"{path}: sample {sample.get('frame_dir', f'#{i}')} has no '{PER_FORMAT_LOGITS_KEY}' "
            '(dumps of MultiSkeletonRecognizer from 2026-11-30 on have it: run tools/test.py '
            'again, or report on --scores probs)'
        )
    mean = np.mean([_array(v).reshape(-1) for v in logits.values()], axis=0)
    return {**sample, 'pred_score': mean, PER_FORMAT_KEY: logits}


def align_dumps(dumps: Mapping[str, DumpScores]) -> Dict[str, DumpScores]:
    """Put every dump in the first one's clip order and check the labels agree.

    Clips are matched by ``frame_dir`` when every dump has it, else by position.

    Args:
        dumps (Mapping[str, DumpScores]): Stream name -> its scores.

    Returns:
        dict[str, DumpScores]: The same dumps, rows aligned.

    """
    streams = list(dumps)
    ref = dumps[streams[0]]
    out = {streams[0]: ref}
    for s in streams[1:]:
        d = dumps[s]
        if len(d.labels) != len(ref.labels):
            raise ValueError(
                f"stream '{s}' ({d.path}) has {len(d.labels)} clips, stream '{streams[0]}' "
                f'({ref.path}) has {len(ref.labels)}'
            )
        if ref.frame_dirs is not None and d.frame_dirs is not None:
            where = {name: i for i, name in enumerate(d.frame_dirs)}
            missing = [name for name in ref.frame_dirs if name not in where]
            if missing:
                raise ValueError(f"stream '{s}' ({d.path}) lacks clips {missing[:5]} of {ref.path}")
            d = d.take(np.asarray([where[name] for name in ref.frame_dirs]))
        bad = np.flatnonzero(d.labels != ref.labels)
        if bad.size:
            i = int(bad[0])
            name = ref.frame_dirs[i] if ref.frame_dirs else f'#{i}'
            raise ValueError(
                f"clip {name}: label {d.labels[i]} in stream '{s}' ({d.path}) but "
                f'{ref.labels[i]} in {ref.path}'
            )
        if d.pred_score.shape != ref.pred_score.shape:
            raise ValueError(
                f"stream '{s}' ({d.path}) scores {d.pred_score.shape[1]} classes, "
                f'{ref.path} {ref.pred_score.shape[1]}'
            )
        out[s] = d
    return out


def epoch_note(epoch_kind: str | None = None, checkpoint: str | None = None) -> Tuple[str, str]:
    """Whether the numbers come from the last or the best epoch.

    Args:
        epoch_kind (str, optional): ``'last'`` or ``'best'``, as the user states it.
            Defaults to None.
        checkpoint (str, optional): The checkpoint the dumps come from; ``best_*`` names
            mean best, ``epoch_N`` / ``iter_N`` names mean last. Defaults to None.

    Returns:
        tuple[str, str]: The kind (``'last'`` or ``'best'``) and a sentence for the table.

    """
    inferred = None
    base = osp.basename(checkpoint) if checkpoint else None
    if base:
        if base.startswith('best') or '_best' in base:
            inferred = 'best'
        elif re.match(r'^(epoch|iter)_\d+\.pth$', base):
            inferred = 'last'
    if epoch_kind is not None and epoch_kind not in ('last', 'best'):
        raise ValueError(f"epoch kind must be 'last' or 'best', got {epoch_kind!r}")
    if epoch_kind and inferred and epoch_kind != inferred:
        raise ValueError(
            f"epoch kind '{epoch_kind}' contradicts the checkpoint name {base} ({inferred})"
        )
    kind = epoch_kind or inferred
    if kind is None:
        raise ValueError(
            'say whether the numbers are from the last or the best epoch (--epoch-kind '
            f'last|best); the checkpoint name {base!r} does not tell'
            if base
            else 'say whether the numbers are from the last or the best epoch (--epoch-kind '
            'last|best, or --checkpoint with the checkpoint file)'
        )
    where = f' (checkpoint {base})' if base else ''
    sentence = (
        f'Numbers from the {"last-epoch" if kind == "last" else "best-epoch"} checkpoint{where}.'
    )
    return kind, sentence


@dataclass
class Report:
    """Rows of the accuracy table and what they come from.

    Attributes:
        rows (list[dict]): ``stream``, ``skeleton``, ``top1``, ``top5``, ``mean_class``
            (fractions) and ``clips`` per row.
        epoch_kind (str): ``'last'`` or ``'best'``.
        note (str): Sentences stating the epoch and the fusion coefficients.

    """

    rows: List[Dict[str, Any]]
    epoch_kind: str
    note: str


def build_report(
    dumps: Mapping[str, Union[str, DumpScores]],
    coeffs: Mapping[str, float] | None = None,
    epoch_kind: str | None = None,
    checkpoint: str | None = None,
    trusted: bool = False,
    scores: str = 'probs',
) -> Report:
    """Evaluate each stream's formats and ensemble, and their fusion.

    Rows, per stream in the given order: each format (on the clips that have it), then
    ``ensemble`` (the dumped ``pred_score``, the mean of the clip's formats); with more than
    one stream, ``fusion`` rows: each format fused over the streams (clips having it in
    every stream) and the fused ensemble (formats averaged, then streams weighted).

    Args:
        dumps (Mapping[str, str | DumpScores]): Stream name (``joint``, ``bone``,
            ``motion``, ...) -> dump path or scores.
        coeffs (Mapping[str, float], optional): Stream -> fusion coefficient. Defaults to
            None: 0.6, 0.6, 0.4 for joint, bone, motion.
        epoch_kind (str, optional): ``'last'`` or ``'best'``. Defaults to None (inferred from
            ``checkpoint``).
        checkpoint (str, optional): Checkpoint the dumps come from. Defaults to None.
        trusted (bool): As in :func:`load_dump`. Defaults to False.
        scores (str): ``'probs'`` (softmax probabilities, mmaction2's ``pred_score``) or
            ``'logits'`` (the linear layers' raw outputs, as the reference code's ensemble
            scripts fuse them); see :func:`read_dump`. Defaults to ``'probs'``.

    Returns:
        Report: The table rows and its note.

    """
    if not dumps:
        raise ValueError('build_report needs at least one dump')
    kind, note = epoch_note(epoch_kind, checkpoint)
    if scores not in SCORE_KINDS:
        raise ValueError(f'scores={scores!r}: expected one of {SCORE_KINDS}')
    streams = align_dumps(
        {
            s: d if isinstance(d, DumpScores) else read_dump(d, trusted=trusted, scores=scores)
            for s, d in dumps.items()
        }
    )
    labels = next(iter(streams.values())).labels
    rows: List[Dict[str, Any]] = []

    def add(stream: str, skeleton: str, s: np.ndarray, keep: np.ndarray | None = None) -> None:
        keep = np.ones(len(labels), bool) if keep is None else keep
        if not keep.any():
            return
        m = accuracy_metrics(s[keep], labels[keep])
        rows.append(dict(stream=stream, skeleton=skeleton, clips=int(keep.sum()), **m))

    for stream, d in streams.items():
        for fmt, s in d.per_format.items():
            have = ~np.isnan(s).any(axis=1)
            add(stream, fmt, np.nan_to_num(s), have)
        add(stream, 'ensemble', d.pred_score)
    if len(streams) > 1:
        coeffs = dict(DEFAULT_STREAM_COEFFS if coeffs is None else coeffs)
        missing = [s for s in streams if s not in coeffs]
        if missing:
            raise KeyError(
                f'no fusion coefficient for streams {missing}; give one per stream (--coeffs)'
            )
        common = set.intersection(*(set(d.per_format) for d in streams.values()))
        for fmt in next(iter(streams.values())).per_format:
            if fmt not in common:
                continue
            per = {s: d.per_format[fmt] for s, d in streams.items()}
            have = np.all([~np.isnan(v).any(axis=1) for v in per.values()], axis=0)
            fused = fuse_streams({s: np.nan_to_num(v) for s, v in per.items()}, coeffs)
            add('fusion', fmt, fused, have)
        if all(d.per_format for d in streams.values()):
            fused = fuse_streams({s: d.per_format for s, d in streams.items()}, coeffs)
        else:
            fused = fuse_streams({s: d.pred_score for s, d in streams.items()}, coeffs)
        add('fusion', 'ensemble', fused)
        note += ' Fusion coefficients ' + ':'.join(streams) + ' = '
        note += ':'.join(f'{coeffs[s]:g}' for s in streams) + '.'
    if scores == 'logits':
        note += ' Scores: raw logits (ensembles and fusion on logits, as the reference code).'
    return Report(rows, kind, note)


COLUMNS = ('stream', 'skeleton', 'top1', 'top5', 'mean_class', 'clips')
HEADERS = ('stream', 'skeleton', 'top-1 (%)', 'top-5 (%)', 'mean-class (%)', 'clips')


def report_markdown(report: Report) -> str:
    """The table as Markdown, with the epoch note above it.

    Args:
        report (Report): From :func:`build_report`.

    Returns:
        str: Markdown text ending with a newline.

    """
    lines = [report.note, '', '| ' + ' | '.join(HEADERS) + ' |']
    lines.append('| ' + ' | '.join(['---'] * 2 + ['---:'] * 4) + ' |')
    for r in report.rows:
        cells = [r['stream'], r['skeleton']]
        cells += [f'{100 * r[k]:.2f}' for k in ('top1', 'top5', 'mean_class')]
        cells.append(str(r['clips']))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def write_report(report: Report, out_dir: str, name: str = 'report') -> Tuple[str, str]:
    """Write ``<name>.md`` and ``<name>.csv`` (percentages, plus an ``epoch`` column).

    Args:
        report (Report): From :func:`build_report`.
        out_dir (str): Folder, created if needed.
        name (str): File stem. Defaults to ``'report'``.

    Returns:
        tuple[str, str]: Paths of the Markdown and CSV files.

    """
    os.makedirs(out_dir, exist_ok=True)
    md_path = osp.join(out_dir, f'{name}.md')
    csv_path = osp.join(out_dir, f'{name}.csv')
    with open(md_path, 'w') as f:
        f.write(report_markdown(report))
    with open(csv_path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([*HEADERS, 'epoch'])
        for r in report.rows:
            writer.writerow(
                [r['stream'], r['skeleton']]
                + [f'{100 * r[k]:.4f}' for k in ('top1', 'top5', 'mean_class')]
                + [r['clips'], report.epoch_kind]
            )
    return md_path, csv_path


__all__ = [
    'DumpScores',
    'Report',
    'UnsafeDumpError',
    'align_dumps',
    'build_report',
    'epoch_note',
    'load_dump',
    'read_dump',
    'report_markdown',
    'write_report',
]
