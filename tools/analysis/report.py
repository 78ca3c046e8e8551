r"""Accuracy tables (Markdown + CSV) from ``tools/test.py --dump`` pickles.

Rows: each skeleton format, the multi-skeleton ``ensemble``, for each stream, then the
``fusion`` of the streams (joint:bone:motion = 0.6:0.6:0.4 unless ``--coeffs``); columns
top-1, top-5 and mean-class accuracy. The Markdown table is printed too.

Example:
    python tools/analysis/report.py --dumps joint=j.pkl bone=b.pkl motion=m.pkl \\
        --out-dir work_dirs/report --epoch-kind last

"""

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from msclr_mm.evaluation.report import (  # noqa: E402
    build_report,
    report_markdown,
    write_report,
)


def parse_dumps(items):
    """``{stream: path}`` from ``STREAM=PATH`` items; exits with a message on a bad item."""
    dumps = {}
    for item in items:
        stream, sep, path = item.partition('=')
        if not sep or not stream or not path:
            raise SystemExit(f'--dumps takes STREAM=PATH (e.g. joint=preds.pkl), got {item!r}')
        if stream in dumps:
            raise SystemExit(f'--dumps names stream {stream!r} twice')
        if not osp.isfile(path):
            raise SystemExit(f'dump {path!r} of stream {stream!r} does not exist')
        dumps[stream] = path
    return dumps


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dumps', nargs='+', required=True, metavar='STREAM=PATH')
    parser.add_argument(
        '--coeffs',
        nargs='+',
        type=float,
        help='fusion coefficient per stream, in --dumps order (default joint 0.6, bone 0.6, '
        'motion 0.4)',
    )
    parser.add_argument('--out-dir', required=True, help='folder for report.md and report.csv')
    parser.add_argument('--name', default='report', help='file stem (default: report)')
    parser.add_argument('--epoch-kind', choices=['last', 'best'])
    parser.add_argument(
        '--checkpoint', help='checkpoint the dumps come from (best_* -> best, epoch_N -> last)'
    )
    parser.add_argument(
        '--scores',
        choices=['probs', 'logits'],
        default='probs',
        help="probs: softmax probabilities (default, mmaction2); logits: the linear layers' "
        'raw outputs, fused as the reference code (AimCLR ensemble_ntu_cs.py) fuses them',
    )
    parser.add_argument(
        '--trust-dump',
        action='store_true',
        help='unpickle arbitrary objects from the dumps (trusted files only)',
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    dumps = parse_dumps(args.dumps)
    coeffs = None
    if args.coeffs is not None:
        if len(args.coeffs) != len(dumps):
            raise SystemExit(
                f'--coeffs has {len(args.coeffs)} values for {len(dumps)} streams {list(dumps)}'
            )
        coeffs = dict(zip(dumps, args.coeffs))
    try:
        report = build_report(
            dumps,
            coeffs=coeffs,
            epoch_kind=args.epoch_kind,
            checkpoint=args.checkpoint,
            trusted=args.trust_dump,
            scores=args.scores,
        )
    except (ValueError, KeyError) as err:
        raise SystemExit(f'report: {err}') from None
    md_path, csv_path = write_report(report, args.out_dir, args.name)
    print(report_markdown(report), end='')
    print(f'\nwrote {md_path} and {csv_path}', file=sys.stderr)


if __name__ == '__main__':
    main()
