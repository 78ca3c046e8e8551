"""Canonical normalisation of one clip, computed once when the dataset cache is built.

Input: the keypoints of one clip in one format as stored in its annotation pickle,
``(M, T, V, C)`` (3D: x, y, z in the format's unit; 2D: x, y in pixels, plus
``keypoint_score (M, T, V)`` or a third score channel). A joint whose coordinates are all
zero (2D: whose score is 0 and whose x, y are 0) is *missing*; a person-frame without any
present joint is *empty*. Output: float32 ``(num_person, T, V, 3)``, channels last.

Steps, in this order:

1. **2D image size.** x and y are divided by the same number, ``max(W, H)`` of the image
   (``fmt.image_size`` if the format fixes it, else the clip's ``img_shape = (H, W)``), so
   the aspect ratio is kept. The score is kept as it is as the third channel.
2. **Centre.** The *main person* is the first non-empty person (the converters put the
   most active one first). The origin is the mean of ``fmt.center_joints`` (``(fmt.center,)``
   unless the format sets it, e.g. the hip midpoint for COCO/BlazePose) in the main
   person's first frame in which all of those joints are present (a detector's missed
   joint is stored as 0 and must not drag the origin to the image corner); failing that,
   the first such frame of any person; failing that, the mean of the present joints in the
   main person's first non-empty frame. One origin per clip, so translation over time
   (walking, jumping) is kept.
3. **Scale** (needs ``fmt.scale_joints = (hips, shoulders)``). For every person-frame in
   which all those joints are present, the torso length ``|mean(shoulders) - mean(hips)|``;
   the clip's scale is the median of these over persons and frames (robust to missing
   joints, zero-padded persons and outliers). Coordinates are divided by it, so units
   (m, mm, px) disappear and a torso is 1 long. Without ``scale_joints`` or a usable frame
   the scale is 1.
4. **Facing (3D only, needs ``scale_joints``).** A rotation ``R`` (proper, det = +1) about
   the origin such that the main person's mean torso direction (unit vectors hip
   midpoint -> shoulder midpoint, averaged over its frames) points along +y ("up") and
   its mean left -> right direction (right hip minus left hip; the shoulders if the hips
   have no left/right pair) is orthogonalised against up and points along +x; z = x
   cross y. Only the main person: in a two-person clip the persons face different ways,
   and a direction pooled over both is no body's (it made the result depend on the
   camera's yaw). Means of unit vectors, not component-wise medians (version 1): they
   commute with rotations, so a clip seen from any camera normalises to the same array.
   If the main person has no frame with all the joints needed, all persons are pooled.
   Left joints are those of ``scale_joints`` that lie in ``parts['left_leg']`` or
   ``parts['left_arm']``; their right partners are given by ``fmt.flip``. This brings
   y-up sensor frames (Kinect) and y-down camera frames (MeTRAbs/OpenCV) and any camera
   yaw onto one footing.
5. Missing joints are set back to exactly 0 (score 0 for 2D); persons beyond
   ``num_person`` are dropped, missing ones are zero-padded.

Two options bring the input closer to the SkeletonCLR / AimCLR / SkeleMixCLR references,
whose data come from CrosSCLR's ``feeder/preprocess_ntu.py`` (``data_type='relative'``,
``y_rotation=True``): ``center='frame'`` subtracts, in every frame of every person, that
frame's centre joints (step 2 per frame: global translation removed; a frame without its
centre joints is centred on its present joints' mean), and ``align='frame'`` follows the
clip's facing rotation (step 4) with a rotation of every frame of every person about the
vertical axis that turns its left -> right direction (projected on the ground plane) to
+x. The reference also keeps metres (no step 3) and resizes the clip to 50 frames once;
see README § Pretraining configs for the whole comparison.

Everything is vectorised over persons and frames; :func:`normalize_clip` runs once per clip
and per format when the cache is built, never per sample.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from ..skeletons import SkeletonFormat

# 2 (2026-12-01): origin from present centre joints; facing from the main person's mean
# directions (1: component-wise medians over every person)
NORMALIZATION_VERSION = 2

#: ``center`` and ``align`` values of :func:`normalize_clip`.
CENTERS = ('clip', 'frame')
ALIGNS = (True, False, 'clip', 'frame')


def _present(xyz: np.ndarray, score: np.ndarray | None) -> np.ndarray:
    """Joint presence ``(M, T, V)`` bool."""
    present = np.any(xyz != 0, axis=-1)
    if score is not None:
        present |= score > 0
    return present


def left_right_pairs(fmt: SkeletonFormat) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Left and right joints used for the facing direction.

    Args:
        fmt (SkeletonFormat): The format; needs ``scale_joints``.

    Returns:
        tuple[tuple[int, ...], tuple[int, ...]]: ``(left, right)`` joint indices, with
        ``right[i] == fmt.flip[left[i]]``, from the hip group of ``scale_joints`` or, when it
        has no left joint, the shoulder group; ``((), ())`` when neither has one.

    """
    if fmt.scale_joints is None:
        return (), ()
    left_side = set(fmt.parts['left_leg']) | set(fmt.parts['left_arm'])
    for group in fmt.scale_joints:
        left = tuple(j for j in group if j in left_side)
        if left:
            return left, tuple(fmt.flip[j] for j in left)
    return (), ()


