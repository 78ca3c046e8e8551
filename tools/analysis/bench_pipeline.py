"""CPU cost per sample: our multi-skeleton pretraining path vs mmaction2's stock pose pipeline.

Ours: ``MultiSkeletonDataset.__getitem__`` with the pretraining pipeline (two views,
``SampleFormatViews`` -> ``SampleSkeletonFrames(clip_len)`` -> ``GatherSkeletonViews`` ->
``PackMultiSkeletonInputs``) on the normalised, memory-mapped cache. Stock: mmaction2's
``PoseDataset.__getitem__`` with the ST-GCN NTU-60 3D pipeline (``PreNormalize3D``,
``GenSkeFeat``, ``UniformSampleFrames(clip_len)``, ``PoseDecode``,
``FormatGCNInput(num_person=2)``, ``PackActionInputs``), one view. Both read the same
kinect25 demo pickle; one process, one thread (``torch.set_num_threads(1)``), repetitions
interleaved (ours, stock, ours, ...) and the median per-sample time reported.

Example:
    python tools/analysis/bench_pipeline.py [--data-dir data/demo] [--samples 300 --reps 7]

The last line of the output is one JSON object with ``ours_ms_per_sample``,
``stock_ms_per_sample`` and ``ratio`` (stock / ours).
"""

import argparse
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

import msclr_mm  # noqa: E402,F401
from msclr_mm.datasets import MultiSkeletonDataset  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-dir', help='folder with kinect25.pkl (default: generate)')
    parser.add_argument('--split', default='xsub_train')
    parser.add_argument('--clip-len', type=int, default=50)
    parser.add_argument('--samples', type=int, default=300, help='samples per repetition')
    parser.add_argument('--reps', type=int, default=7, help='interleaved repetitions')
    parser.add_argument('--cache-dir', help='normalisation cache (default: a temp dir)')
    return parser.parse_args(argv)


def make_demo(argv):
    """Run ``tools/data/make_demo_data.py`` (loaded by path: ``tools`` is no package)."""
    import importlib.util

    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'make_demo_data.py')
    spec = importlib.util.spec_from_file_location('make_demo_data', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def build(args, data_dir, cache_dir):
    """Our ``MultiSkeletonDataset`` and mmaction2's ``PoseDataset`` over the same pickle.

    Returns:
        tuple: ``(ours, stock)``, both with ``args.clip_len``-frame training pipelines.
    """
    from mmaction.datasets import PoseDataset
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')

    ann = osp.join(data_dir, 'kinect25.pkl')
    ours = MultiSkeletonDataset(
        {'kinect25': ann},
        split=args.split,
        cache_dir=cache_dir,
        pipeline=[
            dict(type='SampleFormatViews', rule='random'),
            dict(type='SampleSkeletonFrames', clip_len=args.clip_len),
            dict(type='GatherSkeletonViews'),
            dict(type='PackMultiSkeletonInputs'),
        ],
    )
    stock = PoseDataset(
        ann_file=ann,
        split=args.split,
        pipeline=[
            dict(type='PreNormalize3D'),
            dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
            dict(type='UniformSampleFrames', clip_len=args.clip_len),
            dict(type='PoseDecode'),
            dict(type='FormatGCNInput', num_person=2),
            dict(type='PackActionInputs'),
        ],
    )
    return ours, stock


def time_per_sample(ds, n, start):
    """Milliseconds per ``ds[i]`` over ``n`` samples from index ``start`` (wrapping)."""
    t0 = time.perf_counter()
    for i in range(n):
        ds[(start + i) % len(ds)]
    return (time.perf_counter() - t0) * 1000.0 / n


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = osp.join(tmp, 'demo')
            make_demo(['--out-dir', data_dir])
        ours, stock = build(args, data_dir, args.cache_dir or osp.join(tmp, 'cache'))
        time_per_sample(ours, min(20, args.samples), 0)  # warm-up (page cache, imports)
        time_per_sample(stock, min(20, args.samples), 0)
        t_ours, t_stock = [], []
        for r in range(args.reps):
            t_ours.append(time_per_sample(ours, args.samples, r * args.samples))
            t_stock.append(time_per_sample(stock, args.samples, r * args.samples))
            print(f'rep {r}: ours {t_ours[-1]:.4f} ms/sample, stock {t_stock[-1]:.4f} ms/sample')
    o, s = statistics.median(t_ours), statistics.median(t_stock)
    result = dict(
        ours_ms_per_sample=round(o, 5),
        stock_ms_per_sample=round(s, 5),
        ratio=round(s / o, 2),
        clip_len=args.clip_len,
        samples=args.samples,
        reps=args.reps,
        ours_views=2,
        stock_views=1,
        pid=os.getpid(),
    )
    print(json.dumps(result))
    return result


if __name__ == '__main__':
    main()
