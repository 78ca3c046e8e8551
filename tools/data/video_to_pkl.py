"""Estimate poses in videos with MediaPipe Pose; write blazepose33(_2d) and coco17 pickles.

One pickle per format in ``--out-dir`` (``blazepose33.pkl``: 3D world metres, hip-centred,
keypoint ``(1, T, 33, 3)``; ``blazepose33_2d.pkl``: pixels, keypoint ``(1, T, 33, 2)`` and the
landmark visibility as ``keypoint_score``; ``coco17.pkl``: the COCO-17 subset of the 2D
landmarks), all of the same frames. Frames without a detection are zeros with score 0.
Labels come from ``--labels CSV`` (columns ``filename,label[,split...]``) or from the file
name with ``--label-pattern`` (a regex whose group ``label``, or first group, is the class;
``--label-offset -1`` turns 1-based numbers into classes).

Needs the ``video`` extra: ``pip install -e ".[video]"`` (``mediapipe==0.10.21``, whose wheel
bundles the pose models; later releases ship none). ``--save-landmarks DIR`` also keeps the
raw landmarks per video (``.npz``); ``--from-landmarks`` converts such ``.npz`` files
without MediaPipe.

Example:
    python tools/data/video_to_pkl.py videos/ --out-dir data/myset --labels labels.csv \
        --workers 4 --save-landmarks data/myset/landmarks
"""

import argparse
import os
import os.path as osp
import re
import sys
from collections import Counter
from functools import partial

import numpy as np

