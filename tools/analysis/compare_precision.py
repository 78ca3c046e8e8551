"""Compare the optimised (bf16 autocast, channels-last) and the eager fp32 pretraining numerics.

Pretrains the same config three times with ``tools/train.py`` (a subprocess of this
interpreter, one at a time):

* ``fp32``: eager float32 (``AutocastOptimWrapper(enabled=False)``, contiguous trunk),
* ``bf16``: the optimised path (bf16 autocast on the CPU too, channels-last trunk),
* ``fp32_seed2``: ``fp32`` with another seed, the run-to-run noise reference,

all with ``train_dataloader.dataset.pipeline.0.rule=balanced`` and the loss logged every
iteration. Each run's last checkpoint is then linearly probed as ``tools/demo.sh`` does
(``tools/train.py PROBE --no-validate --cfg-options model.backbone.init_cfg.checkpoint=CKPT``,
then ``tools/test.py``), with the run's seed. Reported per run: the final kNN accuracies of
the pretraining (``knn/top1``, ``knn/nn1``), the probe's test accuracy (``acc/top1`` of the
multi-skeleton ensemble, the probe config's test pipeline, xsub_val) and the loss curve; and
the curve distances of ``bf16`` and of ``fp32_seed2`` from ``fp32``: mean |a - b| / mean loss
and max |a - b| / mean loss over the common iterations. A table is printed and the last line
is the JSON report, also written to ``WORK_DIR/compare_precision.json``.

A stage whose ``DONE`` marker exists is reused (delete the run's folder to redo it).

Example::

    python tools/analysis/compare_precision.py --work-dir work_dirs/compare_precision
    python tools/analysis/compare_precision.py --seed2 2 --cfg-options train_cfg.max_epochs=2

"""

from __future__ import annotations

import argparse
import glob
import json
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
RUNS = ('fp32', 'bf16', 'fp32_seed2')

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


def run_seed(run: str, seed: int, seed2: int) -> int:
    """The seed of ``run``: ``seed2`` for ``fp32_seed2``, ``seed`` otherwise."""
    return seed2 if run == 'fp32_seed2' else seed


def pretrain_options(run: str, seed: int, seed2: int, log_interval: int = 1) -> List[str]:
    """``--cfg-options`` of ``run``'s pretraining.

    Args:
        run (str): ``'fp32'``, ``'bf16'`` or ``'fp32_seed2'``.
        seed (int): Seed of ``fp32`` and ``bf16``.
        seed2 (int): Seed of ``fp32_seed2``.
        log_interval (int): Log the loss every this many iterations, unsmoothed
            (``log_processor.window_size=1``). Defaults to 1; 0 keeps the config's logging.

    Returns:
        list[str]: ``key=value`` strings.

    """
    if run not in RUNS:
        raise ValueError(f'unknown run {run!r}, expected one of {RUNS}')
    opts = [
        f'randomness.seed={run_seed(run, seed, seed2)}',
        'train_dataloader.dataset.pipeline.0.rule=balanced',
    ]
    if log_interval > 0:
        opts += [f'default_hooks.logger.interval={log_interval}', 'log_processor.window_size=1']
    return opts + (BF16_OPTIONS if run == 'bf16' else FP32_OPTIONS)


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


def run_one(run: str, args: argparse.Namespace) -> Dict[str, Any]:
    """Pretrain, probe and test ``run``; gather its report."""
    py = sys.executable
    seed = run_seed(run, args.seed, args.seed2)
    root = osp.join(args.work_dir, run)
    pre_dir, probe_dir, test_dir = (osp.join(root, d) for d in ('pretrain', 'probe', 'test'))
    for d in (pre_dir, probe_dir, test_dir):
        os.makedirs(d, exist_ok=True)
    extra = args.cfg_options or []
    probe_extra = args.probe_cfg_options or []
    wall = {}

    print(f'[{run}] pretrain (seed {seed})', flush=True)
    cmd = [py, osp.join(REPO, 'tools', 'train.py'), args.pretrain_config, '--work-dir', pre_dir]
    opts = pretrain_options(run, args.seed, args.seed2, args.log_interval) + extra
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

    records = read_scalars(latest(osp.join(pre_dir, '*', 'vis_data', 'scalars.json')))
    curve = loss_curve(records)
    knn = last_metrics(records, 'knn/')
    probe = test_metrics(test_dir)
    wrapper = dumped_config_value(pre_dir, args.pretrain_config, 'optim_wrapper') or {}
    return dict(
        seed=seed,
        checkpoint=checkpoint,
        optim_wrapper=dict(
            type=wrapper.get('type'),
            enabled=wrapper.get('enabled', True),
            device_types=wrapper.get('device_types'),
        ),
        channels_last=dumped_config_value(
            pre_dir, args.pretrain_config, 'model.backbone.channels_last'
        ),
        iterations=len(curve),
        loss_first=next(iter(curve.values())) if curve else None,
        loss_last_epoch=tail_mean(curve, args.tail) if curve else None,
        knn_top1=knn.get('knn/top1'),
        knn_nn1=knn.get('knn/nn1'),
        probe_top1=probe.get('acc/top1'),
        wall=wall,
        curve=curve,
    )


