"""Write the embedded demo dataset: ``DIR/kinect25.pkl``, ``DIR/smpl24.pkl``, ``DIR/coco17.pkl``.

A deterministic synthetic multi-skeleton dataset (see :mod:`msclr_mm.datasets.demo_body`):
a procedural body performs 10 actions, 10 subjects x 2 repetitions, emitted in three
skeleton conventions with the same frames, split ``xsub_train`` (subjects 1-6) /
``xsub_val`` (subjects 7-10). Seconds to generate, a few MB.

Example:
    python tools/data/make_demo_data.py --out-dir data/demo [--overwrite]
"""

import argparse
import os
import os.path as osp
import pickle
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from msclr_mm.datasets.demo_body import make_demo_annotations  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', required=True, help='folder for <format>.pkl')
    parser.add_argument('--overwrite', action='store_true', help='replace existing files')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--subjects', type=int, default=10, help='subjects (default 10)')
    parser.add_argument('--reps', type=int, default=2, help='repetitions (default 2)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    data = make_demo_annotations(
        num_subjects=args.subjects,
        num_reps=args.reps,
        num_train_subjects=max(1, round(args.subjects * 0.6)),
        seed=args.seed,
    )
    paths = {name: osp.join(args.out_dir, f'{name}.pkl') for name in data}
    existing = [p for p in paths.values() if osp.exists(p)]
    if existing and not args.overwrite:
        print(
            f'error: {existing} already exist; pass --overwrite to replace them',
            file=sys.stderr,
        )
        return 1
    os.makedirs(args.out_dir, exist_ok=True)
    for name, path in paths.items():
        fd, tmp = tempfile.mkstemp(prefix=f'.{name}-', suffix='.pkl', dir=args.out_dir)
        try:
            with os.fdopen(fd, 'wb') as f:
                pickle.dump(data[name], f, protocol=4)
            os.replace(tmp, path)
        finally:
            if osp.exists(tmp):
                os.remove(tmp)
        n = len(data[name]['annotations'])
        print(f'wrote {path}: {n} clips, {osp.getsize(path) / 1e6:.1f} MB')
    return 0


if __name__ == '__main__':
    sys.exit(main())
