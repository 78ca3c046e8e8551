"""Forward-time micro-benchmark of UnifiedSTGCN on the CPU (eval mode, no grad).

Example:
    python tools/analysis/bench_backbone.py --batch 16 --frames 50 --persons 2 --fmt kinect25

The last line of the output is one JSON object with the figures.

"""

import argparse
import json
import time

import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.backbones import UnifiedSTGCN
from msclr_mm.skeletons import get_format


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--frames', type=int, default=50)
    parser.add_argument('--persons', type=int, default=2)
    parser.add_argument('--fmt', default='kinect25')
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--repeats', type=int, default=10)
    return parser.parse_args()


def main():
    args = parse_args()
    fmt = get_format(args.fmt)
    torch.manual_seed(0)
    net = UnifiedSTGCN(formats=[fmt.name]).eval()
    x = torch.randn(args.batch, args.persons, args.frames, fmt.num_joints, fmt.in_channels)
    result = dict(
        format=fmt.name,
        params=sum(p.numel() for p in net.parameters()),
        batch=args.batch,
        frames=args.frames,
        persons=args.persons,
        torch=torch.__version__,
    )
    with torch.inference_mode():
        for threads in args.threads:
            torch.set_num_threads(threads)
            for _ in range(2):
                net(x)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                net(x)
                times.append(time.perf_counter() - start)
            best, median = min(times), sorted(times)[len(times) // 2]
            result[f'threads{threads}_ms_per_batch_median'] = round(median * 1e3, 2)
            result[f'threads{threads}_ms_per_clip_median'] = round(median * 1e3 / args.batch, 3)
            result[f'threads{threads}_ms_per_clip_best'] = round(best * 1e3 / args.batch, 3)
            print(
                f'threads={threads}: {median * 1e3:.1f} ms/batch, '
                f'{median * 1e3 / args.batch:.2f} ms/clip (median of {args.repeats})'
            )
    print(json.dumps(result))


if __name__ == '__main__':
    main()
