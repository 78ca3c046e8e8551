"""Turn per-clip pose arrays (.npy / .npz) from any estimator into one annotation pickle.

Each file in SRC_DIR holds one clip, ``(T, V, C)`` or ``(M, T, V, C)``, in the joint order
of ``--format`` (a registered name such as ``smplx42``, or a JSON / Python file declaring
the format). Labels (and optional ``split...`` columns) come from ``--labels CSV`` with
columns ``filename,label[,split...]``. ``--unit`` (default: the format's) is recorded in
the pickle's ``meta`` (``{'format', 'unit'}``); coordinates are stored as given: the
dataset's canonical normalisation (centre and body-size scale) makes the unit irrelevant
for training.

Example (MeTRAbs SMPL-X in millimetres):
    python tools/data/arrays_to_pkl.py metrabs_out/ --format smplx42 --unit mm \
        --labels labels.csv --out data/myset/smplx42.pkl --workers 4
"""

import argparse
import os.path as osp
import sys
from collections import Counter
from functools import partial

from msclr_mm.datasets.converters.arrays import (
    array_to_annotation,
    load_array,
    load_format_spec,
    stem,
)
from msclr_mm.datasets.converters.common import (
    ConversionError,
    atomic_pickle,
    check_outputs,
    fail,
    list_inputs,
    read_labels_csv,
    run_per_file,
    splits_from_labels,
)
from msclr_mm.skeletons import list_formats


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('src_dir', help='folder of per-clip .npy / .npz arrays (read only)')
    parser.add_argument('--format', required=True, help='format name, or a .json / .py file')
    parser.add_argument('--labels', required=True, help='CSV: filename,label[,split...]')
    parser.add_argument('--out', help='output pickle (default: SRC_DIR/../<format>.pkl)')
    parser.add_argument('--unit', help="unit of the coordinates (default: the format's)")
    parser.add_argument('--key', help='array name inside .npz files (default: the only one)')
    parser.add_argument('--img-shape', nargs=2, type=int, metavar=('H', 'W'), help='2D only')
    parser.add_argument('--nan-to-zero', action='store_true', help='store NaN joints as 0')
    parser.add_argument(
        '--allow-unlabelled', action='store_true', help='skip arrays without a CSV row'
    )
    parser.add_argument('--workers', type=int, default=1, help='parallel processes')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing pickle')
    return parser.parse_args(argv)


def _convert(item, fmt, key, img_shape, nan_to_zero):
    """Worker: ``(annotation or None, error or None)``."""
    path, label = item
    try:
        arr = load_array(path, key)
        ann = array_to_annotation(arr, stem(path), label, fmt, img_shape, nan_to_zero, path)
        return ann, None
    except ConversionError as exc:
        return None, str(exc)


def main(argv=None):
    args = parse_args(argv)
    try:
        fmt = load_format_spec(args.format)
        out = args.out or osp.join(osp.dirname(osp.abspath(args.src_dir)), f'{fmt.name}.pkl')
        check_outputs([out], args.overwrite)
        files = list_inputs(args.src_dir, ('.npy', '.npz'), 'per-clip .npy/.npz arrays')
        rows = read_labels_csv(args.labels)
        unlabelled = [stem(f) for f in files if stem(f) not in rows]
        if unlabelled and not args.allow_unlabelled:
            raise ConversionError(
                f'labels file {args.labels} has no row for {unlabelled[:10]}'
                + (f' and {len(unlabelled) - 10} more' if len(unlabelled) > 10 else '')
                + ' (pass --allow-unlabelled to skip them)'
            )
        dup = sorted(name for name, n in Counter(stem(f) for f in files).items() if n > 1)
        if dup:
            raise ConversionError(f'{args.src_dir}: clips {dup} exist as both .npy and .npz')
    except ConversionError as exc:
        return fail(str(exc))
    items = [(f, int(rows[stem(f)]['label'])) for f in files if stem(f) in rows]
    if not items:
        return fail(f'no array in {args.src_dir} has a row in {args.labels}')
    work = partial(
        _convert, fmt=fmt, key=args.key, img_shape=args.img_shape, nan_to_zero=args.nan_to_zero
    )
    results = run_per_file(work, items, args.workers, 'arrays')
    errors = [err for _, err in results if err]
    if errors:
        return fail(f'{len(errors)} bad array(s), nothing written:\n  ' + '\n  '.join(errors))
    anns = [ann for ann, _ in results]
    names = [a['frame_dir'] for a in anns]
    splits = splits_from_labels(rows, names) or {'all': names}
    meta = dict(format=fmt.name, unit=args.unit or fmt.unit)
    if fmt.name not in list_formats():
        meta['format_spec'] = fmt.to_dict()
    atomic_pickle(dict(split=splits, annotations=anns, meta=meta), out)
    print(
        f'wrote {len(anns)} clips of format {fmt.name} ({meta["unit"]}) to {out}; splits: '
        + ', '.join(f'{k} {len(v)}' for k, v in splits.items())
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
