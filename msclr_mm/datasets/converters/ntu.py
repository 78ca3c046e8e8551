"""NTU RGB+D ``.skeleton`` files: parsing, body selection, annotations and splits.

A ``.skeleton`` file is text: the frame count, then per frame the body count and per body
one line of 10 fields (``bodyID clipedEdges handLeftConfidence handLeftState
handRightConfidence handRightState isRestricted leanX leanY trackingState``), the joint
count and one line of 12 fields per joint (``x y z depthX depthY colorX colorY
orientationW orientationX orientationY orientationZ trackingState``).

Body selection follows the usual NTU denoising (SGN / CTR-GCN
``data/ntu/get_raw_denoised_data.py``, its thresholds and its motion measure): drop bodies
seen on too few frames, drop bodies whose horizontal spread is implausibly large against
their vertical spread on most frames (furniture, reflections), then assemble the remaining
bodies, most active first (the variance of all their joint positions), into up to
``max_bodies`` actors, merging bodies whose frames do not overlap into one actor's track: the
Kinect tracker often gives one person a new body id mid-clip, and such fragments must stay in
one person slot.
The number of joints and the 2D image size come from the skeleton formats
(``kinect25`` / ``kinect25_2d``); nothing here names a joint.
"""

from __future__ import annotations

import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .common import ConversionError

NAME_RE = re.compile(r'^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})$')

# NTU RGB+D 60 cross-subject training subjects (Shahroudy et al., 2016).
NTU60_XSUB_TRAIN = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
# NTU RGB+D 120 cross-subject training subjects (Liu et al., 2019).
NTU120_XSUB_TRAIN = NTU60_XSUB_TRAIN + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85,
    86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103,
)  # fmt: skip
NTU60_XVIEW_TRAIN_CAMERAS = (2, 3)
# Kinect trackingState per joint -> keypoint_score: 2 tracked, 1 inferred, 0 not tracked.
DEFAULT_TRACKING_SCORES = {2: 1.0, 1: 0.5, 0: 0.0}


@dataclass
class NTUBody:
    """One tracked body of a clip.

    Args:
        body_id (str): The sensor's body id.
        frames (np.ndarray): int64 ``(F,)`` frame indices where the body appears.
        joints (np.ndarray): float32 ``(F, V, 12)``: the 12 joint fields per frame.
    """

    body_id: str
    frames: np.ndarray
    joints: np.ndarray

    @property
    def xyz(self) -> np.ndarray:
        """np.ndarray: ``(F, V, 3)`` camera-space metres."""
        return self.joints[..., 0:3]

    @property
    def color_xy(self) -> np.ndarray:
        """np.ndarray: ``(F, V, 2)`` colour-image pixels (colorX, colorY)."""
        return self.joints[..., 5:7]

    @property
    def tracking(self) -> np.ndarray:
        """np.ndarray: ``(F, V)`` per-joint trackingState (0, 1 or 2)."""
        return self.joints[..., 11]


def parse_ntu_name(name: str) -> Dict[str, int]:
    """Decode ``SsssCcccPpppRrrrAaaa`` (with or without ``.skeleton``).

    Args:
        name (str): File name or stem.

    Returns:
        dict[str, int]: ``setup``, ``camera``, ``subject``, ``replication``, ``action``
        (all 1-based as in the name).

    Raises:
        ConversionError: When the name does not follow the pattern.

    """
    stem = osp.basename(name)
    if stem.endswith('.skeleton'):
        stem = stem[: -len('.skeleton')]
    m = NAME_RE.match(stem)
    if not m:
        raise ConversionError(
            f'{name}: file name does not follow the NTU pattern SsssCcccPpppRrrrAaaa '
            '(e.g. S001C001P001R001A001.skeleton)'
        )
    keys = ('setup', 'camera', 'subject', 'replication', 'action')
    return dict(zip(keys, (int(g) for g in m.groups())))


