"""Compare the optimised (bf16 autocast, channels-last) and the eager fp32 pretraining numerics.

Pretrains the same config in both precisions for each of several seeds with
``tools/train.py`` (a subprocess of this interpreter, one run at a time):

* ``fp32_s<S>``: eager float32 (``AutocastOptimWrapper(enabled=False)``, contiguous trunk),
* ``bf16_s<S>``: the optimised path (bf16 autocast on the CPU too, channels-last trunk),

with the config's format rule (``--rule`` overrides it) and the loss logged every
iteration. Each run's last checkpoint is then linearly probed as ``tools/demo.sh`` does
(``tools/train.py PROBE --no-validate --cfg-options model.backbone.init_cfg.checkpoint=CKPT``,
then ``tools/test.py``), with the run's seed. Reported per run: the final kNN accuracies of
the pretraining (``knn/top1``, ``knn/nn1``), the probe's test accuracy (``acc/top1`` of the
multi-skeleton ensemble, the probe config's test pipeline, xsub_val) and the loss curve.

Then, over the seeds:

* loss curves: the distance of each ``bf16_s<S>`` from ``fp32_s<S>`` (same seed) against
  the distance between the fp32 runs of consecutive seeds (the run-to-run noise): mean
  |a - b| / mean loss and max |a - b| / mean loss over the common iterations;
* probe and kNN: the paired difference bf16 - fp32 per seed, its mean, standard deviation
  and 95 % t-interval of the mean, and the spread of the fp32 runs over the seeds; the
  probe verdict is ``within`` when the interval lies inside +-``--tolerance`` points,
  ``outside`` when it lies wholly beyond, ``undecided`` otherwise (more seeds narrow it).

A table is printed and the last line is the JSON report, also written to
``WORK_DIR/compare_precision.json``. A stage whose ``DONE`` marker exists is reused (delete
the run's folder to redo it), so more seeds can be added to a finished comparison.

Example::

    python tools/analysis/compare_precision.py --work-dir work_dirs/compare_precision \
        --seeds 0 1 2 3 4 5 6
    python tools/analysis/compare_precision.py --seeds 0 1 --cfg-options train_cfg.max_epochs=2

"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Any, Dict, List, Sequence

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN_CONFIG = osp.join(REPO, 'configs', 'demo', 'msaimclr_demo.py')
PROBE_CONFIG = osp.join(
    REPO, 'configs', 'eval', 'linear_1xb16-joint-32f-kinect25+smpl24+coco17-5e_demo.py'
)
PRECISIONS = ('fp32', 'bf16')

# eager float32: AutocastOptimWrapper(enabled=False) is a plain OptimWrapper that accepts the
# dtype key of the pretraining schedules
FP32_OPTIONS = [
    'optim_wrapper.type=AutocastOptimWrapper',
    'optim_wrapper.enabled=False',
    'model.backbone.channels_last=False',
    'model.backbone.compile=False',
]
# the optimised path on a CPU: autocast must list 'cpu' (the wrapper's default is cuda only);
# mmengine's DictAction parses "[...]" as a list, so this becomes device_types=['cpu']
BF16_OPTIONS = [
    'optim_wrapper.type=AutocastOptimWrapper',
    'optim_wrapper.enabled=True',
    "optim_wrapper.device_types=['cpu']",
    'model.backbone.channels_last=True',
    'model.backbone.compile=False',
]


def run_name(precision: str, seed: int) -> str:
    """The name (and folder) of one run, e.g. ``'bf16_s3'``."""
    return f'{precision}_s{seed}'


def pretrain_options(
    precision: str, seed: int, log_interval: int = 1, rule: str | None = None
) -> List[str]:
    """``--cfg-options`` of one run's pretraining.

    Args:
        precision (str): ``'fp32'`` or ``'bf16'``.
        seed (int): The run's seed.
        log_interval (int): Log the loss every this many iterations, unsmoothed
            (``log_processor.window_size=1``). Defaults to 1; 0 keeps the config's logging.
        rule (str, optional): ``SampleFormatViews`` rule to set (the first transform of the
            training pipeline). Defaults to None: the config's.

    Returns:
        list[str]: ``key=value`` strings.

    """
    if precision not in PRECISIONS:
        raise ValueError(f'unknown precision {precision!r}, expected one of {PRECISIONS}')
    opts = [f'randomness.seed={seed}']
    if rule is not None:
        opts.append(f'train_dataloader.dataset.pipeline.0.rule={rule}')
    if log_interval > 0:
        opts += [f'default_hooks.logger.interval={log_interval}', 'log_processor.window_size=1']
    return opts + (BF16_OPTIONS if precision == 'bf16' else FP32_OPTIONS)


def probe_options(checkpoint: str, seed: int) -> List[str]:
    """``--cfg-options`` of a probe's training and test: the pretrained encoder and the seed.

    Args:
        checkpoint (str): The pretraining checkpoint (its ``backbone.`` weights are loaded).
        seed (int): The probe's seed.

    Returns:
        list[str]: ``key=value`` strings.

    """
    return [f'model.backbone.init_cfg.checkpoint={checkpoint}', f'randomness.seed={seed}']


def read_scalars(path: str) -> List[Dict[str, Any]]:
    """The records of an mmengine ``vis_data/scalars.json`` (one JSON object a line).

    Args:
        path (str): The file.

    Returns:
        list[dict]: The records, in file order (blank lines skipped).

    """
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def loss_curve(records: Sequence[Dict[str, Any]], key: str = 'loss') -> Dict[int, float]:
    """``{step: loss}`` of the training records (those holding ``key``).

    A step logged twice (a resumed run) keeps its last value.

    Args:
        records (Sequence[dict]): ``read_scalars`` output.
        key (str): The loss key. Defaults to ``'loss'``.

    Returns:
        dict[int, float]: Sorted by step.

    """
    curve = {int(r['step']): float(r[key]) for r in records if key in r}
    return dict(sorted(curve.items()))


def last_metrics(records: Sequence[Dict[str, Any]], prefix: str = 'knn/') -> Dict[str, float]:
    """The metrics (keys starting with ``prefix``) of the last record holding any.

    Args:
        records (Sequence[dict]): ``read_scalars`` output.
        prefix (str): Defaults to ``'knn/'``.

    Returns:
        dict[str, float]: Empty when no record has such a key.

    """
    for r in reversed(records):
        metrics = {k: float(v) for k, v in r.items() if k.startswith(prefix)}
        if metrics:
            return metrics
    return {}


def curve_distance(ref: Dict[int, float], other: Dict[int, float]) -> Dict[str, float]:
    """Distance of loss curve ``other`` from ``ref`` over their common steps.

    Args:
        ref (dict[int, float]): The reference curve (``{step: loss}``).
        other (dict[int, float]): The compared curve.

    Returns:
        dict: ``steps`` (common steps), ``mean_abs`` (mean |other - ref|), ``max_abs``,
        ``rel_mean`` (``mean_abs`` / mean ref loss), ``rel_max`` (``max_abs`` / mean ref
        loss), ``argmax_step`` (where ``max_abs`` is reached), ``first_abs`` (|other - ref|
        at the first common step: zero up to rounding for identical arithmetic).

    """
    steps = sorted(set(ref) & set(other))
    if not steps:
        raise ValueError('the loss curves have no step in common')
    diffs = [abs(other[s] - ref[s]) for s in steps]
    mean_ref = sum(ref[s] for s in steps) / len(steps)
    mean_abs = sum(diffs) / len(diffs)
    i_max = max(range(len(diffs)), key=diffs.__getitem__)
    return dict(
        steps=len(steps),
        mean_abs=mean_abs,
        max_abs=diffs[i_max],
        rel_mean=mean_abs / mean_ref,
        rel_max=diffs[i_max] / mean_ref,
        argmax_step=steps[i_max],
        first_abs=diffs[0],
    )


def tail_mean(curve: Dict[int, float], n: int) -> float:
    """Mean of the last ``n`` values of ``curve`` (all of them when shorter)."""
    values = list(curve.values())[-n:]
    return sum(values) / len(values)


def latest(pattern: str) -> str:
    """The newest path matching ``pattern`` (mmengine timestamps sort by time)."""
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise FileNotFoundError(f'nothing matches {pattern}')
    return paths[-1]


def test_metrics(test_dir: str) -> Dict[str, float]:
    """The metrics ``tools/test.py`` wrote to ``test_dir/<timestamp>/<timestamp>.json``."""
    with open(latest(osp.join(test_dir, '*', '*.json'))) as f:
        return {k: float(v) for k, v in json.load(f).items() if isinstance(v, (int, float))}


def dumped_config_value(work_dir: str, config: str, key: str) -> Any:
    """A value of the config mmengine dumped to ``work_dir`` (what the run really used).

    Args:
        work_dir (str): The run's work dir.
        config (str): The config file the run was started from (its basename is the dump's).
        key (str): Dotted key, e.g. ``'optim_wrapper.device_types'``.

    Returns:
        Any: The value, or None where a key is missing.

    """
    from mmengine.config import Config

    cfg = Config.fromfile(
        osp.join(work_dir, osp.basename(config)), import_custom_modules=False
    ).to_dict()
    for part in key.split('.'):
        if not isinstance(cfg, dict) or part not in cfg:
            return None
        cfg = cfg[part]
    return cfg


def run_tool(cmd: List[str], log: str) -> float:
    """Run ``cmd`` with its output to ``log``; exit with its tail on failure.

    Returns:
        float: Wall seconds.

    """
    print(f'  $ {" ".join(cmd)}\n    (log: {log})', flush=True)
    t0 = time.time()
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    with open(log, 'w') as f:
        status = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=os.getcwd(), env=env)
    if status != 0:
        with open(log) as f:
            tail = f.readlines()[-30:]
        sys.exit(f'failed (exit {status}): {" ".join(cmd)}\n' + ''.join(tail))
    return time.time() - t0


def stage(done: str, cmd: List[str], log: str) -> float | None:
    """Run a stage unless its ``done`` marker exists; write the marker after it.

    Returns:
        float | None: Wall seconds, None when reused.

    """
    if osp.exists(done):
        print(f'  reused: {osp.dirname(done)} (delete it to redo)', flush=True)
        return None
    seconds = run_tool(cmd, log)
    with open(done, 'w') as f:
        f.write(f'{seconds:.1f}\n')
    return seconds


def paired_summary(
    ref: Sequence[float | None], other: Sequence[float | None], tolerance: float | None = None
) -> Dict[str, Any]:
    """Statistics of the paired differences ``other[i] - ref[i]`` (one pair per seed).

    Args:
        ref (Sequence[float | None]): The reference values (fp32), one per seed.
        other (Sequence[float | None]): The compared values (bf16), same order. Pairs with a
            None on either side are left out.
        tolerance (float, optional): Half-width of the equivalence band, in the values'
            units. Defaults to None: no verdict.

    Returns:
        dict: ``n`` (pairs), ``diffs``, ``mean``, ``std`` (sample standard deviation; None
        below 2 pairs), ``ci95`` (``[lo, hi]``, the 95 % Student-t interval of the mean;
        None below 2 pairs), ``ref_mean``, ``ref_std`` (spread of the reference over the
        seeds), ``other_mean``, and with ``tolerance`` a ``verdict``: ``'within'`` (the
        interval inside +-tolerance), ``'outside'`` (wholly beyond it) or ``'undecided'``.

    """
    pairs = [(a, b) for a, b in zip(ref, other, strict=True) if a is not None and b is not None]
    n = len(pairs)
    if n == 0:
        raise ValueError('no pair has both values')
    diffs = [b - a for a, b in pairs]

    def mean(xs):
        return sum(xs) / len(xs)

    def std(xs):
        m = mean(xs)
        return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None

    out: Dict[str, Any] = dict(
        n=n,
        diffs=diffs,
        mean=mean(diffs),
        std=std(diffs),
        ci95=None,
        ref_mean=mean([a for a, _ in pairs]),
        ref_std=std([a for a, _ in pairs]),
        other_mean=mean([b for _, b in pairs]),
    )
    if n > 1:
        from scipy.stats import t

        half = float(t.ppf(0.975, n - 1)) * out['std'] / math.sqrt(n)
        out['ci95'] = [out['mean'] - half, out['mean'] + half]
    if tolerance is not None:
        lo, hi = out['ci95'] or (out['mean'], out['mean'])
        if n > 1 and -tolerance <= lo and hi <= tolerance:
            out['verdict'] = 'within'
        elif n > 1 and (lo > tolerance or hi < -tolerance):
            out['verdict'] = 'outside'
        else:
            out['verdict'] = 'undecided'
    return out


def run_one(precision: str, seed: int, args: argparse.Namespace) -> Dict[str, Any]:
    """Pretrain, probe and test one run; gather its report."""
    py = sys.executable
    run = run_name(precision, seed)
    root = osp.join(args.work_dir, run)
    pre_dir, probe_dir, test_dir = (osp.join(root, d) for d in ('pretrain', 'probe', 'test'))
    for d in (pre_dir, probe_dir, test_dir):
        os.makedirs(d, exist_ok=True)
    extra = args.cfg_options or []
    probe_extra = args.probe_cfg_options or []
    wall = {}

    print(f'[{run}] pretrain', flush=True)
    cmd = [py, osp.join(REPO, 'tools', 'train.py'), args.pretrain_config, '--work-dir', pre_dir]
    opts = pretrain_options(precision, seed, args.log_interval, args.rule) + extra
    wall['pretrain_s'] = stage(
        osp.join(pre_dir, 'DONE'), cmd + ['--cfg-options', *opts], osp.join(root, 'pretrain.log')
    )
    with open(osp.join(pre_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()

    print(f'[{run}] linear probe on {checkpoint}', flush=True)
    popts = probe_options(checkpoint, seed) + probe_extra
    cmd = [py, osp.join(REPO, 'tools', 'train.py'), args.probe_config, '--work-dir', probe_dir]
    cmd += ['--no-validate', '--cfg-options', *popts]
    wall['probe_s'] = stage(osp.join(probe_dir, 'DONE'), cmd, osp.join(root, 'probe.log'))
    with open(osp.join(probe_dir, 'last_checkpoint')) as f:
        probe_ckpt = f.read().strip()
    cmd = [py, osp.join(REPO, 'tools', 'test.py'), args.probe_config, probe_ckpt]
    cmd += ['--work-dir', test_dir, '--cfg-options', *popts]
    wall['test_s'] = stage(osp.join(test_dir, 'DONE'), cmd, osp.join(root, 'test.log'))
    return read_run(root, args.pretrain_config, precision, seed, args.tail) | dict(wall=wall)


def read_run(
    root: str, pretrain_config: str, precision: str, seed: int, tail: int = 11
) -> Dict[str, Any]:
    """The report of one finished run, from its folder (nothing is run).

    Args:
        root (str): The run's folder, ``WORK_DIR/<precision>_s<seed>``, holding
            ``pretrain/``, ``probe/`` and ``test/`` as :func:`run_one` leaves them.
        pretrain_config (str): The pretraining config the run was started from (its dumped
            copy is read for the settings the run really used).
        precision (str): The run's precision label.
        seed (int): The run's seed.
        tail (int): Iterations averaged for ``loss_last_epoch``. Defaults to 11.

    Returns:
        dict: ``precision``, ``seed``, ``checkpoint``, ``rule``, ``optim_wrapper``,
        ``channels_last``, ``iterations``, ``loss_first``, ``loss_last_epoch``,
        ``knn_top1``, ``knn_nn1``, ``probe_top1`` (fractions) and ``curve``
        (``{step: loss}``).

    Raises:
        FileNotFoundError: A stage of the run has not finished (no ``DONE`` marker).

    """
    pre_dir, test_dir = osp.join(root, 'pretrain'), osp.join(root, 'test')
    for d in (pre_dir, osp.join(root, 'probe'), test_dir):
        if not osp.exists(osp.join(d, 'DONE')):
            raise FileNotFoundError(f'{d}: not finished (no DONE marker); run it first')
    with open(osp.join(pre_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    records = read_scalars(latest(osp.join(pre_dir, '*', 'vis_data', 'scalars.json')))
    curve = loss_curve(records)
    knn = last_metrics(records, 'knn/')
    probe = test_metrics(test_dir)
    wrapper = dumped_config_value(pre_dir, pretrain_config, 'optim_wrapper') or {}
    pipeline = (
        dumped_config_value(pre_dir, pretrain_config, 'train_dataloader.dataset.pipeline') or []
    )
    return dict(
        precision=precision,
        seed=seed,
        checkpoint=checkpoint,
        rule=next((t.get('rule') for t in pipeline if t.get('type') == 'SampleFormatViews'), None),
        optim_wrapper=dict(
            type=wrapper.get('type'),
            enabled=wrapper.get('enabled', True),
            device_types=wrapper.get('device_types'),
        ),
        channels_last=dumped_config_value(pre_dir, pretrain_config, 'model.backbone.channels_last'),
        iterations=len(curve),
        loss_first=next(iter(curve.values())) if curve else None,
        loss_last_epoch=tail_mean(curve, tail) if curve else None,
        knn_top1=knn.get('knn/top1'),
        knn_nn1=knn.get('knn/nn1'),
        probe_top1=probe.get('acc/top1'),
        curve=curve,
    )


def summarize(
    runs: Dict[str, Dict[str, Any]], seeds: Sequence[int], tolerance: float
) -> Dict[str, Any]:
    """Curve distances and paired statistics of finished runs.

    Args:
        runs (dict): ``{run_name: run_one(...)}`` with a ``curve`` per run; every seed in
            ``seeds`` has an ``fp32`` run, a ``bf16`` run is optional.
        seeds (Sequence[int]): The seeds, in order (consecutive fp32 seeds make the noise
            pairs).
        tolerance (float): The probe's equivalence band, in percentage points.

    Returns:
        dict: ``bf16_vs_fp32`` (``{seed: curve_distance}``), ``fp32_seed_pairs``
        (``{'S-S2': curve_distance}``), ``curve`` (means of ``rel_mean`` / ``rel_max`` for
        both, and their ratio ``bf16_over_noise``), ``probe_top1`` (``paired_summary`` in
        percentage points, verdict against ``tolerance``), ``knn_top1`` and ``knn_nn1``
        (``paired_summary`` in percentage points, no verdict), each with the ``seeds`` it
        pairs. Keys are left out where their runs or figures are missing.

    """
    fp32 = {s: runs[run_name('fp32', s)] for s in seeds}
    bf16 = {s: runs[run_name('bf16', s)] for s in seeds if run_name('bf16', s) in runs}
    out: Dict[str, Any] = dict(
        bf16_vs_fp32={s: curve_distance(fp32[s]['curve'], r['curve']) for s, r in bf16.items()},
        fp32_seed_pairs={
            f'{a}-{b}': curve_distance(fp32[a]['curve'], fp32[b]['curve'])
            for a, b in zip(seeds[:-1], seeds[1:])
        },
    )

    def mean_of(dists, key):
        vals = [d[key] for d in dists.values()]
        return sum(vals) / len(vals) if vals else None

    curve = {}
    for name in ('bf16_vs_fp32', 'fp32_seed_pairs'):
        curve[name] = {k: mean_of(out[name], k) for k in ('rel_mean', 'rel_max')}
    if out['bf16_vs_fp32'] and out['fp32_seed_pairs']:
        curve['bf16_over_noise'] = {
            k: curve['bf16_vs_fp32'][k] / curve['fp32_seed_pairs'][k]
            for k in ('rel_mean', 'rel_max')
        }
    out['curve'] = curve
    if bf16:

        def pts(v):
            return None if v is None else 100 * v

        paired = sorted(bf16)
        for key, tol in (('probe_top1', tolerance), ('knn_top1', None), ('knn_nn1', None)):
            ref, other = [pts(fp32[s][key]) for s in paired], [pts(bf16[s][key]) for s in paired]
            kept = [s for s, a, b in zip(paired, ref, other) if a is not None and b is not None]
            if kept:  # a run without kNN validation has no kNN figures
                out[key] = paired_summary(ref, other, tol) | dict(seeds=kept)
    return out


def _pct(v: float | None) -> str:
    return '-' if v is None else f'{100 * v:.1f}'


def _interval(summary: Dict[str, Any]) -> str:
    ci = summary['ci95']
    band = '' if ci is None else f' [{ci[0]:+.1f}, {ci[1]:+.1f}]'
    return f'{summary["mean"]:+.2f}{band}'


def format_table(report: Dict[str, Any]) -> str:
    """A plain-text table of the runs, the curve distances and the paired differences."""
    lines = [
        f'{"run":<9} {"rule":>8} {"autocast":>9} {"loss[0]":>8} {"loss(end)":>9} '
        f'{"kNN top1":>8} {"kNN nn1":>8} {"probe top1":>10}'
    ]
    for name, r in report['runs'].items():
        ow = r['optim_wrapper']
        autocast = ','.join(ow['device_types'] or []) if ow['enabled'] else 'off'
        lines.append(
            f'{name:<9} {str(r["rule"]):>8} {autocast:>9} {r["loss_first"]:>8.4f} '
            f'{r["loss_last_epoch"]:>9.4f} {_pct(r["knn_top1"]):>8} {_pct(r["knn_nn1"]):>8} '
            f'{_pct(r["probe_top1"]):>10}'
        )
    summary = report['summary']
    lines.append('')
    lines.append(f'{"curves":<16} {"pairs":>5} {"mean|d|/L":>10} {"max|d|/L":>9}')
    for name in ('bf16_vs_fp32', 'fp32_seed_pairs'):
        c = summary['curve'][name]
        if c['rel_mean'] is not None:
            lines.append(
                f'{name:<16} {len(summary[name]):>5} {c["rel_mean"]:>10.4f} {c["rel_max"]:>9.4f}'
            )
    for key in ('probe_top1', 'knn_top1', 'knn_nn1'):
        if key in summary:
            p = summary[key]
            verdict = f', {p["verdict"]}' if 'verdict' in p else ''
            spread = '-' if p['ref_std'] is None else f'{p["ref_std"]:.1f}'
            lines.append(
                f'{key}: bf16 - fp32 = {_interval(p)} points over {p["n"]} seeds{verdict} '
                f'(fp32 {p["ref_mean"]:.1f} +- {spread} over the seeds)'
            )
    return '\n'.join(lines)


def parse_args(argv=None):
    """Parse the command line (defaults in the help)."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument('--pretrain-config', default=PRETRAIN_CONFIG, help='pretraining config')
    parser.add_argument('--probe-config', default=PROBE_CONFIG, help='linear probe config')
    parser.add_argument(
        '--work-dir', default='work_dirs/compare_precision', help='outputs: W/<run>/...'
    )
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0, 1, 2], help='seeds, each run in both precisions'
    )
    parser.add_argument(
        '--precisions',
        nargs='+',
        default=list(PRECISIONS),
        choices=PRECISIONS,
        help='precisions to run (fp32 needed: the reference)',
    )
    parser.add_argument(
        '--rule',
        help="SampleFormatViews rule to force ('balanced', 'batch', ...; default: the config's)",
    )
    parser.add_argument(
        '--tolerance', type=float, default=1.0, help='probe equivalence band, percentage points'
    )
    parser.add_argument(
        '--log-interval',
        type=int,
        default=1,
        help='log the unsmoothed loss every N iterations (0: keep the config logging)',
    )
    parser.add_argument(
        '--tail', type=int, default=11, help='iterations averaged for the final loss'
    )
    parser.add_argument('--cfg-options', nargs='+', help='extra pretraining options k=v')
    parser.add_argument('--probe-cfg-options', nargs='+', help='extra probe/test options k=v')
    args = parser.parse_args(argv)
    if 'fp32' not in args.precisions:
        parser.error('--precisions must include fp32 (the reference)')
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds repeats a seed: {args.seeds}')
    return args


def main(argv=None):
    """Entry point."""
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    t0 = time.time()
    runs = {
        run_name(p, s): run_one(p, s, args)
        for s in args.seeds
        for p in PRECISIONS
        if p in args.precisions
    }
    report = dict(
        pretrain_config=osp.relpath(args.pretrain_config, REPO),
        probe_config=osp.relpath(args.probe_config, REPO),
        probe_metric='acc/top1 of tools/test.py: multi-skeleton ensemble, test pipeline, xsub_val',
        seeds=args.seeds,
        summary=summarize(runs, args.seeds, args.tolerance),
        runs={
            name: {k: v for k, v in r.items() if k != 'curve'} | {'loss': list(r['curve'].values())}
            for name, r in runs.items()
        },
        wall_s=round(time.time() - t0, 1),
    )
    print()
    print(format_table(report))
    with open(osp.join(args.work_dir, 'compare_precision.json'), 'w') as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report))


if __name__ == '__main__':
    main()
