"""Measure the training throughput of a config: model step, full loop, CPU pipeline.

Builds the config's model, optimiser and training dataloader exactly as ``tools/train.py``
would, then reports sequences (clips) per second for

(a) ``model_step``: ``model.train_step`` (data preprocessor, forward, backward, optimiser
    step, queue and EMA updates) on one real batch kept on the device, repeated;
(b) ``full_loop``: the same step fed by the config's real DataLoader (workers, collate,
    host-to-device copies);
(c) ``cpu_pipeline``: the dataset's ``__getitem__`` plus collate alone, on one core, in ms
    per sample;

plus peak GPU memory. ``--baseline`` runs the same model eager in fp32 with every
optimisation off, so a ratio comes from two invocations on one machine (or from
``--compare``, which runs both in one process, interleaved). The last output line is JSON
with a ``seq_per_s`` key (the full loop of the run asked for).

Examples:
    python tools/analysis/benchmark.py configs/demo/msaimclr_demo.py --device cpu --iters 5
    python tools/analysis/benchmark.py CONFIG --device cuda --amp bf16 --compare
"""

import argparse
import contextlib
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import msclr_mm  # noqa: E402,F401

NTU60_CLIPS = 40_000  # x-sub training clips, rounded, as in DESIGN.md § Speed


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--baseline', action='store_true', help='eager fp32, optimisations off')
    parser.add_argument(
        '--compare', action='store_true', help='run baseline and optimised in one process'
    )
    parser.add_argument(
        '--amp',
        choices=['none', 'bf16', 'fp16'],
        default=None,
        help='autocast dtype of the optimised run (default: bf16 on cuda, none on cpu)',
    )
    parser.add_argument('--compile', action='store_true', help='torch.compile the model')
    parser.add_argument('--iters', type=int, default=20, help='timed steps per measurement')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first')
    parser.add_argument('--batch-size', type=int, default=None, help='override the batch size')
    parser.add_argument('--num-workers', type=int, default=None, help='override the workers')
    parser.add_argument('--pipeline-samples', type=int, default=200, help='samples timed for (c)')
    parser.add_argument('--skip-loop', action='store_true', help='skip (b)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def build(cfg, device, batch_size=None, num_workers=None):
    """Build model, optimiser wrapper and training dataloader from ``cfg``.

    Returns:
        tuple: ``(model, optim_wrapper, dataloader)``.
    """
    import mmaction.models  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner

    init_default_scope(cfg.get('default_scope', 'mmaction'))
    loader_cfg = cfg.train_dataloader.copy()
    if batch_size is not None:
        loader_cfg['batch_size'] = batch_size
    if num_workers is not None:
        loader_cfg['num_workers'] = num_workers
        if num_workers == 0:
            loader_cfg['persistent_workers'] = False
    loader_cfg.setdefault('pin_memory', device == 'cuda')
    dataloader = Runner.build_dataloader(loader_cfg, seed=0)
    model = MODELS.build(cfg.model).to(device)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper, dataloader


def _sync(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def time_steps(step, batches, device, iters, warmup):
    """Run ``step(batch)`` ``warmup + iters`` times; return seconds per timed step."""
    it = iter(batches)
    for _ in range(warmup):
        step(next(it))
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        step(next(it))
    _sync(device)
    return (time.perf_counter() - start) / iters


def _cycle(loader):
    while True:
        yield from loader


def _repeat(batch):
    while True:
        yield batch


def measure(cfg, args, optimised):
    """Measure (a) and (b) for one setting; return a dict of figures."""
    device = args.device
    amp = args.amp if args.amp is not None else ('bf16' if device == 'cuda' else 'none')
    if not optimised:
        amp = 'none'
    model, optim_wrapper, dataloader = build(cfg, device, args.batch_size, args.num_workers)
    if optimised and args.compile:
        model = torch.compile(model)
    dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(amp)
    autocast = (
        torch.autocast(device_type=device, dtype=dtype) if dtype else contextlib.nullcontext()
    )

    def step(batch):
        with autocast:
            return model.train_step(batch, optim_wrapper)

    batch_size = dataloader.batch_size
    first = next(iter(dataloader))
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    resident = model.data_preprocessor.cast_data(first)
    step_s = time_steps(step, _repeat(resident), device, args.iters, args.warmup)
    result = dict(
        optimised=optimised,
        amp=amp,
        compile=bool(optimised and args.compile),
        batch_size=batch_size,
        model_step_seq_per_s=batch_size / step_s,
        model_step_ms=step_s * 1e3,
    )
    if not args.skip_loop:
        loop_s = time_steps(step, _cycle(dataloader), device, args.iters, args.warmup)
        result.update(full_loop_seq_per_s=batch_size / loop_s, full_loop_ms=loop_s * 1e3)
    if device == 'cuda':
        result['peak_gpu_mem_gib'] = torch.cuda.max_memory_allocated() / 2**30
    return result


def measure_pipeline(cfg, samples):
    """(c): ms per sample of ``__getitem__`` + collate on one core, main process."""
    from mmengine.registry import DATASETS, FUNCTIONS

    torch.set_num_threads(1)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    collate_cfg = cfg.train_dataloader.get('collate_fn', dict(type='pseudo_collate'))
    collate = FUNCTIONS.get(collate_cfg['type'])
    n = min(samples, len(dataset))
    batch = 32
    start = time.perf_counter()
    for begin in range(0, n, batch):
        collate([dataset[i % len(dataset)] for i in range(begin, min(n, begin + batch))])
    return (time.perf_counter() - start) / n * 1e3


def main(argv=None):
    """Entry point."""
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda asked for, but torch sees no CUDA device')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    report = dict(config=args.config, device=args.device, torch=torch.__version__)
    if args.device == 'cuda':
        report['gpu'] = torch.cuda.get_device_name()
    runs = [not args.baseline] if not args.compare else [False, True]
    for optimised in runs:
        figures = measure(cfg, args, optimised)
        report['optimised' if optimised else 'baseline'] = figures
        print(json.dumps(figures))
    if args.compare:
        key = 'full_loop_seq_per_s' if not args.skip_loop else 'model_step_seq_per_s'
        report['speedup'] = report['optimised'][key] / report['baseline'][key]
    torch.set_num_threads(threads)
    report['cpu_pipeline_ms_per_sample'] = measure_pipeline(cfg, args.pipeline_samples)
    torch.set_num_threads(threads)
    main_run = report['optimised' if not args.baseline else 'baseline']
    key = 'full_loop_seq_per_s' if 'full_loop_seq_per_s' in main_run else 'model_step_seq_per_s'
    report['seq_per_s'] = main_run[key]
    # An NTU-60 x-sub epoch with two formats visits 40,000 clips x 2 formats; computed from
    # the measured seq_per_s (same model and batch), not timed on NTU itself.
    report['ntu60_2formats_epoch_s'] = NTU60_CLIPS * 2 / report['seq_per_s']
    report['cpu_threads'] = threads
    print(json.dumps(report))


if __name__ == '__main__':
    main()
