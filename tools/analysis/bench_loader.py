"""What receiving a batch from the DataLoader workers costs the training process.

The workers collate and pickle each batch; the training process unpickles it (in the
pin-memory thread with ``pin_memory=True``, in the main thread otherwise), holding the GIL
that the training step needs to launch its kernels. This script iterates the config's
real training DataLoader and reports the training process's CPU time per batch (all its
threads, ``time.process_time``) and the wall time per batch, for three forms of
``multi_skeleton_collate``'s batch, in alternating rounds so that the ratios come from one
run: ``one_buffer`` (the default: the data samples as a
:class:`msclr_mm.datasets.SampleList`, every tensor a view of one shared-memory buffer),
``sample_list`` (``one_buffer=False``: one shared-memory segment per tensor) and ``list``
(also ``compact_samples=False``: a plain list of ``ActionDataSample`` s). It also times
the unpickling of one batch's data samples alone.

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


FORMS = dict(
    one_buffer=dict(compact_samples=True, one_buffer=True),
    sample_list=dict(compact_samples=True, one_buffer=False),
    list=dict(compact_samples=False, one_buffer=False),
)


def build_loader(cfg, collate_options, batch_size, num_workers):
    """The config's training DataLoader with ``multi_skeleton_collate(**collate_options)``."""
    from mmengine.runner import Runner

    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    if batch_size is not None:
        loader_cfg['batch_size'] = batch_size
    loader_cfg.update(num_workers=num_workers, persistent_workers=num_workers > 0)
    loader_cfg['pin_memory'] = torch.cuda.is_available()
    loader_cfg['collate_fn'] = dict(type='multi_skeleton_collate', **collate_options)
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


def batch_storages(batch):
    """(tensors, distinct storages) among a received batch's ``inputs``."""
    tensors = [t for view in batch['inputs'].values() for g in view.values() for t in g.values()]
    return len(tensors), len({t.untyped_storage().data_ptr() for t in tensors})


def main(argv=None):
    """Entry point."""
    from benchmark import emit_report, load_config

    args = parse_args(argv)
    cfg = load_config(args)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    loaders = {
        name: build_loader(cfg, options, args.batch_size, args.num_workers)
        for name, options in FORMS.items()
    }
    times = {name: dict(cpu=[], wall=[]) for name in loaders}
    samples, storages = {}, {}
    for _ in range(args.rounds):
        for name, loader in loaders.items():
            cpu, wall, first = time_round(loader, args.batches)
            times[name]['cpu'].append(cpu)
            times[name]['wall'].append(wall)
            samples[name] = first['data_samples']
            storages[name] = batch_storages(first)
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
            tensors_per_batch=storages[name][0],
            storages_per_batch=storages[name][1],
        )
    assert isinstance(samples['sample_list'], SampleList)
    cpu = {name: report[name]['main_cpu_ms_per_batch'] for name in loaders}
    report['main_cpu_ratio_list_over_sample_list'] = cpu['list'] / cpu['sample_list']
    report['main_cpu_ratio_sample_list_over_one_buffer'] = cpu['sample_list'] / cpu['one_buffer']
    report['main_cpu_ratio_list_over_one_buffer'] = cpu['list'] / cpu['one_buffer']
    emit_report(report, args.json_out)


if __name__ == '__main__':
    main()
