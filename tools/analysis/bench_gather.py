"""CPU per sample of a config's training pipeline and collate, float32 vs float16 batches.

``GatherSkeletonViews(dtype=...)`` decides the type of the arrays a DataLoader worker
gathers, collates into one shared-memory buffer and hands to the training process (which
pins it and copies it to the device). ``'float16'`` is the store's own type (the same
values, half the bytes); ``'float32'`` is what mmaction2's pipelines produce. This tool
builds the config's training dataset once per dtype (the same cache) and times
``__getitem__`` for ``--batch`` consecutive samples plus ``multi_skeleton_collate`` of
them, on one core, in alternating rounds so that the ratio comes from one run (each
round seeds the random generators, so both dtypes draw the same formats and frames).

Example:
    python tools/analysis/bench_gather.py \
        configs/msclr/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py \
        --synthetic 4000 --rounds 5 --batches 4

The last output line is JSON: ms per sample for each dtype (median of the rounds), the
rounds, the bytes of one collated batch, and ``ratio`` (float32 over float16).
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
from mmengine.registry import init_default_scope  # noqa: E402

import msclr_mm  # noqa: E402,F401

DTYPES = ('float32', 'float16')


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--rounds', type=int, default=5, help='alternating rounds per dtype')
    parser.add_argument('--batches', type=int, default=4, help='batches timed per round')
    parser.add_argument('--batch', type=int, default=None, help="samples per batch (config's)")
    parser.add_argument('--synthetic', type=int, default=None, help='synthetic clips per format')
    parser.add_argument('--synthetic-dir', default='data/synthetic')
    parser.add_argument('--json-out', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def build_dataset(cfg, dtype):
    """The config's training dataset with every ``GatherSkeletonViews`` set to ``dtype``."""
    from mmaction.registry import DATASETS

    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    gathers = [t for t in dataset_cfg.get('pipeline', []) if t['type'] == 'GatherSkeletonViews']
    if not gathers:
        raise SystemExit(f'{cfg.filename}: the training pipeline has no GatherSkeletonViews')
    for t in gathers:
        t['dtype'] = dtype
    return DATASETS.build(dataset_cfg)


def seed_everything(seed):
    """Seed Python's, NumPy's and torch's generators (the pipeline's random draws)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def batch_bytes(batch):
    """Bytes of a collated batch's tensors (each group's ``keypoint`` and ``index``)."""
    return sum(
        t.numel() * t.element_size()
        for view in batch['inputs'].values()
        for group in view.values()
        for t in group.values()
    )


def main(argv=None):
    """Entry point."""
    from benchmark import emit_report, load_config

    from msclr_mm.datasets.transforms.formatting import multi_skeleton_collate

    args = parse_args(argv)
    cfg = load_config(args)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    torch.set_num_threads(1)
    batch = args.batch or cfg.train_dataloader['batch_size']
    datasets = {dtype: build_dataset(cfg, dtype) for dtype in DTYPES}
    n = len(datasets['float32'])
    rounds = {dtype: [] for dtype in DTYPES}
    sizes = {}
    for r in range(args.rounds + 1):  # round 0 untimed (page cache, first calls)
        for dtype, dataset in datasets.items():
            seed_everything(r)  # both dtypes draw the same formats and frames in a round
            start = time.perf_counter()
            for b in range(args.batches):
                first = (r * args.batches + b) * batch
                out = multi_skeleton_collate([dataset[(first + i) % n] for i in range(batch)])
            elapsed = time.perf_counter() - start
            sizes[dtype] = batch_bytes(out)
            if r:
                rounds[dtype].append(elapsed / (args.batches * batch) * 1e3)
    ms = {dtype: statistics.median(rounds[dtype]) for dtype in DTYPES}
    report = dict(
        config=args.config,
        batch=batch,
        **{f'{d}_ms_per_sample': ms[d] for d in DTYPES},
        **{f'{d}_rounds_ms': rounds[d] for d in DTYPES},
        **{f'{d}_batch_bytes': sizes[d] for d in DTYPES},
        ratio=ms['float32'] / ms['float16'],
    )
    emit_report(report, args.json_out)


if __name__ == '__main__':
    main()
