"""Two gloo processes x B/2 behave exactly like one process x B (CPU, no GPU).

BatchNorm: every BatchNorm runs on frozen statistics (``norm_eval=True`` in the backbone,
no BN in the neck), since ``SyncBatchNorm`` needs a GPU; with per-rank batch statistics a
2 x B/2 step could not equal a 1 x B step. As SkeletonCLR, keys are not shuffled across
ranks. Gradients are averaged across ranks with torch's ``DistributedDataParallel``.
"""

import os
import tempfile
from datetime import timedelta

import torch
import torch.distributed as dist
from mmengine.logging import MessageHub

from ...conftest import spawn_and_wait
from .helpers import build, clips, view

B = 8
STEPS = 2
Q_FMT = ['kinect25', 'smpl24'] * (B // 2)
K_FMT = Q_FMT[::-1]


def make_model():
    backbone = dict(
        type='UnifiedSTGCN',
        formats=['kinect25', 'smpl24'],
        channels=(8, 16),
        dropout=0.0,
        norm_eval=True,
    )
    return build('AimCLR', seed=0, backbone=backbone, queue_len=32)


def make_batch(step, lo, hi):
    q, e, k = clips(B, seed=10 * step), clips(B, seed=10 * step + 1), clips(B, seed=10 * step + 2)
    part = lambda d: {f: x[lo:hi] for f, x in d.items()}  # noqa: E731
    return {
        'query': view(part(q), Q_FMT[lo:hi]),
        'query_extreme': view(part(e), Q_FMT[lo:hi]),
        'key': view(part(k), K_FMT[lo:hi]),
    }


def run_steps(model, forward, lo, hi, reduce_loss=lambda x: x):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    model.train()
    record = dict(loss=[], queue=[])
    for step in range(STEPS):
        losses = forward(make_batch(step, lo, hi))
        loss = sum(v for n, v in losses.items() if 'loss' in n)
        opt.zero_grad()
        loss.backward()
        opt.step()
        record['loss'].append(reduce_loss(loss.detach().clone()))
        record['queue'].append(model.queue.queue.clone())
    record['ptr'] = model.queue.ptr.clone()
    record['params'] = {n: p.detach().clone() for n, p in model.named_parameters()}
    record['key'] = {n: p.detach().clone() for n, p in model.encoder_k.named_parameters()}
    return record


def _worker(rank, world, port, out_dir):
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=120),
    )
    torch.set_num_threads(1)
    MessageHub.get_instance(f'dist_{rank}').update_info('epoch', 0)
    model = make_model()
    ddp = torch.nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
    half = B // world

    def reduce_mean(x):
        dist.all_reduce(x)
        return x / world

    record = run_steps(
        model,
        lambda inputs: ddp(inputs, None, mode='loss'),
        rank * half,
        (rank + 1) * half,
        reduce_mean,
    )
    # the queue and the key encoder are identical on every rank
    same = []
    for t in [record['queue'][-1], record['ptr'].float()] + list(record['key'].values()):
        gathered = [torch.zeros_like(t) for _ in range(world)]
        dist.all_gather(gathered, t.contiguous())
        same.append(all(torch.equal(gathered[0], g) for g in gathered[1:]))
    record['identical_on_ranks'] = all(same)
    torch.save(record, os.path.join(out_dir, f'rank{rank}.pt'))
    dist.barrier()
    # Leave without interpreter teardown: on torch 2.13 the DDP Reducer's destructor destroys
    # ProcessGroupGloo, which joins its worker thread while this thread holds the GIL, and the
    # worker needs the GIL to free a finished all_gather's Python-owned tensors: a deadlock
    # seen in CI (py-spy: ~ProcessGroupGloo -> thread::join / AsyncAllgatherWork dtor ->
    # gil_scoped_acquire). The results are on disk; exit code 0 tells spawn it succeeded.
    os._exit(0)


def test_two_processes_match_one_process():
    assert not dist.is_initialized()
    # our own folder: pytest's shared basetemp may be pruned by concurrent pytest runs
    with tempfile.TemporaryDirectory(prefix='msclr_dist_') as out_dir:
        ranks = spawn_and_wait(_worker, out_dir)
    assert all(r['identical_on_ranks'] for r in ranks)

    MessageHub.get_instance('dist_single').update_info('epoch', 0)
    model = make_model()
    single = run_steps(model, lambda inputs: model(inputs, None, mode='loss'), 0, B)

    tol = dict(rtol=1e-5, atol=1e-6)
    for step in range(STEPS):
        torch.testing.assert_close(ranks[0]['loss'][step], single['loss'][step], **tol)
        # keys enter in rank order: rank 0's half, then rank 1's == the single batch order
        torch.testing.assert_close(ranks[0]['queue'][step], single['queue'][step], **tol)
    assert ranks[0]['ptr'].tolist() == single['ptr'].tolist() == [B * STEPS % 32]
    for name, p in single['params'].items():
        torch.testing.assert_close(
            ranks[0]['params'][name], p, **tol, msg=lambda m, n=name: f'{n}: {m}'
        )
        torch.testing.assert_close(ranks[1]['params'][name], p, **tol)
    for name, p in single['key'].items():
        torch.testing.assert_close(ranks[0]['key'][name], p, **tol)
    # the SGD steps did move the parameters (the comparison is not between untouched copies)
    init = make_model()
    moved = [
        not torch.allclose(p, single['params'][n])
        for n, p in init.named_parameters()
        if p.requires_grad
    ]
    assert sum(moved) > len(moved) // 2
