"""tools/analysis/bench_host.py: the training loop's host side with a null model step."""

import argparse
import importlib.util
import os.path as osp
import time

import pytest
from mmengine.hooks import Hook

from ...conftest import REPO_ROOT, run_python, run_tool_json
from . import NTU60_RECIPE as CONFIG
from . import synthetic_args, tiny_trunk_options

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'bench_host.py')
_spec = importlib.util.spec_from_file_location('bench_host', TOOL)
bench_host = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_host)

TINY = ['--cfg-options', *tiny_trunk_options((8, 16), (1, 2))]


def test_probe_splits_each_iteration_into_fetch_hooks_and_step():
    probe = bench_host.IterProbe(warmup=1, iters=2)
    # iteration i: fetched from end[i-1] to start[i], then hooks + step until end[i]
    probe.starts = [0.0, 1.5, 4.0]
    probe.ends = [(1.0, 0.1, 0.2), (3.0, 0.4, 0.8), (7.0, 0.9, 1.6)]
    probe.steps = [0.2, 0.5, 1.0]
    s = probe.summary(batch_size=8)
    assert s['iters'] == 2
    assert s['wall_ms_per_iter'] == pytest.approx(3000)  # (7 - 1) / 2
    assert s['seq_per_s'] == pytest.approx(8 / 3)
    assert s['fetch_ms'] == pytest.approx((0.5 + 1.0) / 2 * 1e3)
    assert s['null_step_ms'] == pytest.approx(750)
    assert s['hooks_ms'] == pytest.approx(((1.5 + 3.0) - 1.5) / 2 * 1e3)
    assert s['fetch_ms'] + s['hooks_ms'] + s['null_step_ms'] == pytest.approx(3000)
    assert s['main_thread_cpu_ms_per_iter'] == pytest.approx(400)
    assert s['process_cpu_ms_per_iter'] == pytest.approx(700)
    assert s['iter_ms_max'] == pytest.approx(4000)


@pytest.mark.slow
def test_both_modes_on_the_recipe(tmp_path):
    report = run_tool_json(
        [
            TOOL,
            CONFIG,
            *synthetic_args(tmp_path, clips=16, batch_size=4),
            '--num-workers',
            '1',
            '--warmup',
            '1',
            '--iters',
            '3',
            '--work-dir',
            str(tmp_path / 'work'),
            *TINY,
        ],
        tmp_path,
    )
    for mode in ('replay', 'loader'):
        figures = report[mode]
        assert figures['mode'] == mode and figures['batch_size'] == 4 and figures['iters'] == 3
        assert figures['seq_per_s'] == pytest.approx(4e3 / figures['wall_ms_per_iter'])
        parts = figures['fetch_ms'] + figures['hooks_ms'] + figures['null_step_ms']
        assert parts == pytest.approx(figures['wall_ms_per_iter'], rel=1e-6)
        assert min(figures['fetch_ms'], figures['hooks_ms'], figures['null_step_ms']) >= 0
        assert figures['main_thread_cpu_ms_per_iter'] > 0
    assert report['loader']['num_workers'] == 1 and report['replay']['num_workers'] == 0
    assert report['seq_per_s'] == report['loader']['seq_per_s']


def test_a_slow_hook_lands_in_hooks_ms(tmp_path):
    """What the split is for: 20 ms more per iteration in a hook shows in hooks_ms only."""
    from benchmark import load_config  # tools/analysis, on sys.path since bench_host loaded

    args = argparse.Namespace(
        config=CONFIG,
        cfg_options=None,
        synthetic=16,
        synthetic_dir=str(tmp_path / 'synthetic'),
        batch_size=4,
        num_workers=0,
        work_dir=str(tmp_path / 'work'),
        warmup=1,
        iters=3,
    )
    cfg = load_config(args)
    cfg.merge_from_dict(
        {
            'model.backbone.channels': [8, 16],
            'model.backbone.strides': [1, 2],
            'model.queue_len': 64,
            'model.neck.in_channels': 16,
        }
    )
    cfg = bench_host.bench_config(cfg, args)

    class Slow(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            time.sleep(0.02)

    plain = bench_host.run_mode(cfg, args, 'replay')
    slow = bench_host.run_mode(cfg, args, 'replay', extra_hooks=[Slow()])
    assert slow['hooks_ms'] >= plain['hooks_ms'] + 19
    assert slow['fetch_ms'] < 10 and slow['null_step_ms'] < 10


def test_too_short_an_epoch_is_an_error(tmp_path):
    proc = run_python(
        [
            TOOL,
            CONFIG,
            *synthetic_args(tmp_path, clips=16, batch_size=4),
            '--modes',
            'loader',
            '--num-workers',
            '0',
            '--warmup',
            '5',
            '--iters',
            '95',
            '--work-dir',
            str(tmp_path / 'work'),
            *TINY,
        ],
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode != 0
    assert 'the epoch ended after' in proc.stderr and '--warmup 5 + --iters 95' in proc.stderr
