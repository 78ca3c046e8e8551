"""Write a tiny synthetic NTU-style (25 joints, 3D) pickle for the supervised smoke run.

Three classes of periodic motion on different joint groups, 8 training and 4 validation
clips per class, in the pyskl/mmaction2 annotation format with splits ``train``/``val``.
Deterministic (seeded) and written in well under a second; it only proves that the
stack trains, saves, tests and resumes, nothing about accuracy on real data.

Example:
    python tools/data/make_smoke_data.py --out data/smoke/ntu25_smoke.pkl
"""

import argparse
import os
import os.path as osp
import pickle
import sys

import numpy as np

NUM_JOINTS = 25
NUM_CLASSES = 3


def make_annotations(num_train: int = 8, num_val: int = 4, frames: int = 40, seed: int = 0):
    """Build the annotation dict.

    Args:
        num_train (int): Training clips per class. Defaults to 8.
        num_val (int): Validation clips per class. Defaults to 4.
        frames (int): Frames per clip. Defaults to 40.
        seed (int): RNG seed. Defaults to 0.

    Returns:
        dict: ``{'split': {'train': [...], 'val': [...]}, 'annotations': [...]}``, each
        annotation with ``keypoint`` of shape ``(1, T, 25, 3)`` float32.
    """
    rng = np.random.default_rng(seed)
    base_pose = rng.normal(0.0, 0.3, size=(NUM_JOINTS, 3)).astype(np.float32)
    groups = np.array_split(np.arange(NUM_JOINTS), NUM_CLASSES)
    t = np.linspace(0.0, 2.0 * np.pi, frames, dtype=np.float32)
    split = {'train': [], 'val': []}
    annotations = []
    for label in range(NUM_CLASSES):
        for index in range(num_train + num_val):
            name = f'smoke_c{label:02d}_{index:03d}'
            split['train' if index < num_train else 'val'].append(name)
            phase = rng.uniform(0, 2 * np.pi)
            keypoint = np.repeat(base_pose[None], frames, axis=0)
            keypoint = keypoint + rng.normal(0, 0.01, size=keypoint.shape)
            axis = label % 3
            keypoint[:, groups[label], axis] += 0.4 * np.sin(2 * t + phase)[:, None]
            annotations.append(
                dict(
                    frame_dir=name,
                    label=label,
                    total_frames=frames,
                    keypoint=keypoint[None].astype(np.float32),
                )
            )
    return dict(split=split, annotations=annotations)


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/smoke/ntu25_smoke.pkl', help='output pickle')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true', help='replace an existing file')
    args = parser.parse_args(argv)
    if osp.exists(args.out) and not args.overwrite:
        print(f'{args.out} exists; keeping it (pass --overwrite to replace it)')
        return 0
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    data = make_annotations(seed=args.seed)
    tmp = args.out + '.tmp'
    with open(tmp, 'wb') as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, args.out)
    print(f'wrote {len(data["annotations"])} clips to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