def _pct(v: float | None) -> str:
    return '-' if v is None else f'{100 * v:.1f}'


def format_table(report: Dict[str, Any]) -> str:
    """A plain-text table of the runs and the curve distances."""
    lines = [
        f'{"run":<11} {"seed":>4} {"autocast":>9} {"loss[0]":>8} {"loss(end)":>9} '
        f'{"kNN top1":>8} {"kNN nn1":>8} {"probe top1":>10}'
    ]
    for name, r in report['runs'].items():
        ow = r['optim_wrapper']
        autocast = ','.join(ow['device_types'] or []) if ow['enabled'] else 'off'
        lines.append(
            f'{name:<11} {r["seed"]:>4} {autocast:>9} {r["loss_first"]:>8.4f} '
            f'{r["loss_last_epoch"]:>9.4f} {_pct(r["knn_top1"]):>8} {_pct(r["knn_nn1"]):>8} '
            f'{_pct(r["probe_top1"]):>10}'
        )
    lines.append('')
    lines.append(
        f'{"vs fp32":<11} {"steps":>5} {"mean|d|/L":>10} {"max|d|/L":>9} {"at step":>7} '
        f'{"|d| step 1":>10}'
    )
    for name, d in report['distances'].items():
        lines.append(
            f'{name:<11} {d["steps"]:>5} {d["rel_mean"]:>10.4f} {d["rel_max"]:>9.4f} '
            f'{d["argmax_step"]:>7} {d["first_abs"]:>10.2e}'
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
    parser.add_argument('--seed', type=int, default=0, help='seed of fp32 and bf16')
    parser.add_argument('--seed2', type=int, default=1, help='seed of fp32_seed2')
    parser.add_argument(
        '--log-interval',
        type=int,
        default=1,
        help='log the unsmoothed loss every N iterations (0: keep the config logging)',
    )
    parser.add_argument(
        '--tail', type=int, default=11, help='iterations averaged for the final loss'
    )
    parser.add_argument(
        '--runs', nargs='+', default=list(RUNS), choices=RUNS, help='runs to do (fp32 needed)'
    )
    parser.add_argument('--cfg-options', nargs='+', help='extra pretraining options k=v')
    parser.add_argument('--probe-cfg-options', nargs='+', help='extra probe/test options k=v')
    args = parser.parse_args(argv)
    if 'fp32' not in args.runs:
        parser.error('--runs must include fp32 (the reference)')
    return args


def main(argv=None):
    """Entry point."""
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    t0 = time.time()
    runs = {run: run_one(run, args) for run in args.runs}
    ref = runs['fp32']['curve']
    distances = {
        name: curve_distance(ref, r['curve']) for name, r in runs.items() if name != 'fp32'
    }
    report = dict(
        pretrain_config=osp.relpath(args.pretrain_config, REPO),
        probe_config=osp.relpath(args.probe_config, REPO),
        probe_metric='acc/top1 of tools/test.py: multi-skeleton ensemble, test pipeline, xsub_val',
        runs={
            name: {k: v for k, v in r.items() if k != 'curve'} | {'loss': list(r['curve'].values())}
            for name, r in runs.items()
        },
        distances=distances,
        wall_s=round(time.time() - t0, 1),
    )
    print()
    print(format_table(report))
    if 'bf16' in distances and 'fp32_seed2' in distances:
        report['bf16_over_noise'] = dict(
            rel_mean=distances['bf16']['rel_mean'] / distances['fp32_seed2']['rel_mean'],
            rel_max=distances['bf16']['rel_max'] / distances['fp32_seed2']['rel_max'],
        )
    with open(osp.join(args.work_dir, 'compare_precision.json'), 'w') as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report))


if __name__ == '__main__':
    main()
