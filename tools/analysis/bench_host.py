"""How fast the training loop can go when the model step costs nothing: the host's ceiling.

Issue 8 asks for 9,000 sequences/s end to end: a batch of 128 every 14 ms. Whatever the
GPU step takes, the training process must also fetch each batch from the DataLoader
(workers, pinning), copy it to the device and run MMEngine's loop and hooks (timer,
runtime info, logger, scheduler, checkpoint, sampler seed, RNG state) in that time. This
tool measures that host side alone: it builds the config's ``Runner`` exactly as
``tools/train.py`` does and runs ``runner.train()`` with the model's ``train_step``
replaced by a *null step* that only does what a whole-step CUDA graph leaves to the host
(the data preprocessor's host-to-device copy of the inputs) and returns the real step's
log variables as fresh device tensors (their names and values are taken from one real
step before timing, run eager: the config's ``compile`` and ``cuda_graph_step`` are
switched off for it).

Two modes, in one process (each a fresh ``Runner``):

- ``replay``: one collated batch replayed from memory (a ``DataLoader`` without workers
  over a list holding it): the loop and hooks alone;
- ``loader``: the config's own training DataLoader (workers, ``pin_memory``, collate):
  what the training process pays to receive each batch, plus the loop.

Reported per mode (``warmup`` untimed iterations, then ``iters`` timed; the run stops
there, mid-epoch): wall milliseconds per iteration and the ceiling it implies in
sequences/s (batch size / wall time), split into ``fetch_ms`` (from one iteration's end to
the next one's ``before_train_iter``: the DataLoader and the loop), ``hooks_ms`` (the
hooks around the step) and ``null_step_ms``; the CPU time of the main thread and of the
whole training process (all its threads: the pin-memory thread too, not the workers) per
iteration; the median, 90th percentile and maximum of single iterations (logging
iterations read the deferred scalars: on a GPU that waits for the queued work).

On a CPU-only machine the ``loader`` figure is bounded by the workers sharing the cores
with the training process; the per-iteration CPU times are the figures that carry over.

Example:
    python tools/analysis/bench_host.py \
        configs/msclr/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py \
        --synthetic 4000 --num-workers 8 --iters 200

The last output line is JSON (``seq_per_s``: the ``loader`` ceiling, else ``replay``'s).
"""

import argparse
import copy
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402

import msclr_mm  # noqa: E402,F401

