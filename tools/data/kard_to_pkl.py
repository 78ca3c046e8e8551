"""Convert KARD (``kard_15j.npz``) into an ``openni15`` + ``openni15_2d`` annotation pair.

KARD (Kinect Activity Recognition Dataset): 18 actions x 10 subjects x 3 repetitions,
15 OpenNI joints. The npz holds ``data`` (sum T, 15, 3) world x, y, z in millimetres,
``screen_uvd`` (sum T, 15, 3) the same frames as u, v pixels of the 640x480 depth image plus
depth in millimetres, ``offsets`` (N + 1,), ``label`` (1-18), ``subject`` (1-10), ``rep``
and ``names``. Writes to OUT_DIR:

* ``openni15.pkl``: ``keypoint (1, T, 15, 3)`` world coordinates (mm) in a right-handed
  frame, the one of NTU's Kinect v2 camera space: x towards the sensor's left, y up, z
  along the sensor's view (depth). KARD's own world x follows the image's u (the sensor's
  right), which with y up and z depth is a left-handed frame, a mirror image; the
  canonical normalisation can only rotate, so it would leave KARD's people facing +z
  where every other 3D format faces -z. The converter therefore negates x
  (``world_to_right_handed``).
* ``openni15_2d.pkl``: ``keypoint (1, T, 15, 2)`` (u, v px) as recorded, u to the right
  and v down in the depth image as the sensor sees the scene (a person facing the sensor
  has the right shoulder at the smaller u), ``keypoint_score`` 1 where the joint's depth is
  valid (> 0), else 0; ``img_shape`` (480, 640).

Both pickles' ``meta`` records this (``axes``).

Labels become 0-17, ``frame_dir`` is ``aAA_sSS_eEE`` and the splits are ``train`` (odd
subjects) and ``test`` (even subjects), the same in both files.

Example:
    python tools/data/kard_to_pkl.py ../shared/data/kard/kard_15j.npz --out-dir data/kard
"""

import argparse
import os.path as osp
import re
import sys

import numpy as np

from msclr_mm.datasets.annotations import validate_annotations
from msclr_mm.datasets.converters.arrays import array_to_annotation
from msclr_mm.datasets.converters.common import (
    ConversionError,
    atomic_pickle,
    check_outputs,
    fail,
)
from msclr_mm.skeletons import get_format

REQUIRED = ('data', 'screen_uvd', 'offsets', 'label', 'subject', 'names')
AXES = {
    'openni15': 'x sensor left, y up, z depth (right-handed, as NTU kinect25; KARD x negated)',
    'openni15_2d': 'u right, v down in the 640x480 depth image, as the sensor sees it',
}


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('npz', help='kard_15j.npz (read only)')
    parser.add_argument('--out-dir', default='data/kard', help='output folder (data/kard)')
    parser.add_argument('--overwrite', action='store_true', help='replace existing pickles')
    return parser.parse_args(argv)


def clip_name(name: str) -> str:
    """``'a01_s01_e01_realworld.txt'`` -> ``'a01_s01_e01'``.

    Args:
        name (str): The npz's ``names`` entry.

    Returns:
        str: The clip name used as ``frame_dir``.
    """
    m = re.match(r'(a\d+_s\d+_e\d+)', str(name))
    return m.group(1) if m else osp.splitext(str(name))[0]


def world_to_right_handed(xyz: np.ndarray) -> np.ndarray:
    """KARD world joints -> the right-handed frame of ``openni15``: x negated.

    KARD's x grows with the depth image's u (to the sensor's right), y up, z with depth: a
    left-handed frame. Negating x gives NTU's Kinect v2 camera space (x to the sensor's
    left), so after normalisation KARD's people face -z like every other 3D format (a
    forward kick moves the foot towards -z). Zeros (missing joints) stay exactly 0.

    Args:
        xyz (np.ndarray): ``(..., 3)`` KARD world x, y, z.

    Returns:
        np.ndarray: ``(..., 3)`` float32 copy with x negated.
    """
    out = np.array(xyz, dtype=np.float32, copy=True)
    out[..., 0] = 0.0 - out[..., 0]  # 0 - x: no negative zeros
    return out


