"""tools/analysis/gpu_suite.sh runs every stage (numerics aside) end to end, on a CPU.

The suite is what a GPU session runs first, with minutes of device time: a broken stage
(a renamed option, a missing file between stages) must show up here, not there.
"""

import json
import os
import subprocess

import pytest

from ...conftest import REPO_ROOT
from . import NTU60_RECIPE, tiny_trunk_options

SUITE = os.path.join(REPO_ROOT, 'tools', 'analysis', 'gpu_suite.sh')


def run_suite(tmp_path, *stages, **env):
    """Run the suite from the repository root with tiny sizes; returns the finished process."""
    tiny = dict(
        OUT=str(tmp_path / 'out'),
        SYN=str(tmp_path / 'synthetic'),
        RUNS=str(tmp_path / 'runs'),
        DEVICE='cpu',
        WORKERS='1',
        STEP_CLIPS='16',
        STEP_ITERS='1',
        STEP_WARMUP='1',
        GRAPH_STEPS='2',
        HOST_ITERS='3',
        HOST_WARMUP='1',
        EPOCH_CLIPS='16',
        EPOCH_LOG_INTERVAL='2',  # 4 logged rows of the 8 iterations
        # channels 16, 32: torch 2.13's oneDNN crashes on a CPU in the weight gradient of a
        # strided channels-last 1x1 convolution from fewer than 16 to 16 channels (README)
        CFG_OPTS=' '.join([*tiny_trunk_options([16, 32], [1, 2]), 'train_dataloader.batch_size=4']),
        GCN_ARGS='--batch 4 --frames 8 --iters 1 --rounds 1',
        SUPERVISED_ARGS='--batch 2 --frames 10 --iters 1 --warmup 1 --precisions fp32',
        STEP_VARIANTS='baseline bf16+cl+bat+fuse+gs+cudnn+dense',
        PYTHON=os.environ.get('PYTHON', 'python'),
        OMP_NUM_THREADS='1',
    )
    tiny.update(env)
    return subprocess.run(
        ['bash', SUITE, *stages],
        cwd=REPO_ROOT,
        env={**os.environ, **tiny},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_every_stage_runs_and_hands_its_results_on(tmp_path):
    proc = run_suite(tmp_path, 'env', 'gcn', 'graph', 'step', 'host', 'epoch', 'supervised')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('=== done') and 'failed' not in last
    out = tmp_path / 'out'
    for name in ('gcn_bf16', 'gcn_fp32'):
        assert set(json.loads((out / f'{name}.json').read_text())['formats']) == {
            'kinect25',
            'smplx42',
        }
    check = json.loads((out / 'graph_check.json').read_text())
    floor = json.loads((out / 'graph_noise_floor.json').read_text())
    assert check['noise_floor'] is False and floor['noise_floor'] is True
    step = json.loads((out / 'step.json').read_text())
    assert list(step['variants']) == ['baseline', 'bf16+cl+bat+fuse+gs+cudnn+dense']
    assert all(v['full_loop_seq_per_s'] > 0 and 'profile' in v for v in step['variants'].values())
    host = json.loads((out / 'host.json').read_text())
    assert host['loader']['iters'] == 3 and host['loader']['num_workers'] == 1
    assert host['replay']['seq_per_s'] > 0
    # the epoch stage trained one epoch of its own data with the faster variant's options
    epoch_log = (out / 'epoch.log').read_text()
    assert 'epoch variant options: ' in epoch_log and 'epoch_wall_s' in epoch_log
    assert 'Epoch(train) [1][8/8]' in epoch_log  # 16 clips x 2 formats / batch 4
    epoch = json.loads((out / 'epoch.json').read_text())
    assert epoch['iters_per_epoch'] == 8 and epoch['iters_logged'] == 8 and epoch['batch_size'] == 4
    assert (tmp_path / 'synthetic' / '16clips' / 'cache.done').exists()
    supervised = (out / 'supervised.log').read_text()
    assert supervised.count('"mmaction/fp32/seq_per_s"') == 2


@pytest.mark.slow
def test_a_failed_stage_fails_the_suite_and_is_named(tmp_path):
    # step.json is missing: the epoch stage cannot pick a variant; an unknown stage
    proc = run_suite(tmp_path, 'env', 'epoch', 'bogus', EPOCH_CLIPS='4')
    assert proc.returncode != 0
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('=== done') and last.endswith('failed: epoch bogus')
    assert "unknown stage 'bogus'" in proc.stdout


@pytest.mark.slow
def test_budget_stops_a_stage_and_leaves_the_next_its_reserve(tmp_path):
    """BUDGET: the step stage is stopped at its deadline, keeping its report; the epoch runs."""
    proc = run_suite(
        tmp_path,
        'env',
        'step',
        'epoch',
        BUDGET='135',
        RESERVE_step='0',  # env's deadline is then the step's
        RESERVE_epoch='90',  # the step stage's deadline: 45 s after the start
        STEP_ITERS='1000000',  # never finishes by itself
        EPOCH_VARIANT='baseline',
    )
    out = tmp_path / 'out'
    assert proc.returncode != 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('=== done') and last.endswith('failed: step'), proc.stdout[-4000:]
    step = json.loads((out / 'step.json').read_text())
    assert step['complete'] is False and step['stopped'] == 'baseline'
    assert step['failed']['baseline'].startswith('stopped by SIGTERM')
    # the epoch stage had its 90 s: one epoch of 8 iterations, summarised
    epoch = json.loads((out / 'epoch.json').read_text())
    assert epoch['iters_per_epoch'] == 8 and epoch['iters_logged'] == 8
    assert epoch['window_matches_interval'] is True and epoch['seq_per_s'] > 0


def test_a_stage_without_time_left_is_skipped(tmp_path):
    proc = run_suite(tmp_path, 'env', 'host', BUDGET='0', RESERVE_host='60')
    last = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode != 0 and last.endswith('failed: env host'), proc.stdout
    assert proc.stdout.count('SKIPPED: no time left in BUDGET=0') == 2
    assert not (tmp_path / 'out' / 'host.json').exists()


def test_the_default_variants_build_the_recipes_backbone():
    """The suite's own variant lists (the CPU runs above use tiny ones) fit the recipe.

    A misspelt switch or per-block bits of the wrong length would otherwise fail only on
    the GPU, after the stages before it had spent their minutes.
    """
    import re
    import sys

    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import msclr_mm  # noqa: F401

    sys.path.insert(0, os.path.join(REPO_ROOT, 'tools', 'analysis'))
    from benchmark import variant_config

    script = open(SUITE).read()
    variants = re.search(r'STEP_VARIANTS:-([^}]*)\}', script).group(1).split()
    variants += re.search(r'for v in ([^;]*); do\n\s*limited \$\{NUMERICS', script).group(1).split()
    assert len(variants) >= 8 and 'bf16+cl+bat+gs+dense=1111111110+gf' in variants
    init_default_scope('mmaction')
    cfg = Config.fromfile(NTU60_RECIPE)
    for variant in variants:
        backbone_cfg = variant_config(cfg, variant).model.backbone
        backbone = MODELS.build(backbone_cfg.to_dict())  # per-block bits: one per block
        dense = backbone_cfg['dense_gcn']
        assert backbone.dense_gcn == (tuple(dense) if isinstance(dense, list) else dense)
