"""Per-batch cost of the full AimCLR augmentation in SkeletonDataPreprocessor (training mode).

Views: ``query`` and ``key`` (temporal crop + shear each) and the derived ``query_extreme``
(flip, rotate, time flip, noise, blur, axis mask on the augmented query), then the stream
conversion, for one batch of one format.

Example:
    python tools/analysis/bench_augment.py --batch 128 --frames 50 --fmt kinect25

The last line of the output is one JSON object with the figures.

"""

import argparse
import json
import time

import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.data_preprocessors import (
    SkeletonDataPreprocessor,
    aimclr_extreme_augmentation,
    normal_augmentation,
)
from msclr_mm.skeletons import get_format


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--frames', type=int, default=50)
    parser.add_argument('--persons', type=int, default=2)
    parser.add_argument('--fmt', default='kinect25')
    parser.add_argument('--stream', default='joint')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--repeats', type=int, default=20)
    return parser.parse_args()


def main():
    args = parse_args()
    fmt = get_format(args.fmt)
    device = torch.device(args.device)
    pre = SkeletonDataPreprocessor(
        views=dict(query=normal_augmentation(), key=normal_augmentation()),
        derived_views=dict(query_extreme=dict(source='query', ops=aimclr_extreme_augmentation())),
        stream=args.stream,
        seed=0,
    ).to(device)
    shape = (args.batch, args.persons, args.frames, fmt.num_joints, fmt.in_channels)
    index = torch.arange(args.batch)
    data = dict(
        inputs={
            view: {fmt.name: dict(keypoint=torch.randn(shape), index=index)}
            for view in ('query', 'key')
        },
        data_samples=None,
    )

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    result = dict(
        format=fmt.name,
        batch=args.batch,
        frames=args.frames,
        persons=args.persons,
        stream=args.stream,
        device=str(device),
        views=['query', 'key', 'query_extreme'],
        torch=torch.__version__,
    )
    threads_list = args.threads if device.type == 'cpu' else [torch.get_num_threads()]
    for threads in threads_list:
        torch.set_num_threads(threads)
        for _ in range(3):
            pre(data, training=True)
        sync()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            pre(data, training=True)
            sync()
            times.append(time.perf_counter() - start)
        median = sorted(times)[len(times) // 2]
        result[f'threads{threads}_ms_per_batch_median'] = round(median * 1e3, 2)
        result[f'threads{threads}_ms_per_batch_best'] = round(min(times) * 1e3, 2)
        result[f'threads{threads}_clips_per_s'] = round(args.batch / median, 1)
        print(
            f'threads={threads}: {median * 1e3:.1f} ms/batch (median of {args.repeats}), '
            f'{args.batch / median:.0f} clips/s'
        )
    print(json.dumps(result))


if __name__ == '__main__':
    main()