def _group_mean(xyz: np.ndarray, present: np.ndarray, joints: Sequence[int]):
    """Mean over ``joints`` of ``xyz (M, T, V, D)`` and whether all of them are present."""
    j = list(joints)
    return xyz[:, :, j].mean(axis=2), present[:, :, j].all(axis=2)


def clip_origin(
    xyz: np.ndarray, present: np.ndarray, center_joints: Sequence[int], main: int
) -> np.ndarray:
    """The clip's origin (step 2 of the module doc).

    Args:
        xyz (np.ndarray): ``(M, T, V, D)`` coordinates.
        present (np.ndarray): ``(M, T, V)`` joint presence.
        center_joints (Sequence[int]): The format's centre joints.
        main (int): The main person (the first non-empty one).

    Returns:
        np.ndarray: ``(D,)``, the mean of the centre joints in the main person's first
        frame where all of them are present, else in the first such frame of any person,
        else the mean of the present joints of the main person's first non-empty frame.

    """
    c = list(center_joints)
    complete = present[:, :, c].all(axis=2)  # (M, T)
    if complete[main].any():
        return xyz[main, int(np.argmax(complete[main])), c].mean(axis=0)
    if complete.any():
        m, t = np.unravel_index(int(np.argmax(complete)), complete.shape)
        return xyz[m, t, c].mean(axis=0)
    t = int(np.argmax(present[main].any(axis=1)))
    return xyz[main, t][present[main, t]].mean(axis=0)


