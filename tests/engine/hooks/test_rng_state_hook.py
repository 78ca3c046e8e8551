"""RNGStateHook: states round-trip, and a SIGKILLed run resumes to the same final weights."""

import os.path as osp
import random
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from msclr_mm.engine.hooks import RNGStateHook

from ...conftest import REPO_ROOT, run_python


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_states_round_trip_through_a_checkpoint():
    hook = RNGStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    expected = _draws()
    _draws()  # the run goes on, then is killed
    hook.after_load_checkpoint(SimpleNamespace(_resume=True), checkpoint)
    assert _draws() == expected


def test_load_from_without_resume_keeps_the_stream():
    hook = RNGStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    first = _draws()
    hook.after_load_checkpoint(SimpleNamespace(_resume=False), checkpoint)
    assert _draws() != first


def test_missing_state_warns_or_raises():
    warned = []
    runner = SimpleNamespace(_resume=True, logger=SimpleNamespace(warning=warned.append))
    RNGStateHook().after_load_checkpoint(runner, {})
    assert warned and 'rng_state' in warned[0]
    with pytest.raises(KeyError, match='rng_state'):
        RNGStateHook(strict=True).after_load_checkpoint(runner, {})


def test_state_loads_weights_only(tmp_path):
    checkpoint = {}
    RNGStateHook().before_save_checkpoint(None, checkpoint)
    torch.save(checkpoint, tmp_path / 'c.pth')
    loaded = torch.load(tmp_path / 'c.pth', weights_only=True)
    assert torch.equal(loaded['rng_state']['torch'], checkpoint['rng_state']['torch'])


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    """Kill -9 during epoch 12 of 20; ``--resume`` must end with the same weights."""
    run_python([osp.join(REPO_ROOT, 'tools', 'data', 'make_smoke_data.py')], cwd=tmp_path)
    config = tmp_path / 'slow_smoke.py'
    smoke = osp.join(REPO_ROOT, 'configs', 'smoke', 'stgcn_smoke.py')
    # Batch 2 gives 12 iterations an epoch: time enough to kill mid-epoch.
    config.write_text(f'_base_ = [{smoke!r}]\ntrain_dataloader = dict(batch_size=2)\n')
    train = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'),
        str(config),
        '--deterministic',
        '--seed',
        '0',
    ]

    run_python(train[1:] + ['--work-dir', str(tmp_path / 'full')], cwd=tmp_path)

    killed = tmp_path / 'killed'
    log = tmp_path / 'killed.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen(
            train + ['--work-dir', str(killed)], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if 'Epoch(train) [12][' in log.read_text():
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, 'the run ended before it could be killed'
    assert not (killed / 'epoch_15.pth').exists()

    resumed = run_python(train[1:] + ['--work-dir', str(killed), '--resume'], cwd=tmp_path)
    assert 'resumed epoch: 10' in resumed.stdout + resumed.stderr

    full = torch.load(tmp_path / 'full' / 'epoch_20.pth', weights_only=True)['state_dict']
    again = torch.load(killed / 'epoch_20.pth', weights_only=True)['state_dict']
    assert full.keys() == again.keys()
    for key in full:
        assert torch.equal(full[key], again[key]), key


def test_validation_does_not_advance_the_training_stream():
    hook = RNGStateHook()
    before = RNGStateHook()
    checkpoint = {}
    before.before_save_checkpoint(None, checkpoint)
    expected = _draws()
    before.after_load_checkpoint(SimpleNamespace(_resume=True), checkpoint)
    hook.before_val_epoch(None)
    np.random.seed(255)  # what mmaction2's test-mode UniformSampleFrames does
    _draws()
    hook.after_val_epoch(None, {})
    assert _draws() == expected


@pytest.mark.parametrize('seed, resume_seed', [(None, None), (0, 1)])
def test_resume_continues_the_streams_when_the_run_reseeds(tmp_path, seed, resume_seed):
    """``Runner.resume`` reseeds after loading (no seed, or another one): the states win.

    The uninterrupted run trains 2 epochs; the resumed one loads its epoch-1 checkpoint and
    must draw the same numbers in epoch 2 from every stream and end with the same weights.
    """
    from .toy_runs import train_toy

    full = train_toy(tmp_path / 'full', seed=seed)
    resumed = train_toy(
        tmp_path / 'resumed', seed=resume_seed, resume_from=tmp_path / 'full' / 'epoch_1.pth'
    )
    per_epoch = len(full.model.draws) // 2
    assert resumed.model.draws == full.model.draws[per_epoch:]
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
