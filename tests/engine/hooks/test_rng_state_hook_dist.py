"""RNGStateHook in distributed runs: every rank's streams are saved and each rank continues its own.

mmengine writes checkpoints from rank 0 only; the hook gathers the other ranks' states first.
The unit tests simulate a world by patching the hook module's ``get_rank``,
``get_world_size`` and ``all_gather_object``; the last test runs two gloo processes.
"""

import os
import random
import tempfile
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.distributed as dist
from mmengine.hooks import CheckpointHook

import msclr_mm.engine.hooks.rng_state_hook as rng_hook
import msclr_mm.models.data_preprocessors.skeleton_data_preprocessor as sdp
from msclr_mm.engine.hooks import RNGStateHook
from msclr_mm.models.data_preprocessors import SkeletonDataPreprocessor

from ...conftest import spawn_and_wait


def make_runner(rank, monkeypatch, **kwargs):
    """A runner stand-in whose model holds a ``SkeletonDataPreprocessor`` built on ``rank``."""
    monkeypatch.setattr(sdp, 'get_rank', lambda: rank)
    model = torch.nn.Module()
    model.data_preprocessor = SkeletonDataPreprocessor(seed=3)
    model.data_preprocessor.generator(torch.device('cpu'))  # created, as after a step
    warned = []
    runner = SimpleNamespace(
        model=model,
        _resume=True,
        epoch=0,
        iter=7,
        hooks=[],
        logger=SimpleNamespace(warning=warned.append),
        warned=warned,
    )
    vars(runner).update(kwargs)
    return runner


def simulate(monkeypatch, rank, world_size, others=()):
    """Patch the hook module into ``rank`` of ``world_size``; return what it all-gathers.

    The gathering, simulated for rank 0, returns its object followed by ``others``.
    """
    gathered = []

    def all_gather_object(obj):
        gathered.append(obj)
        return [obj, *others]

    monkeypatch.setattr(rng_hook, 'get_rank', lambda: rank)
    monkeypatch.setattr(rng_hook, 'get_world_size', lambda: world_size)
    monkeypatch.setattr(rng_hook, 'all_gather_object', all_gather_object)
    return gathered


def draws(runner):
    """One draw from each global generator and from the augmentation generator."""
    gen = runner.model.data_preprocessor.generator(torch.device('cpu'))
    return (
        random.random(),
        float(np.random.rand()),
        float(torch.rand(())),
        float(torch.rand((), generator=gen)),
    )


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rank_state(rank, monkeypatch, seed):
    """``rank``'s states after some steps, and the draws that follow them."""
    runner = make_runner(rank, monkeypatch)
    seed_all(seed)
    draws(runner)  # a step
    state = rng_hook._local_state(runner)
    return state, draws(runner)


def resume(rank, world_size, checkpoint, monkeypatch):
    """Resume ``checkpoint`` on ``rank`` of ``world_size`` as mmengine does; return the runner."""
    simulate(monkeypatch, rank, world_size)
    runner = make_runner(rank, monkeypatch)
    hook = RNGStateHook()
    hook.after_load_checkpoint(runner, checkpoint)
    seed_all(1234)  # Runner.resume reseeds after loading
    hook.before_train(runner)
    return runner


def test_every_rank_is_saved_and_continues_its_own_streams(monkeypatch, tmp_path):
    state1, want1 = rank_state(1, monkeypatch, seed=11)
    runner = make_runner(0, monkeypatch)
    seed_all(10)
    draws(runner)
    gathered = simulate(monkeypatch, 0, 2, others=[state1])
    hook = RNGStateHook()
    hook.after_train_epoch(runner)  # every rank, before the CheckpointHook saves
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)  # rank 0 only
    want0 = draws(runner)
    assert len(gathered) == 1 and not runner.warned
    saved = checkpoint['rng_state']
    assert saved['world_size'] == 2 and len(saved['other_ranks']) == 1
    torch.save(checkpoint, tmp_path / 'c.pth')
    loaded = torch.load(tmp_path / 'c.pth', weights_only=True)

    assert draws(resume(1, 2, loaded, monkeypatch)) == want1
    assert draws(resume(0, 2, loaded, monkeypatch)) == want0
    assert want0[3] != want1[3]  # the augmentation streams differ between ranks


def test_a_checkpoint_without_the_other_ranks_warns_once(monkeypatch):
    runner = make_runner(0, monkeypatch)
    simulate(monkeypatch, 0, 2, others=[rng_hook._local_state(runner)])
    hook = RNGStateHook()
    hook.after_train_epoch(runner)
    runner.iter += 1  # saved where nothing was gathered (e.g. by a hook after the saver)
    for _ in range(2):
        checkpoint = {}
        hook.before_save_checkpoint(runner, checkpoint)
        assert 'other_ranks' not in checkpoint['rng_state']
    assert len(runner.warned) == 1 and 'rank 0 only' in runner.warned[0]


def test_validation_gathers_for_the_best_checkpoint(monkeypatch):
    state1, _ = rank_state(1, monkeypatch, seed=11)
    runner = make_runner(0, monkeypatch)
    gathered = simulate(monkeypatch, 0, 2, others=[state1])
    hook = RNGStateHook()
    hook.before_val_epoch(runner)
    hook.after_val_epoch(runner, {})  # then CheckpointHook.after_val_epoch saves the best
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    assert len(gathered) == 1 and len(checkpoint['rng_state']['other_ranks']) == 1
    assert not runner.warned