def parse_skeleton_file(path: str, num_joints: int) -> Tuple[int, List[NTUBody]]:
    """Parse one ``.skeleton`` file.

    Args:
        path (str): The file.
        num_joints (int): Joints per body expected (25 for Kinect v2, from the format).

    Returns:
        tuple[int, list[NTUBody]]: The frame count from the header and the bodies in
        order of first appearance.

    Raises:
        ConversionError: Truncated file, wrong joint count, wrong field count or a
            non-number, naming the file and line.

    """
    with open(path) as f:
        lines = f.read().splitlines()
    pos = 0

    def error(msg: str) -> ConversionError:
        return ConversionError(f'{path} (line {pos + 1}): {msg}')

    def next_line(what: str) -> str:
        nonlocal pos
        while pos < len(lines) and not lines[pos].strip():
            pos += 1
        if pos >= len(lines):
            raise error(f'file ends early (truncated?) while reading {what}')
        line = lines[pos]
        pos += 1
        return line

    def read_int(what: str) -> int:
        text = next_line(what).strip()
        try:
            return int(text)
        except ValueError:
            nonlocal pos
            pos -= 1
            raise error(f'expected {what} (an integer), got {text[:60]!r}') from None

    num_frames = read_int('the frame count')
    if num_frames < 0:
        raise error(f'negative frame count {num_frames}')
    frames: Dict[str, List[int]] = {}
    joints: Dict[str, List[np.ndarray]] = {}
    for t in range(num_frames):
        num_bodies = read_int(f'the body count of frame {t}')
        for b in range(num_bodies):
            info = next_line(f'the info line of body {b} in frame {t}').split()
            if len(info) != 10:
                pos -= 1
                raise error(
                    f'frame {t} body {b}: body info line has {len(info)} fields, expected 10'
                )
            body_id = info[0]
            nj = read_int(f'the joint count of body {b} in frame {t}')
            if nj != num_joints:
                pos -= 1
                raise error(f'frame {t} body {b}: joint count {nj}, expected {num_joints}')
            if pos + nj > len(lines):
                pos = len(lines)
                raise error(f'file ends early (truncated?) inside frame {t} body {b}')
            block = lines[pos : pos + nj]
            try:
                values = np.array(' '.join(block).split(), dtype=np.float32)
            except ValueError:
                raise error(f'frame {t} body {b}: a joint line holds a non-number') from None
            if values.size != nj * 12:
                raise error(
                    f'frame {t} body {b}: joint lines hold {values.size} numbers, expected '
                    f'{nj} x 12'
                )
            pos += nj
            if body_id in frames and frames[body_id][-1] == t:
                raise error(f'frame {t}: body id {body_id} appears twice')
            frames.setdefault(body_id, []).append(t)
            joints.setdefault(body_id, []).append(values.reshape(nj, 12))
    bodies = [
        NTUBody(bid, np.asarray(frames[bid], dtype=np.int64), np.stack(joints[bid]))
        for bid in frames
    ]
    return num_frames, bodies


def spread_valid_frames(body: NTUBody, spread_ratio: float = 0.8) -> np.ndarray:
    """Which of a body's frames have a plausible shape: x spread <= ``spread_ratio`` * y spread.

    SGN's ``get_valid_frames_by_spread``: a person stands taller than wide, furniture and
    reflections mistaken for a body often do not.

    Args:
        body (NTUBody): The body.
        spread_ratio (float): Threshold on ``spread_x / spread_y``. Defaults to 0.8.

    Returns:
        np.ndarray: bool ``(F,)``, True where the frame is valid (not noisy).

    """
    xyz = body.xyz
    spread = xyz.max(axis=1) - xyz.min(axis=1) if len(xyz) else np.zeros((0, 3), xyz.dtype)
    return spread[:, 0] <= spread_ratio * spread[:, 1]


def spread_noise_ratio(body: NTUBody, spread_ratio: float = 0.8) -> float:
    """Fraction of a body's frames whose x spread exceeds ``spread_ratio`` times its y spread.

    Args:
        body (NTUBody): The body.
        spread_ratio (float): Threshold on ``spread_x / spread_y``. Defaults to 0.8.

    Returns:
        float: In ``[0, 1]``; 1.0 for a body without frames.

    """
    valid = spread_valid_frames(body, spread_ratio)
    return float(1.0 - valid.mean()) if len(valid) else 1.0


