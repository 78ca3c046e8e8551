"""A pretraining run killed with SIGKILL mid-epoch and resumed ends like an uninterrupted one.

AimCLR on a tiny demo set (20 clips, batch 4, a 2-block backbone), deterministic on the CPU:
the query encoder, the EMA key encoder, the negative queue and its pointer, the optimiser's
momentum buffers and the lr schedule must all come out bit-identical. The resumed epoch
uses AimCLR's nearest-neighbour mining and the decayed lr, so both states matter.
"""

import os.path as osp
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

import msclr_mm  # noqa: F401  (the safe checkpoint loader knows HistoryBuffer)
from msclr_mm.engine.hooks import RNGStateHook
from msclr_mm.models.data_preprocessors import SkeletonDataPreprocessor

from ..conftest import REPO_ROOT, run_python

TINY_AIMCLR = """
_base_ = [{base!r}]
model = dict(
    backbone=dict(channels=[8, 16], strides=[1, 2], tcn_kernel=3),
    neck=dict(in_channels=16, hid_channels=16, out_channels=8),
    feat_dim=8, queue_len=16, mining_epoch=0)
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=[
        dict(type='SampleFormatViews', rule={rule!r}),
        dict(type='SampleSkeletonFrames', clip_len=12),
        dict(type='GatherSkeletonViews'),
        dict(type='PackMultiSkeletonInputs')]))
train_cfg = dict(max_epochs=3, val_interval=100)
param_scheduler = [dict(type='MultiStepLR', milestones=[2], gamma=0.1, by_epoch=True)]
optim_wrapper = dict(optimizer=dict(lr=0.05))
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, save_best=None))
"""


def write_tiny_pretrain(tmp_path, base='aimclr_demo.py', rule='random'):
    """Tiny demo data (3 subjects, 1 repetition) and a tiny AimCLR config in ``tmp_path``.

    ``base``: the demo config it shrinks (``msaimclr_demo.py``: three formats); ``rule``:
    its ``SampleFormatViews`` rule.
    """
    run_python(
        [
            osp.join(REPO_ROOT, 'tools', 'data', 'make_demo_data.py'),
            '--out-dir',
            'data/demo',
            '--subjects',
            '3',
            '--reps',
            '1',
        ],
        cwd=tmp_path,
    )
    config = tmp_path / 'tiny_aimclr.py'
    config.write_text(
        TINY_AIMCLR.format(base=osp.join(REPO_ROOT, 'configs', 'demo', base), rule=rule)
    )
    return config


def test_preprocessor_generator_goes_through_the_hook():
    """The augmentation generator is saved and restored by RNGStateHook, on resume only."""
    pre = SkeletonDataPreprocessor(seed=3)
    model = torch.nn.Module()
    model.data_preprocessor = pre
    warned = []
    runner = SimpleNamespace(
        model=model, _resume=True, logger=SimpleNamespace(warning=warned.append)
    )
    gen = pre.generator(torch.device('cpu'))
    torch.rand(5, generator=gen)
    checkpoint = {}
    RNGStateHook().before_save_checkpoint(runner, checkpoint)
    assert set(checkpoint['rng_state']['modules']) == {'data_preprocessor'}
    expected = torch.rand(5, generator=gen)
    torch.rand(5, generator=gen)

    runner._resume = False  # load_from: weights only, the stream goes on
    RNGStateHook().after_load_checkpoint(runner, checkpoint)
    assert not torch.equal(torch.rand(5, generator=gen), expected)

    fresh = SkeletonDataPreprocessor(seed=99)  # a new process: generator not created yet
    model.data_preprocessor = fresh
    runner._resume = True
    RNGStateHook().after_load_checkpoint(runner, checkpoint)
    assert torch.equal(torch.rand(5, generator=fresh.generator(torch.device('cpu'))), expected)
    assert not warned

    del checkpoint['rng_state']['modules']
    RNGStateHook().after_load_checkpoint(runner, checkpoint)
    assert warned and "'data_preprocessor'" in warned[0]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    """Kill -9 in epoch 3 of 3; ``--resume`` from epoch 2 ends bit-identical."""
    config = write_tiny_pretrain(tmp_path)
    train = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'),
        str(config),
        '--deterministic',
        '--seed',
        '0',
        '--no-validate',
    ]
    full, killed = tmp_path / 'full', tmp_path / 'killed'
    log = tmp_path / 'killed.log'
    # both runs at once (2 cores): the uninterrupted one is the reference
    with open(tmp_path / 'full.log', 'w') as full_out, open(log, 'w') as out:
        ref = subprocess.Popen(
            train + ['--work-dir', str(full)], cwd=tmp_path, stdout=full_out, stderr=full_out
        )
        proc = subprocess.Popen(
            train + ['--work-dir', str(killed)], cwd=tmp_path, stdout=out, stderr=out
        )
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if 'Epoch(train) [3][' in log.read_text():
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        proc.wait()
        assert ref.wait(timeout=300) == 0, (tmp_path / 'full.log').read_text()[-3000:]
    assert proc.returncode == -signal.SIGKILL, 'the run ended before it could be killed'
    assert not (killed / 'epoch_3.pth').exists()
    assert (killed / 'epoch_2.pth').exists()

    resumed = run_python(train[1:] + ['--work-dir', str(killed), '--resume'], cwd=tmp_path)
    assert 'resumed epoch: 2' in resumed.stdout + resumed.stderr

    want = torch.load(full / 'epoch_3.pth', weights_only=True)
    got = torch.load(killed / 'epoch_3.pth', weights_only=True)
    state, again = want['state_dict'], got['state_dict']
    assert state.keys() == again.keys()
    groups = {key.split('.')[0] for key in state}
    assert {'backbone', 'neck', 'encoder_k', 'queue'} <= groups
    assert int(state['queue.ptr']) != 0 or state['queue.queue'].abs().sum() > 0
    for key in state:
        assert torch.equal(state[key], again[key]), key
    # optimiser momentum buffers and the decayed lr
    for a, b in zip(want['optimizer']['state'].values(), got['optimizer']['state'].values()):
        assert torch.equal(a['momentum_buffer'], b['momentum_buffer'])
    assert want['optimizer']['param_groups'][0]['lr'] == got['optimizer']['param_groups'][0]['lr']
    assert abs(got['optimizer']['param_groups'][0]['lr'] - 0.005) < 1e-9
    assert want['param_schedulers'] == got['param_schedulers']