VIDEO_SUFFIXES = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v')
FORMATS = ('blazepose33', 'blazepose33_2d', 'coco17')
NO_MEDIAPIPE = (
    'MediaPipe is not installed: install the video extra (pip install -e ".[video]", which '
    'pins mediapipe==0.10.21: later releases ship no pose models), or convert saved '
    'landmarks with --from-landmarks'
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('src_dir', help='folder of videos (or of .npz with --from-landmarks)')
    parser.add_argument('--out-dir', required=True, help='folder for one pickle per format')
    labels = parser.add_mutually_exclusive_group(required=True)
    labels.add_argument('--labels', help='CSV with columns filename,label[,split...]')
    labels.add_argument('--label-pattern', help='regex on the file name giving the label')
    parser.add_argument('--label-offset', type=int, default=0, help='added to pattern labels')
    parser.add_argument(
        '--formats', nargs='+', choices=FORMATS, default=list(FORMATS), help='pickles to write'
    )
    parser.add_argument(
        '--save-landmarks',
        help='also write raw landmarks per video here (existing ones only with --overwrite)',
    )
    parser.add_argument(
        '--from-landmarks', action='store_true', help='SRC_DIR holds saved landmark .npz files'
    )
    parser.add_argument('--model-complexity', type=int, choices=(0, 1, 2), default=1)
    parser.add_argument('--workers', type=int, default=1, help='parallel processes')
    parser.add_argument('--overwrite', action='store_true', help='replace existing pickles')
    return parser.parse_args(argv)


def mediapipe_available():
    """Whether ``mediapipe`` and ``cv2`` import."""
    try:
        import cv2  # noqa: F401
        import mediapipe  # noqa: F401
    except ImportError:
        return False
    return True


def extract_video(path, model_complexity=1):
    """Run MediaPipe Pose (one person per frame, video mode) on every frame of a video.

    Only MediaPipe, OpenCV and numpy are used here, so this also runs in an environment
    kept apart for MediaPipe.

    Args:
        path (str): The video.
        model_complexity (int): MediaPipe Pose model (0, 1, 2). Defaults to 1.

    Returns:
        dict[str, np.ndarray]: ``blaze33_2d (T, 33, 3)`` x px, y px, visibility;
        ``blaze33_world (T, 33, 3)`` metres; ``found (T,)`` bool; ``img_shape (H, W)``.

    Raises:
        ValueError: When the video cannot be read or has no frame.

    """
    import cv2
    import mediapipe as mp

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise ValueError(f'{path}: cannot open the video')
    img, world, found, shape = [], [], [], None
    try:
        with mp.solutions.pose.Pose(
            static_image_mode=False, model_complexity=model_complexity
        ) as pose:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                H, W = frame.shape[:2]
                shape = (H, W)
                res = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                if res.pose_landmarks is None:
                    img.append(np.zeros((33, 3), np.float32))
                    world.append(np.zeros((33, 3), np.float32))
                    found.append(False)
                    continue
                lm = res.pose_landmarks.landmark
                img.append(np.array([(p.x * W, p.y * H, p.visibility) for p in lm], np.float32))
                wl = res.pose_world_landmarks.landmark
                world.append(np.array([(p.x, p.y, p.z) for p in wl], np.float32))
                found.append(True)
    finally:
        cap.release()
    if not found:
        raise ValueError(f'{path}: the video has no readable frame')
    return dict(
        blaze33_2d=np.stack(img),
        blaze33_world=np.stack(world),
        found=np.asarray(found, bool),
        img_shape=np.asarray(shape, np.float64),
    )


def _load(path, from_landmarks, model_complexity, save_dir):
    """Worker: ``(path, arrays or None, error or None)``."""
    try:
        if from_landmarks:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        else:
            arrays = extract_video(path, model_complexity)
            if save_dir:
                stem = osp.splitext(osp.basename(path))[0]
                tmp = osp.join(save_dir, f'.{stem}.tmp.npz')
                np.savez_compressed(tmp, **arrays)
                os.replace(tmp, osp.join(save_dir, f'{stem}.npz'))
        return path, arrays, None
    except Exception as exc:  # noqa: BLE001 - reported per file, the run fails cleanly
        return path, None, f'{path}: {exc}'


def labels_from_pattern(stems, pattern, offset):
    """``{stem: {'label': str}}`` from a regex on each stem (group ``label`` or the first)."""
    from msclr_mm.datasets.converters.common import ConversionError

    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConversionError(f'--label-pattern {pattern!r} is not a valid regex: {exc}') from None
    rows = {}
    for stem in stems:
        m = regex.search(stem)
        if not m or not m.groups():
            raise ConversionError(
                f'{stem}: --label-pattern {pattern!r} does not match (or has no group)'
            )
        text = m.group('label') if 'label' in regex.groupindex else m.group(1)
        try:
            value = int(text) + offset
        except ValueError:
            value = -1
        if value < 0:
            raise ConversionError(f'{stem}: label {text!r} (+{offset}) is not a class index')
        rows[stem] = {'label': str(value)}
    return rows


def main(argv=None):
    args = parse_args(argv)
    # msclr_mm is imported here, not at the top, so that extract_video stays importable in an
    # environment kept apart for MediaPipe.
    from msclr_mm.datasets.converters.common import (
        ConversionError,
        atomic_pickle,
        check_outputs,
        fail,
        list_inputs,
        read_labels_csv,
        run_per_file,
        splits_from_labels,
    )
    from msclr_mm.datasets.converters.landmarks import landmarks_to_annotations

    outs = {f: osp.join(args.out_dir, f'{f}.pkl') for f in args.formats}
    try:
        check_outputs(list(outs.values()), args.overwrite)
        if args.from_landmarks:
            files = list_inputs(args.src_dir, ('.npz',), 'landmark .npz files')
        else:
            if not mediapipe_available():
                raise ConversionError(NO_MEDIAPIPE)
            files = list_inputs(args.src_dir, VIDEO_SUFFIXES, 'videos')
        stems = [osp.splitext(osp.basename(f))[0] for f in files]
        twice = sorted(n for n, c in Counter(stems).items() if c > 1)
        if twice:
            raise ConversionError(
                f'{args.src_dir}: clips {twice[:10]} exist under several extensions; expected '
                'one file per clip name (it becomes the frame_dir)'
            )
        if args.save_landmarks and not args.from_landmarks:
            check_outputs(
                [osp.join(args.save_landmarks, f'{stem}.npz') for stem in stems], args.overwrite
            )
        if args.labels:
            rows = read_labels_csv(args.labels)
            unlabelled = [s for s in stems if s not in rows]
            if unlabelled:
                raise ConversionError(
                    f'labels file {args.labels} has no row for {unlabelled[:10]}'
                    + (f' and {len(unlabelled) - 10} more' if len(unlabelled) > 10 else '')
                )
        else:
            rows = labels_from_pattern(stems, args.label_pattern, args.label_offset)
    except ConversionError as exc:
        return fail(str(exc))
    if args.save_landmarks and not args.from_landmarks:
        os.makedirs(args.save_landmarks, exist_ok=True)
    work = partial(
        _load,
        from_landmarks=args.from_landmarks,
        model_complexity=args.model_complexity,
        save_dir=args.save_landmarks,
    )
    results = run_per_file(work, files, args.workers, 'pose')
    errors = [err for _, _, err in results if err]
    per_format = {f: [] for f in args.formats}
    for stem, (_, arrays, err) in zip(stems, results):
        if err:
            continue
        try:
            anns = landmarks_to_annotations(stem, int(rows[stem]['label']), arrays, args.formats)
        except ConversionError as exc:
            errors.append(str(exc))
            continue
        for f in args.formats:
            per_format[f].append(anns[f])
    if errors:
        return fail(f'{len(errors)} bad input(s), nothing written:\n  ' + '\n  '.join(errors))
    names = [a['frame_dir'] for a in per_format[args.formats[0]]]
    splits = splits_from_labels(rows, names) if args.labels else {}
    splits = splits or {'all': names}
    for f, path in outs.items():
        atomic_pickle(dict(split=splits, annotations=per_format[f]), path)
    found = [int((a['keypoint_score'] > 0).any(-1).sum()) for a in per_format.get('coco17', [])]
    print(
        f'wrote {len(names)} clips to '
        + ', '.join(outs.values())
        + (f'; frames with a detection: {sum(found)}' if found else '')
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