def motion_energy(body: NTUBody, frames: np.ndarray | None = None) -> float:
    """SGN's motion amount of a body: the variance of all its 3D joint positions.

    The positions of every joint on every frame are pooled into one point cloud, and the
    variances of its x, y and z are summed (SGN's ``np.sum(np.var(joints, axis=0))`` on
    ``joints`` ``(F * V, 3)``, ``get_raw_skes_data.py``). So it grows with the body's
    movement and with its spatial extent: a large still body (a wall mistaken for a person)
    scores higher than a small one.

    Args:
        body (NTUBody): The body.
        frames (np.ndarray, optional): bool ``(F,)`` mask or indices of the body's frames to
            use. Defaults to None: all of them.

    Returns:
        float: In m^2; 0.0 when no frame is used.

    """
    xyz = body.xyz if frames is None else body.xyz[frames]
    points = xyz.reshape(-1, 3)
    return float(points.var(axis=0, dtype=np.float64).sum()) if len(points) else 0.0


def denoise_bodies(
    bodies: Sequence[NTUBody],
    min_frames: int = 11,
    spread_ratio: float = 0.8,
    noisy_fraction: float = 0.69754,
) -> List[Tuple[NTUBody, float]]:
    """Drop noise bodies by length, then by spread, as SGN's ``denoising_bodies_data``.

    1. Length: bodies seen on ``<= min_frames`` frames are dropped (unless that would drop
       every body: then none is; SGN assumes it never happens).
    2. Spread, in input order and only while more than one body is left: a body whose
       frames fail :func:`spread_valid_frames` on at least ``noisy_fraction`` of its frames
       is dropped; a body with fewer noisy frames stays, its motion taken as the smaller of
       its :func:`motion_energy` over all frames and over its valid frames (so a person
       whose skeleton sprawls on a few frames is not ranked by those frames).

    Args:
        bodies (Sequence[NTUBody]): All bodies of a clip.
        min_frames (int): Bodies seen on ``<= min_frames`` frames are dropped. Defaults to
            11.
        spread_ratio (float): A frame is noisy when ``spread_x > spread_ratio *
            spread_y``. Defaults to 0.8.
        noisy_fraction (float): Bodies with at least this fraction of noisy frames are
            dropped. Defaults to 0.69754 (SGN's threshold).

    Returns:
        list[tuple[NTUBody, float]]: The bodies that pass (the same objects, in input order)
        with their motion, for :func:`assemble_actors`.

    """
    kept = [b for b in bodies if len(b.frames) > min_frames] or list(bodies)
    motion = [motion_energy(b) for b in kept]
    i = 0
    while i < len(kept) and len(kept) > 1:
        valid = spread_valid_frames(kept[i], spread_ratio)
        noisy = int((~valid).sum())
        if noisy and noisy / len(valid) >= noisy_fraction:
            del kept[i], motion[i]
            continue
        if noisy and valid.any():  # (no valid frame: SGN's min(motion, nan) keeps motion)
            motion[i] = min(motion[i], motion_energy(kept[i], valid))
        i += 1
    return list(zip(kept, motion))


def merge_bodies(bodies: Sequence[NTUBody]) -> NTUBody:
    """Join bodies seen on disjoint frames into one track (one actor re-identified).

    Args:
        bodies (Sequence[NTUBody]): At least one body; no frame may hold two of them.

    Returns:
        NTUBody: The single input body itself when there is one; otherwise a new body whose
        ``frames`` ``(F,)`` are the sorted union of the bodies' frames (``F`` = their total
        count), ``joints`` ``(F, V, 12)`` the matching rows (so ``xyz``, ``color_xy`` and
        ``tracking`` follow), and ``body_id`` the bodies' ids joined by ``'+'`` in order of
        first frame.

    Raises:
        ValueError: When ``bodies`` is empty or two bodies share a frame.

    """
    if not bodies:
        raise ValueError('merge_bodies needs at least one body')
    if len(bodies) == 1:
        return bodies[0]
    ordered = sorted(bodies, key=lambda b: int(b.frames.min()) if len(b.frames) else 0)
    frames = np.concatenate([b.frames for b in ordered]).astype(np.int64)
    joints = np.concatenate([b.joints for b in ordered])
    order = np.argsort(frames, kind='stable')
    frames, joints = frames[order], joints[order]
    if (np.diff(frames) == 0).any():
        raise ValueError('merge_bodies: two bodies share a frame')
    return NTUBody('+'.join(b.body_id for b in ordered), frames, joints)