def kard_annotations(npz_path: str):
    """Read the KARD npz and build both annotation dicts.

    Args:
        npz_path (str): Path of ``kard_15j.npz``.

    Returns:
        tuple[dict, dict]: ``(openni15, openni15_2d)`` pickle contents, each with
        ``split``, ``annotations`` and ``meta``.

    Raises:
        ConversionError: A missing array, inconsistent offsets or lengths, or a bad clip,
            naming the file, the clip and the field.
    """
    with np.load(npz_path, allow_pickle=False) as z:
        missing = [k for k in REQUIRED if k not in z.files]
        if missing:
            raise ConversionError(f'{npz_path}: missing arrays {missing}, expected {REQUIRED}')
        arrays = {k: z[k] for k in REQUIRED}
    off, n = arrays['offsets'], len(arrays['label'])
    total = len(arrays['data'])
    if arrays['screen_uvd'].shape != arrays['data'].shape:
        raise ConversionError(
            f'{npz_path}: field screen_uvd has shape {arrays["screen_uvd"].shape}, expected '
            f'the shape of data {arrays["data"].shape}'
        )
    if off.shape != (n + 1,) or off[0] != 0 or off[-1] != total or (np.diff(off) <= 0).any():
        raise ConversionError(
            f'{npz_path}: field offsets must be increasing, {n + 1} long, from 0 to {total} '
            f'(the frames in data); got shape {off.shape}, first {off[:1]}, last {off[-1:]}'
        )
    for key in ('subject', 'names'):
        if len(arrays[key]) != n:
            raise ConversionError(f'{npz_path}: field {key} has {len(arrays[key])} entries, '
                                  f'expected {n} (one per clip, like label)')  # fmt: skip
    f3d, f2d = get_format('openni15'), get_format('openni15_2d')
    anns3d, anns2d, splits = [], [], {'train': [], 'test': []}
    for i in range(n):
        name = clip_name(arrays['names'][i])
        label = int(arrays['label'][i]) - 1
        if not 0 <= label < 18:
            raise ConversionError(
                f'{npz_path}: clip {name}: field label is {label + 1}, expected 1..18'
            )
        lo, hi = int(off[i]), int(off[i + 1])
        xyz = world_to_right_handed(arrays['data'][lo:hi])
        uvd = arrays['screen_uvd'][lo:hi]
        src = f'{npz_path} data'
        anns3d.append(array_to_annotation(xyz, name, label, f3d, source=src))
        uv_score = np.concatenate([uvd[..., :2], (uvd[..., 2:] > 0).astype(np.float32)], -1)
        src = f'{npz_path} screen_uvd'
        anns2d.append(array_to_annotation(uv_score, name, label, f2d, (480, 640), source=src))
        splits['train' if int(arrays['subject'][i]) % 2 else 'test'].append(name)
    out = []
    for fmt, anns in ((f3d, anns3d), (f2d, anns2d)):
        meta = dict(format=fmt.name, unit=fmt.unit, axes=AXES[fmt.name])
        data = dict(split=splits, annotations=anns, meta=meta)
        validate_annotations(data, fmt, path=npz_path)
        out.append(data)
    return out[0], out[1]


def main(argv=None):
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    outs = [osp.join(args.out_dir, f'{name}.pkl') for name in ('openni15', 'openni15_2d')]
    try:
        check_outputs(outs, args.overwrite)
        if not osp.isfile(args.npz):
            raise ConversionError(f'{args.npz}: no such file')
        data3d, data2d = kard_annotations(args.npz)
    except ConversionError as exc:
        return fail(str(exc))
    for data, path in zip((data3d, data2d), outs):
        atomic_pickle(data, path)
    splits = data3d['split']
    print(
        f'wrote {len(data3d["annotations"])} clips to {outs[0]} and {outs[1]}; splits: '
        + ', '.join(f'{k} {len(v)}' for k, v in splits.items())
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
