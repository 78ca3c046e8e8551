"""MediaPipe Pose landmarks -> ``blazepose33``, ``blazepose33_2d`` and ``coco17`` annotations.

The arrays are what ``tools/data/video_to_pkl.py`` extracts per video (and what it saves
with ``--save-landmarks``): ``blaze33_2d (T, 33, 3)`` image pixels x, y plus visibility,
``blaze33_world (T, 33, 3)`` hip-centred metres, ``found (T,)`` detection flags and
``img_shape (H, W)``. The COCO-17 keypoints are the BlazePose subset declared in
:mod:`msclr_mm.skeletons.subsets`.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from msclr_mm.skeletons import get_format
from msclr_mm.skeletons.subsets import get_subset

from .common import ConversionError

LANDMARK_KEYS = ('blaze33_2d', 'blaze33_world', 'found', 'img_shape')


def check_landmarks(arrays: Dict[str, np.ndarray], source: str) -> None:
    """Check the landmark arrays of one clip against the ``blazepose33`` formats.

    Args:
        arrays (dict[str, np.ndarray]): ``blaze33_2d``, ``blaze33_world``, ``found``,
            ``img_shape``.
        source (str): File name for messages.

    Raises:
        ConversionError: A missing key or a shape that does not fit, naming the field.

    """
    missing = [k for k in LANDMARK_KEYS if k not in arrays]
    if missing:
        raise ConversionError(f'{source}: landmark arrays lack {missing}')
    V = get_format('blazepose33').num_joints
    T = len(arrays['found'])
    for key in ('blaze33_2d', 'blaze33_world'):
        shape = tuple(arrays[key].shape)
        if shape != (T, V, 3):
            raise ConversionError(
                f'{source}: field {key} has shape {shape}, expected (T={T}, V={V}, 3) for '
                "format 'blazepose33'"
            )
    if tuple(np.shape(arrays['img_shape'])) != (2,):
        raise ConversionError(f'{source}: field img_shape must be (H, W)')


def landmarks_to_annotations(
    frame_dir: str,
    label: int,
    arrays: Dict[str, np.ndarray],
    formats: Sequence[str] | None = None,
) -> Dict[str, dict]:
    """Build one annotation per format from the landmarks of one clip (one person).

    Frames without a detection (``found`` False) get zero coordinates and score 0.

    Args:
        frame_dir (str): Clip name.
        label (int): Class index.
        arrays (dict[str, np.ndarray]): See :func:`check_landmarks`.
        formats (Sequence[str], optional): Subset of ``('blazepose33', 'blazepose33_2d',
            'coco17')``. Defaults to all three.

    Returns:
        dict[str, dict]: Format name -> annotation with ``frame_dir``, ``label``,
        ``total_frames`` T; 3D: ``keypoint (1, T, 33, 3)`` metres; 2D: ``keypoint
        (1, T, V, 2)`` pixels, ``keypoint_score (1, T, V)`` (visibility), ``img_shape``.

    """
    check_landmarks(arrays, frame_dir)
    formats = tuple(formats or ('blazepose33', 'blazepose33_2d', 'coco17'))
    found = np.asarray(arrays['found'], bool)
    T = len(found)
    mask = found[:, None, None]
    img = np.where(mask, np.asarray(arrays['blaze33_2d'], np.float32), 0)
    world = np.where(mask, np.asarray(arrays['blaze33_world'], np.float32), 0)
    img_shape = tuple(int(v) for v in arrays['img_shape'])
    common = dict(frame_dir=frame_dir, label=int(label), total_frames=T)
    out = {}
    for name in formats:
        fmt = get_format(name)
        if not fmt.is_2d:
            if fmt.num_joints != world.shape[1]:
                raise ConversionError(f'format {name!r} is 3D but not a BlazePose layout')
            out[name] = dict(common, keypoint=world[None].astype(np.float32))
            continue
        src = img
        if fmt.num_joints != img.shape[1]:
            src = img[:, list(get_subset('blazepose33_2d', name))]
        out[name] = dict(
            common,
            keypoint=np.ascontiguousarray(src[None, ..., :2], dtype=np.float32),
            keypoint_score=np.ascontiguousarray(src[None, ..., 2], dtype=np.float32),
            img_shape=img_shape,
            original_shape=img_shape,
        )
    return out
