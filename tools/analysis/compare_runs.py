r"""Does a switch change what pretraining learns? Two finished sets of seeded runs, paired.

``compare_precision.py`` pairs the fp32 and bf16 runs of each seed in one work dir. This
pairs the runs of each seed across two work dirs that differ by one setting (two
``compare_precision.py --precisions fp32 --cfg-options ...`` runs, say
``model.backbone.graph_first=False`` and ``=widening``), reading what they left (nothing is
trained): per seed the final loss, kNN and probe accuracy of both, then

* loss curves: each ``OTHER`` run's distance from the ``REF`` run of its seed against the
  distance between ``REF`` runs of consecutive seeds (the run-to-run noise), as mean
  |a - b| / mean loss and max |a - b| / mean loss;
* probe and kNN: the paired difference ``OTHER - REF`` per seed, its mean and 95 %
  t-interval, with a ``within`` / ``outside`` / ``undecided`` verdict for the probe
  against ``--tolerance`` points.

``--keys`` names dumped-config values to show for both sides (what really differed).

Example::

    python tools/analysis/compare_precision.py --work-dir work_dirs/cmp_nogf \
        --precisions fp32 --seeds 0 1 2 3 4 5 6 --cfg-options model.backbone.graph_first=False
    python tools/analysis/compare_precision.py --work-dir work_dirs/cmp_gf \
        --precisions fp32 --seeds 0 1 2 3 4 5 6 --cfg-options model.backbone.graph_first=widening
    python tools/analysis/compare_runs.py work_dirs/cmp_nogf work_dirs/cmp_gf \
        --seeds 0 1 2 3 4 5 6 --keys model.backbone.graph_first

The last output line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
from typing import Any, Dict, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from compare_precision import (  # noqa: E402
    PRETRAIN_CONFIG,
    curve_distance,
    dumped_config_value,
    paired_summary,
    read_run,
    run_name,
)

METRICS = ('probe_top1', 'knn_top1', 'knn_nn1')


def compare(
    ref: Dict[int, Dict[str, Any]], other: Dict[int, Dict[str, Any]], tolerance: float
) -> Dict[str, Any]:
    """Curve distances and paired differences of two sets of runs keyed by seed.

    Args:
        ref (dict[int, dict]): ``{seed: read_run(...)}``, the reference side.
        other (dict[int, dict]): The compared side, the same seeds.
        tolerance (float): The probe's equivalence band, in percentage points.

    Returns:
        dict: ``other_vs_ref`` (``{seed: curve_distance}``), ``ref_seed_pairs``
        (``{'S-S2': curve_distance}`` of consecutive seeds), ``curve`` (means of
        ``rel_mean`` / ``rel_max`` of both and their ratio ``other_over_noise``; the ratio
        is None with a single seed) and, per metric of :data:`METRICS` that both sides
        have, a ``paired_summary`` in percentage points (``OTHER - REF``) with its
        ``seeds``.

    """
    if sorted(ref) != sorted(other):
        raise ValueError(f'the two sides have different seeds: {sorted(ref)} vs {sorted(other)}')
    seeds = sorted(ref)
    out: Dict[str, Any] = dict(
        other_vs_ref={s: curve_distance(ref[s]['curve'], other[s]['curve']) for s in seeds},
        ref_seed_pairs={
            f'{a}-{b}': curve_distance(ref[a]['curve'], ref[b]['curve'])
            for a, b in zip(seeds[:-1], seeds[1:])
        },
    )
    curve: Dict[str, Any] = {}
    for name in ('other_vs_ref', 'ref_seed_pairs'):
        dists = out[name].values()
        curve[name] = {
            k: (sum(d[k] for d in dists) / len(dists) if dists else None)
            for k in ('rel_mean', 'rel_max')
        }
    noise = curve['ref_seed_pairs']
    curve['other_over_noise'] = {
        k: (curve['other_vs_ref'][k] / noise[k] if noise[k] else None)
        for k in ('rel_mean', 'rel_max')
    }
    out['curve'] = curve
    for key in METRICS:
        kept = [s for s in seeds if ref[s][key] is not None and other[s][key] is not None]
        if kept:
            a = [100 * ref[s][key] for s in kept]
            b = [100 * other[s][key] for s in kept]
            tol = tolerance if key == 'probe_top1' else None
            out[key] = paired_summary(a, b, tol) | dict(seeds=kept)
    return out


def format_table(report: Dict[str, Any]) -> str:
    """A plain-text table: per seed both sides, then the curve and paired summaries."""

    def pct(v):
        return '-' if v is None else f'{100 * v:.1f}'

    lines = [
        f'{"seed":>4} {"loss(end) ref/other":>20} {"kNN top1":>13} {"kNN nn1":>13} '
        f'{"probe top1":>13}'
    ]
    for seed, (r, o) in report['runs'].items():
        lines.append(
            f'{seed:>4} {r["loss_last_epoch"]:>9.4f}/{o["loss_last_epoch"]:<10.4f} '
            f'{pct(r["knn_top1"]):>6}/{pct(o["knn_top1"]):<6} '
            f'{pct(r["knn_nn1"]):>6}/{pct(o["knn_nn1"]):<6} '
            f'{pct(r["probe_top1"]):>6}/{pct(o["probe_top1"]):<6}'
        )
    s = report['summary']
    c = s['curve']
    lines.append('')
    lines.append(
        f'curves: other vs ref {c["other_vs_ref"]["rel_mean"]:.4f} (max '
        f'{c["other_vs_ref"]["rel_max"]:.4f}); ref seed pairs '
        + (
            f'{c["ref_seed_pairs"]["rel_mean"]:.4f} (max {c["ref_seed_pairs"]["rel_max"]:.4f})'
            if c['ref_seed_pairs']['rel_mean'] is not None
            else '- (one seed)'
        )
    )
    for key in METRICS:
        if key in s:
            p = s[key]
            band = '' if p['ci95'] is None else f' [{p["ci95"][0]:+.1f}, {p["ci95"][1]:+.1f}]'
            verdict = f', {p["verdict"]}' if 'verdict' in p else ''
            lines.append(
                f'{key}: other - ref = {p["mean"]:+.2f}{band} points over {p["n"]} seeds'
                f'{verdict} (ref {p["ref_mean"]:.1f}, other {p["other_mean"]:.1f})'
            )
    return '\n'.join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (defaults in the help)."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument('ref', help='work dir of the reference runs (compare_precision.py)')
    parser.add_argument('other', help='work dir of the compared runs')
    parser.add_argument('--seeds', type=int, nargs='+', required=True)
    parser.add_argument('--precision', default='fp32', help='the runs to pair: <precision>_s<S>')
    parser.add_argument('--pretrain-config', default=PRETRAIN_CONFIG, help="the runs' config")
    parser.add_argument(
        '--tolerance', type=float, default=1.0, help='probe equivalence band, percentage points'
    )
    parser.add_argument('--tail', type=int, default=11, help='iterations averaged, final loss')
    parser.add_argument('--keys', nargs='*', default=[], help='dumped-config values to show')
    parser.add_argument('--json-out', default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Dict[str, Any]:
    """Entry point; returns the report."""
    args = parse_args(argv)
    sides = {}
    for side, work_dir in (('ref', args.ref), ('other', args.other)):
        sides[side] = {
            s: read_run(
                osp.join(work_dir, run_name(args.precision, s)),
                args.pretrain_config,
                args.precision,
                s,
                args.tail,
            )
            for s in args.seeds
        }
    first = osp.join(run_name(args.precision, args.seeds[0]), 'pretrain')
    report = dict(
        ref=args.ref,
        other=args.other,
        seeds=args.seeds,
        keys={
            key: [
                dumped_config_value(osp.join(d, first), args.pretrain_config, key)
                for d in (args.ref, args.other)
            ]
            for key in args.keys
        },
        summary=compare(sides['ref'], sides['other'], args.tolerance),
        runs={
            s: [
                {k: v for k, v in sides[side][s].items() if k != 'curve'}
                for side in ('ref', 'other')
            ]
            for s in args.seeds
        },
    )
    for key, (a, b) in report['keys'].items():
        print(f'{key}: ref {a!r}, other {b!r}')
    print(format_table(report))
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump(report, f, indent=1)
    print(json.dumps(report))
    return report


if __name__ == '__main__':
    main()
