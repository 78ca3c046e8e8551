"""Check annotation pickles before training: schema, shapes, values, splits, frame alignment.

Each FILE is loaded with the safe loader and validated against its skeleton format (from
``--format``, one per file; else the pickle's ``meta['format']``; else the file name stem,
e.g. ``kinect25.pkl``) by :func:`msclr_mm.datasets.validate_annotations`. Also reported:
clips whose keypoints are all zero, clips in both halves of a ``*_train`` / ``*_val`` split
pair, and, when several files are given, clips whose formats disagree on frames or label
(:func:`msclr_mm.datasets.check_alignment`). Prints a summary table per format and every
problem found; exits 1 when there is any.

Example:
    python tools/data/check_pkl.py data/ntu60/kinect25.pkl data/ntu60/kinect25_2d.pkl
"""

import argparse
import os.path as osp
import sys
from collections import Counter

import numpy as np

from msclr_mm.datasets import (
    AnnotationError,
    check_alignment,
    load_annotation_file,
    validate_annotations,
)
from msclr_mm.datasets.converters.arrays import load_format_spec
from msclr_mm.datasets.converters.common import ConversionError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('files', nargs='+', help='annotation pickles')
    parser.add_argument(
        '--format',
        nargs='+',
        dest='formats',
        help='format of each file (name or .json/.py), in file order; default: inferred',
    )
    return parser.parse_args(argv)


def resolve_format(path, data, given):
    """The file's SkeletonFormat: ``--format``, else ``meta['format']``, else the stem."""
    if given:
        return load_format_spec(given)
    meta = data.get('meta') if isinstance(data, dict) else None
    if isinstance(meta, dict) and meta.get('format_spec'):
        from msclr_mm.skeletons import get_format

        return get_format(meta['format_spec'])
    if isinstance(meta, dict) and isinstance(meta.get('format'), str):
        return load_format_spec(meta['format'])
    stem = osp.splitext(osp.basename(path))[0]
    try:
        return load_format_spec(stem)
    except ConversionError:
        raise ConversionError(
            f'{path}: cannot infer the skeleton format from the file name {stem!r} (no such '
            'format) and the pickle has no meta format; pass --format'
        ) from None


def extra_problems(data, fmt, path):
    """Problems beyond the shared validator: all-zero clips, train/val overlap."""
    problems = []
    for ann in data['annotations']:
        kp = ann.get('keypoint') if isinstance(ann, dict) else None
        if isinstance(kp, np.ndarray) and kp.size and kp.dtype.kind in 'fiu':
            if not np.any(kp):
                problems.append(
                    AnnotationError(
                        path,
                        'every joint is zero on every frame: an empty clip; expected a '
                        'skeleton (drop the clip or fix its conversion)',
                        frame_dir=ann.get('frame_dir'),
                        field='keypoint',
                        fmt=fmt.name,
                    )
                )
    split = data['split']
    for name in split:
        if not str(name).endswith('_train'):
            continue
        other = str(name)[: -len('_train')] + '_val'
        if other in split and isinstance(split[name], list) and isinstance(split[other], list):
            both = sorted(set(split[name]) & set(split[other]))
            if both:
                problems.append(
                    AnnotationError(
                        path,
                        f'{len(both)} clip(s) are in both {name!r} and {other!r}, e.g. '
                        f'{both[:3]}; expected disjoint train and val',
                        frame_dir=both[0],
                        field='split',
                        fmt=fmt.name,
                    )
                )
    return problems


def summarize(data, fmt, path):
    """One summary row: format, clips, classes, frames min/median/max, persons."""
    anns = [a for a in data['annotations'] if isinstance(a, dict)]
    labels = {a.get('label') for a in anns}
    frames = [a['total_frames'] for a in anns if isinstance(a.get('total_frames'), int)]
    persons = Counter(
        a['keypoint'].shape[0]
        for a in anns
        if isinstance(a.get('keypoint'), np.ndarray) and a['keypoint'].ndim == 4
    )
    frame_text = f'{min(frames)}/{int(np.median(frames))}/{max(frames)}' if frames else '-'
    person_text = ' '.join(f'{m}:{n}' for m, n in sorted(persons.items())) or '-'
    splits = ' '.join(f'{k}={len(v)}' for k, v in data['split'].items() if isinstance(v, list))
    return [fmt.name, str(len(anns)), str(len(labels)), frame_text, person_text, splits, path]


def print_table(rows):
    """Print ``rows`` (lists of strings, one per file) as a left-aligned table with a header."""
    header = ['format', 'clips', 'classes', 'frames min/med/max', 'persons M:clips', 'splits',
              'file']  # fmt: skip
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def main(argv=None):
    args = parse_args(argv)
    if args.formats and len(args.formats) != len(args.files):
        print(
            f'error: --format got {len(args.formats)} format(s) for {len(args.files)} file(s); '
            'give one per file, in order, or none to infer them',
            file=sys.stderr,
        )
        return 2
    problems, rows = [], []
    loaded, paths = {}, {}
    for k, path in enumerate(args.files):
        try:
            data = load_annotation_file(path)
        except AnnotationError as exc:
            problems.append(exc)
            continue
        try:
            fmt = resolve_format(path, data, args.formats[k] if args.formats else None)
        except ConversionError as exc:
            problems.append(exc)
            continue
        problems += validate_annotations(data, fmt, path, collect=True)
        problems += extra_problems(data, fmt, path)
        rows.append(summarize(data, fmt, path))
        if fmt.name in loaded:
            problems.append(
                ConversionError(f'{path}: format {fmt.name!r} is also given by {paths[fmt.name]}')
            )
            continue
        loaded[fmt.name], paths[fmt.name] = data, path
    if len(loaded) > 1:
        try:
            problems += check_alignment(loaded, paths, collect=True)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(
                ConversionError(f'cannot check frame alignment (fix the problems above): {exc}')
            )
    if rows:
        print_table(rows)
    if problems:
        print(f'\n{len(problems)} problem(s):', file=sys.stderr)
        for p in problems:
            print(f'  - {p}', file=sys.stderr)
        return 1
    checked = ' and frame alignment across formats' if len(loaded) > 1 else ''
    print(f'\nOK: {len(rows)} file(s) valid{checked}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
