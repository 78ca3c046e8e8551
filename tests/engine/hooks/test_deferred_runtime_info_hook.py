"""DeferredRuntimeInfoHook: the MessageHub ends up as with mmengine's hook, read in batches."""

from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import LoggerHook, RuntimeInfoHook
from mmengine.logging import MessageHub
from torch.utils._python_dispatch import TorchDispatchMode

from msclr_mm.engine.hooks import DeferredRuntimeInfoHook

from .toy_runs import toy_dataloader


class ValueReads(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in ('_local_scalar_dense', 'item'):
            self.count += 1
        return func(*args, **(kwargs or {}))


class Loader(list):
    dataset = None


def runner(name, iters=7, interval=3):
    hub = MessageHub.get_instance(f'{name}_{id(object())}')
    return SimpleNamespace(
        message_hub=hub,
        train_dataloader=Loader(range(iters)),
        hooks=[LoggerHook(interval=interval)],
        epoch=0,
        iter=0,
        max_epochs=2,
        max_iters=2 * iters,
        optim_wrapper=None,
    )


def outputs(i):
    return dict(
        loss=torch.tensor(1.0 / (i + 1)),
        pos_sim=torch.tensor([0.5 + i], dtype=torch.float64),  # (1,) and another dtype
        mining=torch.tensor(i % 2),  # int64
        plain=float(i),  # not a tensor
    )


def scalars(hub):
    return {k: (v.data[0].tolist(), v.data[1].tolist()) for k, v in hub.log_scalars.items()}


def _updates(hub):
    """How many values the hub holds, the timer's aside."""
    return sum(len(v.data[0]) for k, v in hub.log_scalars.items() if k != 'train/time')


def feed(hook, run, epochs=2, first_outputs=None):
    """Run the hook as the Runner would, IterTimerHook's ``train/time`` after it.

    Returns the value reads outside the logging iterations, the first one's apart.
    """
    reads_outside_logging = 0
    for epoch in range(epochs):
        for i in range(len(run.train_dataloader)):
            logged = (i + 1) % 3 == 0 or i + 1 == len(run.train_dataloader)
            out = outputs(i)
            if first_outputs is not None and epoch == 0 and i < 1:
                out = first_outputs(out)
            reads = ValueReads()  # .item() (tolist() dispatches no operator)
            before = _updates(run.message_hub)
            with reads:
                hook.after_train_iter(run, i, None, out)
            moved = _updates(run.message_hub) != before
            run.message_hub.update_scalar('train/time', 0.1)  # priority NORMAL: after
            if not logged and (epoch, i) != (0, 0):
                reads_outside_logging += reads.count + moved
        hook.after_train_epoch(run)
    return reads_outside_logging


def test_same_message_hub_as_mmengine_and_no_reads_between_logs():
    stock, deferred = runner('stock'), runner('deferred')
    assert feed(RuntimeInfoHook(), stock) > 0  # the stock hook reads every iteration
    hook = DeferredRuntimeInfoHook()
    hook.before_train(deferred)
    assert hook.interval == 3  # the LoggerHook's
    assert feed(hook, deferred) == 0
    got, want = scalars(deferred.message_hub), scalars(stock.message_hub)
    assert set(got) == {'train/loss', 'train/pos_sim', 'train/mining', 'train/plain', 'train/time'}
    assert got == want
    # the keys in the stock hook's order: this iteration's outputs before train/time
    assert (
        list(got)
        == list(want)
        == [
            'train/loss',
            'train/pos_sim',
            'train/mining',
            'train/plain',
            'train/time',
        ]
    )
    resumed = [
        [k for k in run.message_hub._resumed_keys if k.startswith('train/')]
        for run in (deferred, stock)
    ]
    assert resumed[0] == resumed[1]
    assert got['train/mining'][0][:3] == [0, 1, 0]


def test_a_key_that_appears_later_keeps_the_stock_order():
    """A loss first returned at iteration 1 (mining starting) is moved at once, in order."""

    def without_mining(out):
        return {k: v for k, v in out.items() if k != 'mining'}

    stock, deferred = runner('stock_late'), runner('deferred_late')
    feed(RuntimeInfoHook(), stock, first_outputs=without_mining)
    hook = DeferredRuntimeInfoHook()
    hook.before_train(deferred)
    reads = feed(hook, deferred, first_outputs=without_mining)
    assert reads == 1  # iteration 1 brings the new key: moved there, then never
    got, want = scalars(deferred.message_hub), scalars(stock.message_hub)
    assert got == want
    assert list(got) == list(want)
    assert list(got).index('train/mining') > list(got).index('train/time')


def test_values_arrive_at_the_logging_iterations():
    run = runner('timing')
    hook = DeferredRuntimeInfoHook()
    hook.before_train(run)
    hook.after_train_iter(run, 0, None, outputs(0))  # new keys: moved at once
    hook.after_train_iter(run, 1, None, outputs(1))
    assert run.message_hub.log_scalars['train/loss'].data[0].tolist() == [1.0]
    hook.after_train_iter(run, 2, None, outputs(2))  # LoggerHook logs after this one
    assert run.message_hub.log_scalars['train/loss'].data[0].tolist() == pytest.approx(
        [1.0, 1 / 2, 1 / 3]
    )
    hook.after_train_iter(run, 3, None, outputs(3))
    hook.before_val(run)  # validation and checkpoints see everything
    assert len(run.message_hub.log_scalars['train/loss'].data[0]) == 4


def test_without_logger_every_iteration_and_bad_outputs():
    run = runner('nologger')
    run.hooks = []
    hook = DeferredRuntimeInfoHook()
    hook.before_train(run)
    assert hook.interval == 1
    with pytest.raises(ValueError, match="output 'loss' has shape"):
        hook.after_train_iter(run, 0, None, dict(loss=torch.ones(2)))
    with pytest.raises(ValueError, match='interval must be >= 1'):
        DeferredRuntimeInfoHook(interval=0)


def _logged_rows(work_dir):
    import glob
    import json

    (path,) = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    timing = {'time', 'data_time', 'memory', 'eta'}
    return [list(row) for row in rows], [
        {k: v for k, v in row.items() if k not in timing} for row in rows
    ]


@pytest.mark.slow
def test_a_training_run_logs_the_same_as_with_mmengines_hook(tmp_path):
    """tools/train.py, tiny AimCLR, logs every 2nd iteration: the same rows either way."""
    import os.path as osp

    from ...conftest import REPO_ROOT, run_python
    from ...tools.test_kill_resume_pretrain import write_tiny_pretrain

    config = write_tiny_pretrain(tmp_path)
    rows = {}
    for hook in ('DeferredRuntimeInfoHook', 'RuntimeInfoHook'):
        work = tmp_path / hook
        run_python(
            [
                osp.join(REPO_ROOT, 'tools', 'train.py'),
                str(config),
                '--work-dir',
                str(work),
                '--cfg-options',
                f'default_hooks.runtime_info.type={hook}',
                'default_hooks.logger.interval=2',
                'train_cfg.max_epochs=2',
            ],
            cwd=tmp_path,
            env={'OMP_NUM_THREADS': '1'},
        )
        rows[hook] = _logged_rows(work)
    (deferred_keys, deferred), (stock_keys, stock) = (
        rows['DeferredRuntimeInfoHook'],
        rows['RuntimeInfoHook'],
    )
    assert len(deferred) >= 4 and 'loss' in deferred[0] and 'nce_acc' in deferred[0]
    assert deferred == stock
    assert deferred_keys == stock_keys  # the keys in the same order, timing keys included
    assert deferred_keys[0].index('loss') < deferred_keys[0].index('time')


def _checkpoint_hubs(work_dir, hook):
    """Train 8 iterations, logging every 4th, a checkpoint every 3rd; their message hubs."""
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Model(BaseModel):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='loss'):
            loss = self.linear(inputs).pow(2).mean()
            return dict(loss=loss, half=loss.detach() / 2)

    data = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)  # the same initial weights in both runs
    Runner(
        model=Model(),
        work_dir=str(work_dir),
        experiment_name=f'{hook}:{work_dir}',  # a MessageHub of its own
        default_scope='mmaction',
        train_dataloader=toy_dataloader(data),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        default_hooks=dict(
            runtime_info=dict(type=hook),
            logger=dict(type='LoggerHook', interval=4),
            checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=3),
        ),
        randomness=dict(seed=0),
        log_level='ERROR',
    ).train()
    hubs = {}
    for it in (3, 6, 8):
        hub = torch.load(work_dir / f'iter_{it}.pth', weights_only=True)['message_hub']
        timing = {'train/time', 'train/data_time'}
        excluded_info = ('cfg', 'experiment_name', 'last_ckpt', 'eta')
        hubs[it] = dict(
            scalars={
                k: (v._log_history.tolist(), v._count_history.tolist())
                for k, v in hub['log_scalars'].items()
                if k not in timing
            },
            scalar_keys=list(hub['log_scalars']),  # in order
            resumed_keys=list(hub['resumed_keys'].items()),
            # all but what names the run and its work dir, and the timed eta
            info={k: v for k, v in hub['runtime_info'].items() if k not in excluded_info},
        )
    return hubs


def test_checkpoints_between_logging_iterations_hold_every_scalar(tmp_path):
    """Checkpoints at iterations 3 and 6 (logging at 4 and 8) equal mmengine's hook's."""
    stock = _checkpoint_hubs(tmp_path / 'stock', 'RuntimeInfoHook')
    deferred = _checkpoint_hubs(tmp_path / 'deferred', 'DeferredRuntimeInfoHook')
    assert len(stock[3]['scalars']['train/loss'][0]) == 3
    assert len(stock[3]['scalars']['train/half'][0]) == 3
    assert deferred == stock
