"""Write synthetic annotation pickles of any size in several skeleton formats (benchmarks).

Every format gets the same clips (``frame_dir``, label, frame count), so
``MultiSkeletonDataset`` joins them like real multi-format data. The coordinates are a
random walk around a random pose per clip (not zeros, not learnable), two persons in a
third of the clips; 2D formats get pixel coordinates and scores. Sizes are what matter:
``--clips 40000 --frames 50 150`` is NTU-60-x-sub-sized (the benchmark's epoch), 114000
clips NTU-120-sized.

Example:
    python tools/analysis/synthetic_skeletons.py --out-dir data/synthetic \
        --formats kinect25 smplx42 --clips 40000 --split xsub_train
"""

from __future__ import annotations

import argparse
import os
import os.path as osp
import pickle
import sys
from typing import Dict, Sequence, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from msclr_mm.skeletons import get_format  # noqa: E402


def write_synthetic(
    out_dir: str,
    formats: Sequence[str],
    num_clips: int,
    frames: Tuple[int, int] = (50, 150),
    split: str = 'xsub_train',
    num_classes: int = 60,
    seed: int = 0,
) -> Dict[str, str]:
    """Write ``{out_dir}/{format}.pkl`` for each format; return ``{format: path}``.

    Args:
        out_dir (str): Output folder (created).
        formats (Sequence[str]): Registered format names.
        num_clips (int): Clips per format (the same clips in every format).
        frames (tuple[int, int]): Inclusive range of frames per clip. Defaults to (50, 150).
        split (str): Name of the split listing every clip. Defaults to ``'xsub_train'``.
        num_classes (int): Labels drawn uniformly in ``[0, num_classes)``. Defaults to 60.
        seed (int): Seed. Defaults to 0.

    Returns:
        dict[str, str]: The written files.

    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(frames[0], frames[1] + 1, size=num_clips)
    labels = rng.integers(0, num_classes, size=num_clips)
    persons = np.where(rng.random(num_clips) < 1 / 3, 2, 1)
    names = [f'S{i // 1000:03d}C001P001R001A{i % 1000:03d}' for i in range(num_clips)]
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name in formats:
        fmt = get_format(name)
        V, dim = fmt.num_joints, fmt.dim
        # one random walk for all clips (restarted at each clip by the per-clip offset),
        # sliced per clip: a Python loop of views, not of random draws
        steps = rng.standard_normal((2, int(lengths.sum()), V, dim), dtype=np.float32)
        walk = np.cumsum(steps * 0.01, axis=1)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        poses = rng.standard_normal((num_clips, 2, 1, V, dim), dtype=np.float32) * 0.3
        width, height = fmt.image_size or (1920, 1080)
        annotations = []
        for i in range(num_clips):
            m, t0, t1 = int(persons[i]), int(starts[i]), int(starts[i + 1])
            kp = poses[i, :m] + walk[:m, t0:t1] - walk[:m, t0 : t0 + 1]
            ann = dict(frame_dir=names[i], label=int(labels[i]), total_frames=t1 - t0)
            if fmt.is_2d:
                ann['img_shape'] = (height, width)
                ann['keypoint'] = kp * 200 + np.array([width / 2, height / 2], np.float32)
                ann['keypoint_score'] = np.full((m, t1 - t0, V), 0.9, np.float32)
            else:
                ann['keypoint'] = kp
            annotations.append(ann)
        path = osp.join(out_dir, f'{name}.pkl')
        with open(path + '.tmp', 'wb') as f:
            pickle.dump(dict(split={split: names}, annotations=annotations), f, protocol=4)
        os.replace(path + '.tmp', path)
        paths[name] = path
    return paths


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--formats', nargs='+', default=['kinect25', 'smplx42'])
    parser.add_argument('--clips', type=int, default=40000)
    parser.add_argument('--frames', type=int, nargs=2, default=(50, 150))
    parser.add_argument('--split', default='xsub_train')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    paths = write_synthetic(
        args.out_dir, args.formats, args.clips, tuple(args.frames), args.split, seed=args.seed
    )
    for path in paths.values():
        print(f'wrote {path} ({osp.getsize(path) / 1e9:.2f} GB)')


if __name__ == '__main__':
    main()
