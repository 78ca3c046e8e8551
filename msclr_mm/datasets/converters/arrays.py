"""Per-clip arrays from any pose estimator -> annotations of a named skeleton format."""

from __future__ import annotations

import json
import os.path as osp
from typing import Tuple

import numpy as np

from msclr_mm.skeletons import SkeletonFormat, SkeletonFormatError, get_format

from .common import ConversionError


def load_format_spec(spec: str) -> SkeletonFormat:
    """Resolve ``--format``: a registered name, a JSON file or a Python config file.

    Args:
        spec (str): ``'smplx42'``, ``'my_format.json'`` (the format dict) or
            ``'my_format.py'`` (a config file defining ``skeleton_format = dict(...)``).

    Returns:
        SkeletonFormat: The validated format.

    Raises:
        ConversionError: Unknown name, unreadable file or an invalid declaration.

    """
    try:
        if spec.endswith('.json'):
            with open(spec) as f:
                return get_format(json.load(f))
        if spec.endswith('.py'):
            from mmengine.config import Config

            cfg = Config.fromfile(spec)
            if 'skeleton_format' not in cfg:
                raise ConversionError(f'{spec}: defines no skeleton_format = dict(...)')
            return get_format(cfg['skeleton_format'].to_dict())
        return get_format(spec)
    except (OSError, json.JSONDecodeError, KeyError, SkeletonFormatError) as exc:
        raise ConversionError(f'--format {spec}: {exc}') from None


def load_array(path: str, key: str | None = None) -> np.ndarray:
    """Load the pose array of one clip from ``.npy`` or ``.npz``.

    Args:
        path (str): The file.
        key (str, optional): Array name inside an ``.npz``. Defaults to the only array, or
            ``'keypoint'`` when there are several.

    Returns:
        np.ndarray: The array as stored.

    Raises:
        ConversionError: Unreadable file, or an ``.npz`` without the array.

    """
    try:
        if path.endswith('.npy'):
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if key is None:
                key = names[0] if len(names) == 1 else 'keypoint'
            if key not in names:
                raise ConversionError(f'{path}: no array {key!r} (holds {names}); pass --key')
            return z[key]
    except (OSError, ValueError) as exc:
        raise ConversionError(f'{path}: cannot read the array ({exc})') from None


def array_to_annotation(
    arr: np.ndarray,
    frame_dir: str,
    label: int,
    fmt: SkeletonFormat,
    img_shape: Tuple[int, int] | None = None,
    nan_to_zero: bool = False,
    source: str = '',
) -> dict:
    """Check one clip's array against ``fmt`` and build its annotation.

    Args:
        arr (np.ndarray): ``(T, V, C)`` or ``(M, T, V, C)``; 3D formats need ``C = 3``;
            2D formats take ``C = 2`` (score 1 for every joint except those at exactly
            ``(0, 0)``, missed or padding: score 0) or ``C = 3`` (x, y, score).
        frame_dir (str): Clip name.
        label (int): Class index.
        fmt (SkeletonFormat): The skeleton format.
        img_shape (tuple[int, int], optional): ``(H, W)`` for 2D; defaults to the format's
            ``image_size``.
        nan_to_zero (bool): Replace NaN joints by zeros (score 0) instead of failing.
            Defaults to False.
        source (str): File name for messages.

    Returns:
        dict: ``frame_dir``, ``label``, ``total_frames``, float32 ``keypoint (M, T, V, dim)``
        and for 2D ``keypoint_score (M, T, V)`` and ``img_shape``.

    Raises:
        ConversionError: Wrong rank, joint count, channels, non-numbers or NaN, naming the
            file, the clip, the format and the field.

    """
    where = f"{source or frame_dir} (clip {frame_dir}, format '{fmt.name}')"
    if not np.issubdtype(arr.dtype, np.number):
        raise ConversionError(f'{where}: keypoint array has dtype {arr.dtype}, expected numbers')
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ConversionError(
            f'{where}: keypoint array has shape {arr.shape}, expected (T, V, C) or (M, T, V, C)'
        )
    M, T, V, C = arr.shape
    if V != fmt.num_joints:
        raise ConversionError(
            f'{where}: keypoint array has {V} joints (shape {arr.shape}), expected {fmt.num_joints}'
        )
    allowed = (3,) if not fmt.is_2d else (2, 3)
    if C not in allowed:
        raise ConversionError(
            f'{where}: keypoint array has {C} channels, expected {" or ".join(map(str, allowed))}'
        )
    if T == 0 or M == 0:
        raise ConversionError(f'{where}: keypoint array is empty (shape {arr.shape})')
    arr = arr.astype(np.float32)
    bad = ~np.isfinite(arr).all(-1)
    if bad.any():
        if not nan_to_zero:
            m, t, v = np.argwhere(bad)[0]
            raise ConversionError(
                f'{where}: keypoint has {int(bad.sum())} non-finite joints (first: person {m}, '
                f'frame {t}, joint {v}); pass --nan-to-zero to store them as zeros'
            )
        arr[bad] = 0
    ann = dict(frame_dir=frame_dir, label=int(label), total_frames=T)
    if not fmt.is_2d:
        ann['keypoint'] = arr
        return ann
    # 2 channels: a joint at exactly (0, 0) is a missed one (the zero padding of absent
    # persons and frames, a detector's miss): score 0, so that it is not taken for a joint
    # in the image corner; every other joint scores 1
    score = arr[..., 2].copy() if C == 3 else np.any(arr != 0, axis=-1).astype(np.float32)
    score[bad] = 0
    if img_shape is None:
        if fmt.image_size is None:
            raise ConversionError(f'{where}: 2D format without image_size: pass --img-shape H W')
        img_shape = (fmt.image_size[1], fmt.image_size[0])
    ann.update(
        keypoint=np.ascontiguousarray(arr[..., :2]),
        keypoint_score=score,
        img_shape=tuple(int(v) for v in img_shape),
        original_shape=tuple(int(v) for v in img_shape),
    )
    return ann


def stem(path: str) -> str:
    """File name without folder and extension.

    Args:
        path (str): A path.

    Returns:
        str: The stem.

    """
    return osp.splitext(osp.basename(path))[0]
