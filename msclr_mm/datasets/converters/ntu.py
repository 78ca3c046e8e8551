"""NTU RGB+D ``.skeleton`` files: parsing, body selection, annotations and splits.

A ``.skeleton`` file is text: the frame count, then per frame the body count and per body
one line of 10 fields (``bodyID clipedEdges handLeftConfidence handLeftState
handRightConfidence handRightState isRestricted leanX leanY trackingState``), the joint
count and one line of 12 fields per joint (``x y z depthX depthY colorX colorY
orientationW orientationX orientationY orientationZ trackingState``).

Body selection follows the usual NTU denoising: drop bodies seen on too few frames, drop
bodies whose horizontal spread is implausibly large against their vertical spread on most
frames (furniture, reflections), then keep the bodies with the largest motion energy.
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


def spread_noise_ratio(body: NTUBody, spread_ratio: float = 0.8) -> float:
    """Fraction of a body's frames whose x spread exceeds ``spread_ratio`` times its y spread.

    Args:
        body (NTUBody): The body.
        spread_ratio (float): Threshold on ``spread_x / spread_y``. Defaults to 0.8.

    Returns:
        float: In ``[0, 1]``.

    """
    xyz = body.xyz
    spread = xyz.max(axis=1) - xyz.min(axis=1)  # (F, 3)
    noisy = spread[:, 0] > spread_ratio * spread[:, 1]
    return float(noisy.mean()) if len(noisy) else 1.0


def motion_energy(body: NTUBody) -> float:
    """Sum over joints and axes of the variance of the 3D positions over the body's frames.

    Args:
        body (NTUBody): The body.

    Returns:
        float: The motion energy (m^2).

    """
    return float(body.xyz.reshape(len(body.frames), -1).var(axis=0).sum())


def select_bodies(
    bodies: Sequence[NTUBody],
    max_bodies: int = 2,
    min_frames: int = 11,
    spread_ratio: float = 0.8,
    max_noisy_fraction: float = 0.69,
) -> List[NTUBody]:
    """Choose up to ``max_bodies`` bodies: denoise by length and spread, rank by motion.

    A step that would remove every remaining body is skipped, so a clip that has bodies
    keeps at least one.

    Args:
        bodies (Sequence[NTUBody]): All bodies of a clip.
        max_bodies (int): Bodies to keep. Defaults to 2.
        min_frames (int): Bodies seen on ``<= min_frames`` frames are dropped. Defaults to
            11.
        spread_ratio (float): A frame is noisy when ``spread_x > spread_ratio *
            spread_y``. Defaults to 0.8.
        max_noisy_fraction (float): Bodies with more noisy frames than this fraction are
            dropped. Defaults to 0.69.

    Returns:
        list[NTUBody]: Kept bodies, largest motion energy first.

    """
    kept = list(bodies)
    by_length = [b for b in kept if len(b.frames) > min_frames]
    kept = by_length or kept
    by_spread = [b for b in kept if spread_noise_ratio(b, spread_ratio) <= max_noisy_fraction]
    kept = by_spread or kept
    kept.sort(key=motion_energy, reverse=True)
    return kept[:max_bodies]


def bodies_to_arrays(
    bodies: Sequence[NTUBody],
    num_frames: int,
    num_joints: int,
    tracking_scores: Dict[int, float] | None = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place the selected bodies on the clip's time axis, zeros where a body is absent.

    Args:
        bodies (Sequence[NTUBody]): Selected bodies (``M`` of them).
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
        max_bodies (int): Bodies to keep. Defaults to 2.
        min_frames (int): See :func:`select_bodies`. Defaults to 11.
        spread_ratio (float): See :func:`select_bodies`. Defaults to 0.8.
        unmirror_colour (bool): Mirror the colour pixels back to an ordinary camera's view
            (``u -> width - u`` where a body is present; absent joints stay 0). Defaults to
            True.

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
    chosen = select_bodies(bodies, max_bodies, min_frames, spread_ratio)
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