def assemble_actors(
    bodies: Sequence[NTUBody], max_bodies: int = 2, motions: Sequence[float] | None = None
) -> List[NTUBody]:
    """Assemble denoised bodies into up to ``max_bodies`` actors by frame overlap.

    Follows ``get_two_actors_points`` of the SGN / CTR-GCN NTU preprocessing
    (``data/ntu/get_raw_denoised_data.py``): the bodies are taken by motion, largest
    first (``motions``, by default :func:`motion_energy`; a stable sort, so ties keep the
    input order);
    actor 1 is the most active body; each following body joins the first actor whose frames
    it does not overlap, starts a new actor when it overlaps all of them and fewer than
    ``max_bodies`` exist, and is dropped otherwise. With ``max_bodies=2`` that is the
    reference's rule (actor 2 is started by the first body overlapping actor 1). A person
    whose body id changes mid-clip thus stays one actor with all its frames.

    Where this differs from the reference:

    - Overlap is judged on the actual frame sets (no shared frame), not on the
      ``[first, last]`` frame spans. The reference counts a body touching an actor's span
      at exactly one frame as not overlapping (its test is ``min(end1, end) - max(start1,
      start) <= 0`` on inclusive spans) and overwrites that frame with the later, less
      active body; here a frame holding both bodies means two skeletons at once, so they
      are not merged. Spans would also block a fragment from filling a gap between two
      fragments already merged (e.g. three fragments of one person with the middle one
      the least active), which frame sets allow.
    - The reference starts actor 2 from a virtual ``[0, 0]`` span and widens it with
      ``min``/``max``, so actor 2's span always begins at frame 0 and a later body that
      lies before actor 2's first body is wrongly judged overlapping; frame sets do not
      have that artefact.
    - ``max_bodies`` generalises the reference's fixed two actors (1 keeps actor 1 only).

    Args:
        bodies (Sequence[NTUBody]): Denoised bodies of a clip (see :func:`denoise_bodies`).
        max_bodies (int): Actors to keep (``M`` at most). Defaults to 2.
        motions (Sequence[float], optional): Each body's motion, the ranking key (as
            :func:`denoise_bodies` returns them). Defaults to None: :func:`motion_energy`.

    Returns:
        list[NTUBody]: The actors, actor 1 (the most active body's track) first; an actor
        of one body is that body object itself, an actor of several is their
        :func:`merge_bodies` (frames ``(F,)`` sorted, joints ``(F, V, 12)``).

    """
    if motions is None:
        motions = [motion_energy(b) for b in bodies]
    if len(motions) != len(bodies):
        raise ValueError(f'{len(motions)} motions for {len(bodies)} bodies')
    order = sorted(range(len(bodies)), key=lambda i: motions[i], reverse=True)
    ranked = [bodies[i] for i in order]
    tracks: List[List[NTUBody]] = []
    occupied: List[set] = []
    for body in ranked:
        frames = set(body.frames.tolist())
        for track, used in zip(tracks, occupied):
            if used.isdisjoint(frames):
                track.append(body)
                used |= frames
                break
        else:
            if len(tracks) < max_bodies:
                tracks.append([body])
                occupied.append(frames)
    return [merge_bodies(track) for track in tracks]


