"""What receiving a batch from the DataLoader workers costs the training process.

The workers collate and pickle each batch; the training process unpickles it (in the
pin-memory thread with ``pin_memory=True``, in the main thread otherwise), holding the GIL
that the training step needs to launch its kernels. This script iterates the config's
real training DataLoader and reports the training process's CPU time per batch (all its
threads, ``time.process_time``) and the wall time per batch, for the batch's data samples
as a :class:`msclr_mm.datasets.SampleList` (``multi_skeleton_collate``'s default) and
as a plain list of ``ActionDataSample`` s (``compact_samples=False``), in alternating
rounds so that the ratio comes from one run. It also times the unpickling of one
batch's data samples alone.

Example:
    python tools/analysis/bench_loader.py \
        configs/msclr/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py \
        --synthetic 2000 --num-workers 2 --batches 30 --rounds 3

The last output line is JSON.
"""

import argparse
import copy
import os.path as osp
import pickle
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import msclr_mm  # noqa: E402,F401
from msclr_mm.datasets import SampleList  # noqa: E402


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batches', type=int, default=30, help='batches timed per round')
    parser.add_argument('--rounds', type=int, default=3, help='alternating rounds per form')
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--synthetic', type=int, default=None, help='synthetic clips per format')
    parser.add_argument('--synthetic-dir', default='data/synthetic')
    parser.add_argument('--json-out', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def build_loader(cfg, compact_samples, batch_size, num_workers):
    """The config's training DataLoader with ``multi_skeleton_collate(compact_samples=)``."""
    from mmengine.runner import Runner

    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    if batch_size is not None:
        loader_cfg['batch_size'] = batch_size
    loader_cfg.update(num_workers=num_workers, persistent_workers=num_workers > 0)
    loader_cfg['pin_memory'] = torch.cuda.is_available()
    loader_cfg['collate_fn'] = dict(type='multi_skeleton_collate', compact_samples=compact_samples)
    return Runner.build_dataloader(loader_cfg, seed=0)


def time_round(loader, batches):
    """CPU and wall seconds per batch over ``batches`` batches (after one untimed)."""
    it = iter(loader)
    first = next(it)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(batches):
        next(it)
    return (
        (time.process_time() - cpu) / batches,
        (time.perf_counter() - wall) / batches,
        first,
    )


def unpickle_ms(samples, repeats=20):
    """Milliseconds to unpickle ``samples`` once (mean of ``repeats``)."""
    data = pickle.dumps(samples, protocol=pickle.HIGHEST_PROTOCOL)
    start = time.perf_counter()
    for _ in range(repeats):
        pickle.loads(data)
    return (time.perf_counter() - start) / repeats * 1e3, len(data)


def main(argv=None):
    """Entry point."""
    from benchmark import emit_report, load_config

    args = parse_args(argv)
    cfg = load_config(args)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    loaders = {
        'sample_list': build_loader(cfg, True, args.batch_size, args.num_workers),
        'list': build_loader(cfg, False, args.batch_size, args.num_workers),
    }
    times = {name: dict(cpu=[], wall=[]) for name in loaders}
    samples = {}
    for _ in range(args.rounds):
        for name, loader in loaders.items():
            cpu, wall, first = time_round(loader, args.batches)
            times[name]['cpu'].append(cpu)
            times[name]['wall'].append(wall)
            samples[name] = first['data_samples']
    report = dict(
        config=args.config,
        batch_size=loaders['list'].batch_size,
        num_workers=args.num_workers,
        pin_memory=loaders['list'].pin_memory,
    )
    for name in loaders:
        ms, size = unpickle_ms(samples[name])
        report[name] = dict(
            main_cpu_ms_per_batch=statistics.median(times[name]['cpu']) * 1e3,
            wall_ms_per_batch=statistics.median(times[name]['wall']) * 1e3,
            unpickle_samples_ms=ms,
            pickled_samples_bytes=size,
            rounds_cpu_ms=[t * 1e3 for t in times[name]['cpu']],
        )
    assert isinstance(samples['sample_list'], SampleList)
    report['main_cpu_ratio_list_over_sample_list'] = (
        report['list']['main_cpu_ms_per_batch'] / report['sample_list']['main_cpu_ms_per_batch']
    )
    emit_report(report, args.json_out)


if __name__ == '__main__':
    main()
