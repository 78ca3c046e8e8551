"""Convert a folder of NTU RGB+D ``.skeleton`` files into a kinect25 / kinect25_2d pickle pair.

Writes ``OUT_DIR/kinect25.pkl`` (camera-space metres, keypoint ``(M, T, 25, 3)``) and
``OUT_DIR/kinect25_2d.pkl`` (colour-image pixels, keypoint ``(M, T, 25, 2)`` plus
``keypoint_score (M, T, 25)`` from each joint's trackingState, ``img_shape (1080, 1920)``;
NTU's colour frame is a mirror image, written as an ordinary camera sees it, ``u -> 1920 -
u``, unless ``--colour-as-recorded``)
holding the same clips with the same ``total_frames`` (the file header's frame count;
frames where a body is absent are zeros). Up to ``--max-bodies`` actors per clip: after the
usual denoising (length and spread) the bodies are assembled, most active first, into
actors, a body whose frames do not overlap an actor's joining that actor's track (the
Kinect tracker often gives one person a new body id mid-clip; SGN / CTR-GCN's
``get_two_actors_points``). Splits: ``xsub_*`` and
``xview_*`` for NTU-60, ``xsub_*`` and ``xset_*`` for NTU-120 (auto-detected from the
action numbers). Label = action - 1.

Example:
    python tools/data/ntu_skeleton_to_pkl.py nturgb+d_skeletons --out-dir data/ntu60 \
        --missing-list NTU_RGBD_samples_with_missing_skeletons.txt --workers 8
"""

import argparse
import os.path as osp
import sys
from functools import partial

from msclr_mm.datasets.converters.common import (
    ConversionError,
    atomic_pickle,
    check_outputs,
    fail,
    list_inputs,
    run_per_file,
)
from msclr_mm.datasets.converters.ntu import convert_skeleton_file, ntu_splits, parse_ntu_name
from msclr_mm.skeletons import get_format


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('src_dir', help='folder of NTU .skeleton files (read only)')
    parser.add_argument('--out-dir', required=True, help='folder for the two pickles')
    parser.add_argument(
        '--missing-list',
        help='text file of sample names to skip (the official missing-skeleton list)',
    )
    parser.add_argument(
        '--benchmark', choices=('auto', 'ntu60', 'ntu120'), default='auto', help='split rules'
    )
    parser.add_argument(
        '--max-bodies',
        type=int,
        default=2,
        help='actors (person slots M) kept per clip; a re-identified body joins its actor',
    )
    parser.add_argument(
        '--min-frames', type=int, default=11, help='drop bodies seen on <= this many frames'
    )
    parser.add_argument(
        '--spread-ratio', type=float, default=0.8, help='denoising: x spread > ratio * y spread'
    )
    parser.add_argument(
        '--noisy-fraction',
        type=float,
        default=0.69754,
        help='denoising: drop a body with at least this fraction of noisy frames (SGN)',
    )
    parser.add_argument(
        '--skip-bad', action='store_true', help='skip malformed files instead of failing'
    )
    parser.add_argument(
        '--colour-as-recorded',
        action='store_true',
        help="keep NTU's mirrored colour pixels (overlay on NTU's videos) instead of the "
        'view of an ordinary camera (u -> 1920 - u), the 2D convention of other sources',
    )
    parser.add_argument('--workers', type=int, default=1, help='parallel processes')
    parser.add_argument('--overwrite', action='store_true', help='replace existing pickles')
    return parser.parse_args(argv)


def _convert(path, **kwargs):
    """Worker: ``(path, (ann3d, ann2d) or None, error message or None)``."""
    try:
        parse_ntu_name(path)
        return path, convert_skeleton_file(path, **kwargs), None
    except (ConversionError, OSError, UnicodeDecodeError) as exc:
        return path, None, str(exc)


def read_missing_list(path):
    """Names (stems) listed in a missing-skeleton file; ``#`` starts a comment."""
    if not osp.isfile(path):
        raise ConversionError(f'missing list {path} does not exist')
    names = set()
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                names.add(osp.basename(line).replace('.skeleton', ''))
    return names


def main(argv=None):
    args = parse_args(argv)
    fmt3, fmt2 = get_format('kinect25'), get_format('kinect25_2d')
    out3 = osp.join(args.out_dir, f'{fmt3.name}.pkl')
    out2 = osp.join(args.out_dir, f'{fmt2.name}.pkl')
    try:
        check_outputs([out3, out2], args.overwrite)
        files = list_inputs(args.src_dir, ('.skeleton',), 'NTU .skeleton files')
        skip = read_missing_list(args.missing_list) if args.missing_list else set()
    except ConversionError as exc:
        return fail(str(exc))
    kept = [f for f in files if osp.basename(f)[: -len('.skeleton')] not in skip]
    if not kept:
        return fail(f'every .skeleton file in {args.src_dir} is on the missing list')
    work = partial(
        _convert,
        num_joints=fmt3.num_joints,
        image_size=fmt2.image_size,
        max_bodies=args.max_bodies,
        min_frames=args.min_frames,
        spread_ratio=args.spread_ratio,
        noisy_fraction=args.noisy_fraction,
        unmirror_colour=not args.colour_as_recorded,
    )
    results = run_per_file(work, kept, args.workers, 'ntu .skeleton')
    errors = [f'{err}' for _, _, err in results if err]
    if errors and not args.skip_bad:
        listing = '\n  '.join(errors)
        return fail(
            f'{len(errors)} malformed file(s), nothing written (pass --skip-bad to skip '
            f'them):\n  {listing}'
        )
    for err in errors:
        print(f'warning: skipped {err}', file=sys.stderr)
    ann3, ann2, empty = [], [], []
    for path, pair, err in results:
        if err:
            continue
        if pair[0] is None:
            empty.append(osp.basename(path))
            continue
        ann3.append(pair[0])
        ann2.append(pair[1])
    for name in empty:
        print(f'warning: {name} has no body on any frame; skipped', file=sys.stderr)
    if not ann3:
        return fail(f'no clip with a skeleton in {args.src_dir}')
    names = [a['frame_dir'] for a in ann3]
    splits = ntu_splits(names, args.benchmark)
    axes2 = 'u, v pixels of the 1920x1080 colour frame, ' + (
        "as recorded: a mirror image (u grows towards the sensor's left)"
        if args.colour_as_recorded
        else 'as an ordinary camera sees it (u right, v down; NTU u mirrored)'
    )
    for anns, fmt, out, axes in (
        (ann3, fmt3, out3, "x sensor's left, y up, z depth (Kinect v2 camera space)"),
        (ann2, fmt2, out2, axes2),
    ):
        meta = dict(format=fmt.name, unit=fmt.unit, axes=axes)
        atomic_pickle(dict(split=splits, annotations=anns, meta=meta), out)
    two = sum(a['keypoint'].shape[0] == 2 for a in ann3)
    print(
        f'wrote {len(ann3)} clips ({two} with two bodies; skipped {len(files) - len(kept)} '
        f'listed missing, {len(empty)} empty, {len(errors)} malformed) to {out3} and {out2}; '
        f'splits: ' + ', '.join(f'{k} {len(v)}' for k, v in splits.items())
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