def select_bodies(
    bodies: Sequence[NTUBody],
    max_bodies: int = 2,
    min_frames: int = 11,
    spread_ratio: float = 0.8,
    noisy_fraction: float = 0.69754,
) -> List[NTUBody]:
    """Choose up to ``max_bodies`` actors: denoise by length and spread, merge re-IDs.

    :func:`denoise_bodies` then :func:`assemble_actors`: bodies whose frames do not overlap
    (one person given a new body id by the tracker) are joined into one actor, so each
    returned item is one person's track. Without any id change (every pair of kept bodies
    shares a frame) this is the ``max_bodies`` most active bodies, as before.

    Args:
        bodies (Sequence[NTUBody]): All bodies of a clip.
        max_bodies (int): Actors to keep. Defaults to 2.
        min_frames (int): Bodies seen on ``<= min_frames`` frames are dropped. Defaults to
            11.
        spread_ratio (float): A frame is noisy when ``spread_x > spread_ratio *
            spread_y``. Defaults to 0.8.
        noisy_fraction (float): Bodies with at least this fraction of noisy frames are
            dropped. Defaults to 0.69754 (SGN's).

    Returns:
        list[NTUBody]: At most ``max_bodies`` actors, the most active body's track first
        (frames ``(F,)``, joints ``(F, V, 12)``; see :func:`assemble_actors`).

    """
    kept = denoise_bodies(bodies, min_frames, spread_ratio, noisy_fraction)
    return assemble_actors([b for b, _ in kept], max_bodies, [m for _, m in kept])