def mean_direction(vectors: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Mean of the unit vectors of ``vectors (K, D)``: each frame counts at most 1.

    Unlike a component-wise median it commutes with rotations (the facing of a rotated
    clip is the rotated facing), and one wild frame moves it by at most ``2 / K``.

    Args:
        vectors (np.ndarray): ``(K, D)``; zero-length rows are skipped.
        eps (float): Zero-length threshold. Defaults to 1e-8.

    Returns:
        np.ndarray: ``(D,)``, not normalised (zero if every row has zero length).

    """
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    keep = norm[:, 0] > eps
    if not keep.any():
        return np.zeros(vectors.shape[-1])
    return (vectors[keep] / norm[keep]).mean(axis=0)


def per_frame_center(xyz: np.ndarray, present: np.ndarray, center_joints: Sequence[int]):
    """Every frame of every person minus its own centre (``center='frame'``).

    Args:
        xyz (np.ndarray): ``(M, T, V, D)``.
        present (np.ndarray): ``(M, T, V)`` joint presence.
        center_joints (Sequence[int]): The format's centre joints.

    Returns:
        np.ndarray: ``(M, T, V, D)``: the centre joints' mean subtracted where they are all
        present, else the mean of the frame's present joints (empty frames unchanged).

    """
    c = list(center_joints)
    complete = present[:, :, c].all(axis=2)  # (M, T)
    count = present.sum(axis=2, keepdims=True)  # (M, T, 1)
    fallback = (xyz * present[..., None]).sum(axis=2) / np.maximum(count, 1)
    origin = np.where(complete[..., None], xyz[:, :, c].mean(axis=2), fallback)  # (M, T, D)
    return xyz - origin[:, :, None]


def per_frame_yaw(
    xyz: np.ndarray, present: np.ndarray, left: Sequence[int], right: Sequence[int]
) -> np.ndarray:
    """Turn every frame of every person about +y so that its left -> right points to +x.

    The 3D counterpart of the references' ``y_rotation`` (CrosSCLR's ``parallel_skeleton``,
    which uses the shoulders and one sign for the whole clip); here the left/right joints
    of :func:`left_right_pairs`, each frame its own angle, after the clip's facing.

    Args:
        xyz (np.ndarray): ``(M, T, V, 3)``, y up.
        present (np.ndarray): ``(M, T, V)`` joint presence.
        left (Sequence[int]): Left joints.
        right (Sequence[int]): Their right partners.

    Returns:
        np.ndarray: ``(M, T, V, 3)``; frames without the left/right joints unchanged.

    """
    lm, l_ok = _group_mean(xyz, present, left)
    rm, r_ok = _group_mean(xyz, present, right)
    across = rm - lm  # (M, T, 3)
    ok = l_ok & r_ok & (np.hypot(across[..., 0], across[..., 2]) > 1e-8)
    angle = np.where(ok, np.arctan2(across[..., 2], across[..., 0]), 0.0)  # (M, T)
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    # rotation by +angle about y maps (cos a, 0, sin a) to (1, 0, 0)
    return np.stack([c * x + s * z, y, -s * x + c * z], axis=-1)


def facing_rotation(up: np.ndarray, across: np.ndarray, eps: float = 1e-8) -> np.ndarray | None:
    """Rotation taking ``up`` to +y and ``across`` (orthogonalised) to +x.

    Args:
        up (np.ndarray): ``(3,)`` the body's up direction.
        across (np.ndarray): ``(3,)`` the body's left -> right direction.
        eps (float): Degenerate-length threshold. Defaults to 1e-8.

    Returns:
        np.ndarray | None: ``(3, 3)`` rotation ``R`` (rows x, y, z; apply as ``p @ R.T``),
        or None when ``up`` or ``across`` is degenerate.

    """
    n_up = np.linalg.norm(up)
    if n_up < eps:
        return None
    y = up / n_up
    x = across - np.dot(across, y) * y
    n_x = np.linalg.norm(x)
    if n_x < eps:
        return None
    x = x / n_x
    z = np.cross(x, y)
    return np.stack([x, y, z])


def normalize_clip(
    keypoint: np.ndarray,
    fmt: SkeletonFormat,
    keypoint_score: np.ndarray | None = None,
    img_shape: Sequence[int] | None = None,
    num_person: int = 2,
    align: bool | str = True,
    raw: bool = False,
    center: str = 'clip',
) -> np.ndarray:
    """Canonically normalise one clip (see the module docstring for the exact steps).

    Args:
        keypoint (np.ndarray): ``(M, T, V, C)``: 3D ``C = 3``; 2D ``C = 2`` (with
            ``keypoint_score``) or ``C = 3`` (score as the third channel).
        fmt (SkeletonFormat): The clip's format.
        keypoint_score (np.ndarray, optional): ``(M, T, V)`` 2D scores.
        img_shape (Sequence[int], optional): ``(H, W)`` for 2D formats without
            ``fmt.image_size``.
        num_person (int): Persons in the output (extra dropped, missing zero-padded).
            Defaults to 2.
        align (bool | str): The 3D facing rotation (step 4): True or ``'clip'``; ``'frame'``
            adds the per-frame rotation about the vertical axis (module doc); False skips
            it. Defaults to True.
        raw (bool): Skip steps 1-4 (keep coordinates as stored; only pack the 2D score as
            the third channel and pad persons). Defaults to False.
        center (str): ``'clip'`` (one origin per clip, step 2) or ``'frame'`` (every
            frame of every person on its own centre joints). Defaults to ``'clip'``.

    Returns:
        np.ndarray: float32 ``(num_person, T, V, 3)``: x, y, z (3D) or x, y, score (2D).

    """
    if center not in CENTERS:
        raise ValueError(f'normalize_clip: center={center!r}; expected one of {CENTERS}')
    if align not in ALIGNS:
        raise ValueError(f'normalize_clip: align={align!r}; expected one of {ALIGNS}')
    kp = np.asarray(keypoint, dtype=np.float64)
    M, T, V, _ = kp.shape
    if fmt.is_2d:
        xyz = kp[..., :2].copy()
        score = kp[..., 2] if keypoint_score is None else np.asarray(keypoint_score, np.float64)
        if raw:
            size = 1.0
        elif fmt.image_size is not None:
            size = max(fmt.image_size)
        elif img_shape is not None:
            size = max(img_shape)
        else:
            size = 1.0
        present = _present(xyz, score)
        xyz /= float(size)
    else:
        xyz = kp[..., :3].copy()
        score = None
        present = _present(xyz, None)

    nonempty = present.any(axis=2)  # (M, T)
    if nonempty.any() and not raw:
        m0 = int(np.argmax(nonempty.any(axis=1)))  # the main person
        xyz -= clip_origin(xyz, present, fmt.center_joints, m0)
        if fmt.scale_joints is not None:
            hips, hips_ok = _group_mean(xyz, present, fmt.scale_joints[0])
            shoulders, sh_ok = _group_mean(xyz, present, fmt.scale_joints[1])
            ok = hips_ok & sh_ok  # (M, T)
            torso = shoulders - hips  # (M, T, D)
            if ok.any():
                length = float(np.median(np.linalg.norm(torso[ok], axis=-1)))
                if length > 1e-8:
                    xyz /= length
                    torso /= length
                if align and not fmt.is_2d:
                    left, right = left_right_pairs(fmt)
                    if left:
                        lm, l_ok = _group_mean(xyz, present, left)
                        rm, r_ok = _group_mean(xyz, present, right)
                        both = ok & l_ok & r_ok  # (M, T)
                        if both[m0].any():  # the main person's frames
                            up, across = torso[m0][both[m0]], (rm - lm)[m0][both[m0]]
                        else:  # all persons' (the main one has no usable frame)
                            up, across = torso[both], (rm - lm)[both]
                        if len(up):
                            R = facing_rotation(mean_direction(up), mean_direction(across))
                            if R is not None:
                                xyz = xyz @ R.T
                        if align == 'frame':
                            xyz = per_frame_yaw(xyz, present, left, right)
        if center == 'frame':
            xyz = per_frame_center(xyz, present, fmt.center_joints)
    xyz[~present] = 0
    out = np.zeros((num_person, T, V, 3), np.float32)
    m = min(M, num_person)
    if fmt.is_2d:
        out[:m, ..., :2] = xyz[:m]
        out[:m, ..., 2] = np.where(present[:m], score[:m], 0)
    else:
        out[:m] = xyz[:m]
    return out