MODES = ('replay', 'loader')


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--iters', type=int, default=200, help='timed iterations per mode')
    parser.add_argument('--warmup', type=int, default=20, help='untimed iterations first')
    parser.add_argument('--batch-size', type=int, default=None, help='override the batch size')
    parser.add_argument('--num-workers', type=int, default=None, help='override the workers')
    parser.add_argument('--synthetic', type=int, default=None, help='synthetic clips per format')
    parser.add_argument('--synthetic-dir', default='data/synthetic', help='where to write them')
    parser.add_argument('--work-dir', default='work_dirs/bench_host', help="the runners' logs")
    parser.add_argument('--json-out', default=None, help='also write the report to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 1:
        parser.error('--iters and --warmup must be at least 1')
    return args


class Finished(Exception):
    """Raised by :class:`IterProbe` once the timed iterations are done (ends ``train``)."""


class IterProbe:
    """Time stamps of every training iteration, from two hooks at the ends of the order.

    ``start`` (priority ``VERY_HIGH``) stamps ``before_train_iter`` first, ``end``
    (``VERY_LOW``) stamps ``after_train_iter`` last, so ``end - start`` is the hooks plus
    the step and ``start - previous end`` the fetch of the batch. After ``warmup + iters``
    iterations ``end`` raises :class:`Finished`.

    Args:
        warmup (int): Untimed iterations.
        iters (int): Timed iterations.
    """

    def __init__(self, warmup: int, iters: int) -> None:
        self.warmup, self.iters = warmup, iters
        self.starts: list = []
        self.ends: list = []  # (wall, main-thread CPU, process CPU) after each iteration
        self.steps: list = []  # seconds inside the null step
        probe = self

        class Start(Hook):
            def before_train_iter(self, runner, batch_idx, data_batch=None):
                probe.starts.append(time.perf_counter())

        class End(Hook):
            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
                probe.ends.append((time.perf_counter(), time.thread_time(), time.process_time()))
                if len(probe.ends) == probe.warmup + probe.iters:
                    raise Finished

        self.start_hook, self.end_hook = Start(), End()

    def summary(self, batch_size: int) -> dict:
        """Milliseconds per timed iteration, split, and the ceiling in sequences/s.

        Args:
            batch_size (int): Sequences per iteration.

        Returns:
            dict: see the module doc.
        """
        w, n = self.warmup, self.iters
        first, last = self.ends[w - 1], self.ends[w + n - 1]
        per_iter = [self.ends[i][0] - self.ends[i - 1][0] for i in range(w, w + n)]
        fetch = sum(self.starts[i] - self.ends[i - 1][0] for i in range(w, w + n))
        inside = sum(self.ends[i][0] - self.starts[i] for i in range(w, w + n))
        step = sum(self.steps[w : w + n])
        wall = (last[0] - first[0]) / n
        deciles = statistics.quantiles(per_iter, n=10) if n > 1 else per_iter * 9
        return dict(
            iters=n,
            wall_ms_per_iter=wall * 1e3,
            seq_per_s=batch_size / wall,
            fetch_ms=fetch / n * 1e3,
            hooks_ms=(inside - step) / n * 1e3,
            null_step_ms=step / n * 1e3,
            main_thread_cpu_ms_per_iter=(last[1] - first[1]) / n * 1e3,
            process_cpu_ms_per_iter=(last[2] - first[2]) / n * 1e3,
            iter_ms_median=statistics.median(per_iter) * 1e3,
            iter_ms_p90=deciles[-1] * 1e3,
            iter_ms_max=max(per_iter) * 1e3,
        )


def bench_config(cfg, args):
    """The config as the null-step runs use it: one epoch, no validation, eager model."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = args.work_dir
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.load_from, cfg.resume = None, False
    cfg.model.backbone['compile'] = False  # only one real step runs, for the log names
    cfg.model['cuda_graph_step'] = False
    loader = cfg.train_dataloader
    if args.batch_size is not None:
        loader['batch_size'] = args.batch_size
    if args.num_workers is not None:
        loader['num_workers'] = args.num_workers
        loader['persistent_workers'] = args.num_workers > 0
    return cfg


def replay_loader(runner, batches):
    """A worker-less ``DataLoader`` yielding one batch of the config's loader ``batches`` times.

    The batch is pinned when the config's loader pins (and CUDA is there), as the
    pin-memory thread would have left it.
    """
    from torch.utils.data import DataLoader

    source = runner.build_dataloader(
        dict(copy.deepcopy(runner._train_dataloader), num_workers=0, persistent_workers=False),
        seed=0,
    )
    batch = next(iter(source))
    if source.pin_memory and torch.cuda.is_available():
        from torch.utils.data._utils.pin_memory import pin_memory

        batch = pin_memory(batch)
    return DataLoader([batch] * batches, batch_size=1, num_workers=0, collate_fn=_only)


def _only(batches):
    return batches[0]


def null_step(model, probe):
    """``train_step`` doing only the host-to-device copy; returns the real step's logs.

    The first call runs the real ``train_step`` once (untimed warm-up) and keeps its log
    variables; every later call copies the inputs as the data preprocessor does and
    returns fresh device copies of those variables.
    """
    real_step = model.train_step
    preprocessor = model.data_preprocessor
    logs = {}

    def step(data, optim_wrapper):
        if not logs:
            logs.update({k: v.detach() for k, v in real_step(data, optim_wrapper).items()})
        start = time.perf_counter()
        if preprocessor.move_data_samples:
            preprocessor.cast_data(data)
        else:
            preprocessor.cast_data(data['inputs'])
        out = {k: v.clone() for k, v in logs.items()}
        probe.steps.append(time.perf_counter() - start)
        return out

    return step


def run_mode(cfg, args, mode, extra_hooks=()):
    """One fresh ``Runner`` trained with the null step in ``mode``; its summary.

    Args:
        cfg (Config): From :func:`bench_config`.
        args (argparse.Namespace): ``warmup`` and ``iters``.
        mode (str): ``'replay'`` or ``'loader'``.
        extra_hooks (Sequence[Hook]): Registered too (``NORMAL`` priority): what one more
            hook costs each iteration shows up in ``hooks_ms``. Defaults to none.

    Returns:
        dict: The mode's figures (:meth:`IterProbe.summary` plus the loader's settings).
    """
    from mmengine.runner import Runner

    runner = Runner.from_cfg(copy.deepcopy(cfg))
    if mode == 'replay':
        loader = replay_loader(runner, args.warmup + args.iters)
        batch_size = len(next(iter(loader))['data_samples'])
        runner._train_dataloader = loader
    else:
        batch_size = cfg.train_dataloader['batch_size']
    probe = IterProbe(args.warmup, args.iters)
    runner.register_hook(probe.start_hook, priority='VERY_HIGH')
    runner.register_hook(probe.end_hook, priority='VERY_LOW')
    for hook in extra_hooks:
        runner.register_hook(hook)
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    model.train_step = null_step(model, probe)
    try:
        runner.train()
    except Finished:
        pass
    if len(probe.ends) < args.warmup + args.iters:
        raise SystemExit(
            f'bench_host.py: the epoch ended after {len(probe.ends)} iterations; '
            f'--warmup {args.warmup} + --iters {args.iters} need more clips '
            f'(--synthetic) or a smaller --batch-size'
        )
    loader = runner.train_loop.dataloader
    result = dict(
        mode=mode,
        batch_size=batch_size,
        num_workers=loader.num_workers if mode == 'loader' else 0,
        pin_memory=bool(loader.pin_memory) if mode == 'loader' else None,
        device=str(next(model.parameters()).device),
    )
    result.update(probe.summary(batch_size))
    return result


def main(argv=None):
    """Entry point."""
    from benchmark import emit_report, load_config

    args = parse_args(argv)
    cfg = bench_config(load_config(args), args)
    report = dict(
        config=args.config,
        torch=torch.__version__,
        cuda=torch.cuda.is_available(),
        threads=torch.get_num_threads(),
        warmup=args.warmup,
    )
    for mode in args.modes:
        report[mode] = run_mode(cfg, args, mode)
        print(report[mode])
    report['seq_per_s'] = report['loader' if 'loader' in args.modes else 'replay']['seq_per_s']
    emit_report(report, args.json_out)


if __name__ == '__main__':
    main()