def bodies_to_arrays(
    bodies: Sequence[NTUBody],
    num_frames: int,
    num_joints: int,
    tracking_scores: Dict[int, float] | None = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place the selected actors on the clip's time axis, zeros where an actor is absent.

    Args:
        bodies (Sequence[NTUBody]): Selected actors (``M`` of them, e.g. from
            :func:`select_bodies`), one person slot each.
        num_frames (int): ``T`` from the file header.
        num_joints (int): ``V``.
        tracking_scores (dict[int, float], optional): trackingState -> score. Defaults to
            ``{2: 1.0, 1: 0.5, 0: 0.0}``.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: float32 3D ``(M, T, V, 3)`` metres,
        2D ``(M, T, V, 2)`` colour pixels and scores ``(M, T, V)`` (0 where absent).

    """
    scores_map = DEFAULT_TRACKING_SCORES if tracking_scores is None else tracking_scores
    M = len(bodies)
    kp3 = np.zeros((M, num_frames, num_joints, 3), np.float32)
    kp2 = np.zeros((M, num_frames, num_joints, 2), np.float32)
    score = np.zeros((M, num_frames, num_joints), np.float32)
    lut = np.zeros(3, np.float32)
    for state, value in scores_map.items():
        lut[int(state)] = value
    for m, body in enumerate(bodies):
        kp3[m, body.frames] = body.xyz
        kp2[m, body.frames] = body.color_xy
        state = np.clip(body.tracking.astype(np.int64), 0, 2)
        score[m, body.frames] = lut[state]
    return kp3, kp2, score


def convert_skeleton_file(
    path: str,
    num_joints: int,
    image_size: Tuple[int, int],
    max_bodies: int = 2,
    min_frames: int = 11,
    spread_ratio: float = 0.8,
    unmirror_colour: bool = True,
    noisy_fraction: float = 0.69754,
) -> Tuple[dict | None, dict | None]:
    """Turn one ``.skeleton`` file into its ``kinect25`` and ``kinect25_2d`` annotations.

    NTU's colour frame is a mirror image (the Kinect v2 colour stream, like NTU's RGB
    videos): ``colorX`` grows with camera-space ``x``, i.e. towards the sensor's left, so a
    person facing the camera has the right shoulder at the larger ``u``, where an ordinary
    camera shows the left one: with its anatomical joint labels, such a 2D skeleton looks
    like a person seen from behind. By default (``unmirror_colour=True``) the pixels are
    written as an ordinary camera sees them, ``u -> width - u``, the 2D convention of every
    other source here (video, KARD, the demo data); ``False`` keeps them as recorded (they
    then overlay on NTU's videos).

    Args:
        path (str): The file.
        num_joints (int): Joints per body (``kinect25.num_joints``).
        image_size (tuple[int, int]): ``(width, height)`` of the colour frame
            (``kinect25_2d.image_size``).
        max_bodies (int): Actors (person slots ``M``) to keep at most; see
            :func:`select_bodies`. Defaults to 2.
        min_frames (int): See :func:`select_bodies`. Defaults to 11.
        spread_ratio (float): See :func:`select_bodies`. Defaults to 0.8.
        unmirror_colour (bool): Mirror the colour pixels back to an ordinary camera's view
            (``u -> width - u`` where a body is present; absent joints stay 0). Defaults to
            True.
        noisy_fraction (float): See :func:`select_bodies`. Defaults to 0.69754.

    Returns:
        tuple[dict | None, dict | None]: The 3D annotation (``keypoint (M, T, V, 3)``) and
        the 2D one (``keypoint (M, T, V, 2)``, ``keypoint_score (M, T, V)``, ``img_shape``
        ``(H, W)``), with the same ``frame_dir``, ``label`` (action - 1) and
        ``total_frames`` (the header's frame count); ``(None, None)`` when the file holds
        no body on any frame.

    """
    meta = parse_ntu_name(path)
    num_frames, bodies = parse_skeleton_file(path, num_joints)
    if not bodies or num_frames == 0:
        return None, None
    chosen = select_bodies(bodies, max_bodies, min_frames, spread_ratio, noisy_fraction)
    kp3, kp2, score = bodies_to_arrays(chosen, num_frames, num_joints)
    name = osp.basename(path)[: -len('.skeleton')]
    common = dict(frame_dir=name, label=meta['action'] - 1, total_frames=num_frames)
    width, height = image_size
    if unmirror_colour:
        present = np.abs(kp2).sum(-1) > 0
        kp2[..., 0] = np.where(present, np.float32(width) - kp2[..., 0], np.float32(0))
    ann3 = dict(common, keypoint=kp3)
    ann2 = dict(
        common,
        keypoint=kp2,
        keypoint_score=score,
        img_shape=(height, width),
        original_shape=(height, width),
    )
    return ann3, ann2


def ntu_splits(names: Sequence[str], benchmark: str = 'auto') -> Dict[str, List[str]]:
    """Standard NTU splits of the given clips.

    NTU-60 (actions 1-60): ``xsub_train``/``xsub_val`` by subject and
    ``xview_train``/``xview_val`` (cameras 2, 3 train; camera 1 val). NTU-120:
    ``xsub_*`` with the NTU-120 training subjects and ``xset_*`` (even setups train).

    Args:
        names (Sequence[str]): Clip names ``SsssCcccPpppRrrrAaaa``.
        benchmark (str): ``'ntu60'``, ``'ntu120'`` or ``'auto'`` (NTU-120 when an action
            above 60 appears). Defaults to ``'auto'``.

    Returns:
        dict[str, list[str]]: Split name to clip names, in input order.

    """
    metas = [parse_ntu_name(n) for n in names]
    if benchmark == 'auto':
        benchmark = 'ntu120' if any(m['action'] > 60 for m in metas) else 'ntu60'
    if benchmark not in ('ntu60', 'ntu120'):
        raise ValueError(f"benchmark must be 'auto', 'ntu60' or 'ntu120', got {benchmark!r}")
    splits: Dict[str, List[str]] = {}
    subjects = NTU60_XSUB_TRAIN if benchmark == 'ntu60' else NTU120_XSUB_TRAIN
    for name, m in zip(names, metas):
        splits.setdefault('xsub_train', [])
        splits.setdefault('xsub_val', [])
        splits['xsub_train' if m['subject'] in subjects else 'xsub_val'].append(name)
        if benchmark == 'ntu60':
            key = 'xview_train' if m['camera'] in NTU60_XVIEW_TRAIN_CAMERAS else 'xview_val'
        else:
            key = 'xset_train' if m['setup'] % 2 == 0 else 'xset_val'
        splits.setdefault(key.split('_')[0] + '_train', [])
        splits.setdefault(key.split('_')[0] + '_val', [])
        splits[key].append(name)
    return splits