@pytest.mark.parametrize(
    'checkpoint_hook, iters_gathered',
    [
        (CheckpointHook(by_epoch=False, interval=3), [2, 5, 6]),  # and the last iteration
        (CheckpointHook(by_epoch=True, interval=1), []),  # saved in after_train_epoch
        (None, []),
    ],
)
def test_iterations_gather_only_before_an_iteration_checkpoint(
    monkeypatch, checkpoint_hook, iters_gathered
):
    hooks = [] if checkpoint_hook is None else [checkpoint_hook]
    runner = make_runner(0, monkeypatch, hooks=hooks, max_iters=7)
    gathered = simulate(monkeypatch, 0, 2, others=[{}])
    hook = RNGStateHook()
    done = []
    for it in range(7):
        runner.iter = it
        hook.after_train_iter(runner, it)
        if len(gathered) > len(done):
            done.append(it)
    assert done == iters_gathered

    gathered = simulate(monkeypatch, 0, 1)
    hook.after_train_epoch(runner)
    runner.iter = 2
    hook.after_train_iter(runner, 2)
    assert gathered == []  # a single process gathers nothing


def test_other_world_size_or_rank0_only_checkpoint_derives_distinct_streams(monkeypatch):
    state0, want0 = rank_state(0, monkeypatch, seed=10)
    old = {'rng_state': state0}  # an older checkpoint: rank 0's states only

    runner = resume(0, 2, old, monkeypatch)
    assert draws(runner) == want0  # rank 0 continues exactly
    assert runner.warned and 'cannot continue exactly' in runner.warned[0]

    rank1 = [draws(resume(1, 2, old, monkeypatch)) for _ in range(2)]
    assert rank1[0] == rank1[1]  # deterministic
    assert all(a != b for a, b in zip(rank1[0], want0))  # every stream differs from rank 0's
    rank2 = draws(resume(2, 3, old, monkeypatch))
    assert all(a != b for a, b in zip(rank2, rank1[0]))

    # a 2-rank checkpoint resumed by 3 processes: rank 1's saved entry is not used
    state1, want1 = rank_state(1, monkeypatch, seed=11)
    two = {'rng_state': dict(state0, world_size=2, other_ranks=[state1])}
    runner = resume(1, 3, two, monkeypatch)
    assert draws(runner) != want1
    assert '2 rank(s)' in runner.warned[0] and 'this run has 3' in runner.warned[0]
    assert draws(resume(0, 1, two, monkeypatch)) == want0  # fewer processes: rank 0's


def test_single_process_checkpoint_resumes_without_warning(monkeypatch):
    runner = make_runner(0, monkeypatch)
    seed_all(10)
    draws(runner)
    gathered = simulate(monkeypatch, 0, 1)
    hook = RNGStateHook()
    hook.after_train_epoch(runner)
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    want = draws(runner)
    assert gathered == [] and checkpoint['rng_state']['world_size'] == 1
    assert 'other_ranks' not in checkpoint['rng_state']
    resumed = resume(0, 1, checkpoint, monkeypatch)
    assert draws(resumed) == want and not resumed.warned and not runner.warned


# ---------------------------------------------------------------------- two gloo processes
def _worker(rank, world, port, out_dir):
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=120),
    )
    torch.set_num_threads(1)
    from .toy_runs import train_toy

    work = Path(out_dir)
    by_iter = dict(by_epoch=False, interval=3)
    record = {}
    # epoch checkpoints, randomness.seed=None (the pretraining configs' default)
    full = train_toy(work / 'full', seed=None)
    dist.barrier()
    resumed = train_toy(work / 'resumed', resume_from=work / 'full' / 'epoch_1.pth')
    record['epoch'] = (full.model.draws, resumed.model.draws)
    # iteration checkpoints, a seed per rank
    full = train_toy(work / 'full_it', diff_rank_seed=True, max_iters=6, checkpoint=by_iter)
    dist.barrier()
    resumed = train_toy(
        work / 'resumed_it',
        diff_rank_seed=True,
        max_iters=6,
        checkpoint=by_iter,
        resume_from=work / 'full_it' / 'iter_3.pth',
    )
    record['iter'] = (full.model.draws, resumed.model.draws)
    torch.save(record, os.path.join(out_dir, f'rank{rank}.pt'))
    dist.barrier()
    # the results are on disk: skip the gloo teardown (see tests/models/algorithms/
    # test_distributed.py for the deadlock it can cause)
    os._exit(0)


def test_two_gloo_ranks_resume_their_own_streams():
    """2 processes: each rank's draws after a resume equal its uninterrupted ones."""
    assert not dist.is_initialized()
    with tempfile.TemporaryDirectory(prefix='msclr_rng_dist_') as out_dir:
        ranks = spawn_and_wait(_worker, out_dir)
    for record in ranks:
        full, resumed = record['epoch']
        assert len(full) == 8 and resumed == full[4:]  # 4 iterations an epoch per rank
        full, resumed = record['iter']
        assert len(full) == 6 and resumed == full[3:]
    # the ranks' augmentation streams differ, and with diff_rank_seed every stream does
    assert [d[3] for d in ranks[0]['epoch'][0]] != [d[3] for d in ranks[1]['epoch'][0]]
    assert all(
        a != b for s0, s1 in zip(ranks[0]['iter'][0], ranks[1]['iter'][0]) for a, b in zip(s0, s1)
    )
