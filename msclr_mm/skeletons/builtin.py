"""The skeleton conventions shipped with msclr_mm.

Edge lists are written 1-based, as published, and converted once; everything else is 0-based.

Notes on the sources:

* ``kinect25`` / ``kinect25_2d`` (Kinect v2, NTU RGB+D): the edge list is the original
  ST-GCN / MS-CLR reference graph, in which the hand tip hangs off the thumb:
  ``(22, 23) (23, 8) (24, 25) (25, 12)``. mmaction2's ``Graph('nturgb+d')`` instead hangs
  both hand tip and thumb off the hand: ``(22, 8) (23, 8) (24, 12) (25, 12)``. We keep the
  reference graph so that published numbers reproduce; the two graphs differ only in those
  four edges. ``kinect25_2d`` is in pixels of a 1920x1080 image as an ordinary camera sees
  it (u right, v down); NTU's own colour coordinates are a mirror image of that and are
  flipped by ``tools/data/ntu_skeleton_to_pkl.py`` (README § Chirality).
* ``smpl24`` / ``smplx42`` / ``mhad43``: the MeTRAbs ``smpl_24``, ``smplx_42`` and
  ``berkeley_mhad_43`` skeletons with the MS-CLR reference edges. The SMPL-24 flip is the
  corrected table (the reference code's ends in an out-of-range index). In ``smplx42`` the
  two SMPL-X eye joints (24 and 25, 1-based) have no edge and are declared isolated.
* ``mhad43``: Berkeley-MHAD's 43 mocap markers. The reference edge list splits them into
  three components (head markers 1-3; both arms 12-27; torso and legs). A graph convolution
  and a bone tree need one component, so we add three flip-symmetric edges from the chest
  marker (5): to the head (1) and to both shoulder markers (12, 20). The left/right
  permutation is the unique non-trivial mirror automorphism of the torso-leg component
  combined with the arm-swap of the arm component (finger markers kept in index order)
  and the head swap; ``tests/skeletons/test_builtin.py`` checks it maps edges to edges.
  No published joint names exist for this skeleton in our sources: the names below are
  descriptive, derived from the graph structure, and which mirror side is called "left" is
  a convention, not verified against the mocap data.
* ``coco17`` / ``openpose18``: identical to mmaction2's ``Graph('coco')`` and
  ``Graph('openpose')`` (edges and centre).
* ``h36m17``: the 17-joint Human3.6M order of VideoPose3D / mmpose, centre the pelvis.
* ``blazepose33`` / ``blazepose33_2d``: MediaPipe Pose landmarks with ``POSE_CONNECTIONS``.
  Those leave the face (landmarks 0-8), the mouth (9, 10) and the body as three separate
  components, so we add four flip-symmetric edges from the nose (0) to the mouth corners
  (9, 10) and to the shoulders (11, 12). BlazePose has no joint between the hips: the graph
  centre is the left hip (23) and ``center_joints=(23, 24)`` tells the normalisation to
  centre on the midpoint of the hips.
"""

from __future__ import annotations

from typing import Iterable, Tuple

from .format import SkeletonFormat
from .registry import register_format


def _zero_based(edges: Iterable[Tuple[int, int]]) -> Tuple[Tuple[int, int], ...]:
    return tuple((a - 1, b - 1) for a, b in edges)


# --------------------------------------------------------------------------- Kinect v2
KINECT25_JOINTS = (
    'SpineBase', 'SpineMid', 'Neck', 'Head',
    'ShoulderLeft', 'ElbowLeft', 'WristLeft', 'HandLeft',
    'ShoulderRight', 'ElbowRight', 'WristRight', 'HandRight',
    'HipLeft', 'KneeLeft', 'AnkleLeft', 'FootLeft',
    'HipRight', 'KneeRight', 'AnkleRight', 'FootRight',
    'SpineShoulder', 'HandTipLeft', 'ThumbLeft', 'HandTipRight', 'ThumbRight',
)  # fmt: skip
KINECT25_EDGES = _zero_based([
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
])  # fmt: skip
KINECT25_COMMON = dict(
    joints=KINECT25_JOINTS,
    edges=KINECT25_EDGES,
    center=20,
    flip=(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15,
          20, 23, 24, 21, 22),
    parts=dict(
        trunk=(0, 1, 2, 3, 20),
        left_arm=(4, 5, 6, 7, 21, 22),
        right_arm=(8, 9, 10, 11, 23, 24),
        left_leg=(12, 13, 14, 15),
        right_leg=(16, 17, 18, 19),
    ),
    scale_joints=((12, 16), (4, 8)),
)  # fmt: skip
KINECT25 = SkeletonFormat(name='kinect25', dim=3, unit='m', **KINECT25_COMMON)
KINECT25_2D = SkeletonFormat(
    name='kinect25_2d', dim=2, unit='px', image_size=(1920, 1080), **KINECT25_COMMON
)

# --------------------------------------------------------------------------- SMPL
SMPL24_JOINTS = (
    'pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee', 'right_knee', 'spine2',
    'left_ankle', 'right_ankle', 'spine3', 'left_foot', 'right_foot', 'neck',
    'left_collar', 'right_collar', 'head', 'left_shoulder', 'right_shoulder',
    'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hand', 'right_hand',
)  # fmt: skip
SMPL24 = SkeletonFormat(
    name='smpl24',
    joints=SMPL24_JOINTS,
    edges=_zero_based([
        (1, 4), (4, 7), (7, 10), (13, 10), (16, 13), (2, 1), (5, 2), (8, 5), (11, 8), (3, 1),
        (6, 3), (9, 6), (12, 9), (14, 10), (17, 14), (19, 17), (21, 19), (23, 21), (15, 10),
        (18, 15), (20, 18), (22, 20), (24, 22),
    ]),
    center=9,
    flip=(0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20,
          23, 22),
    parts=dict(
        trunk=(0, 3, 6, 9, 12, 15),
        left_arm=(13, 16, 18, 20, 22),
        right_arm=(14, 17, 19, 21, 23),
        left_leg=(1, 4, 7, 10),
        right_leg=(2, 5, 8, 11),
    ),
    scale_joints=((1, 2), (16, 17)),
    dim=3,
    unit='m',
)  # fmt: skip

# --------------------------------------------------------------------------- SMPL-X 42
# MeTRAbs smplx_42: the 22 SMPL-X body joints, jaw, the two (edge-less) SMPL-X eye joints,
# one hand joint per side, the five face landmarks, big toe / small toe / heel per side and
# two finger tips per hand. The roles of 25, 26 and 38-41 (0-based) follow from the edges:
# each hangs off its wrist.
SMPLX42_JOINTS = SMPL24_JOINTS[:22] + (
    'jaw', 'left_eye_smplhf', 'right_eye_smplhf', 'left_hand', 'right_hand', 'nose',
    'right_eye', 'left_eye', 'right_ear', 'left_ear',
    'left_big_toe', 'left_small_toe', 'left_heel',
    'right_big_toe', 'right_small_toe', 'right_heel',
    'left_finger_tip_1', 'left_finger_tip_2', 'right_finger_tip_1', 'right_finger_tip_2',
)  # fmt: skip
SMPLX42 = SkeletonFormat(
    name='smplx42',
    joints=SMPLX42_JOINTS,
    edges=_zero_based([
        (7, 10), (4, 7), (1, 4), (2, 1), (5, 2), (8, 5), (35, 8), (11, 8), (33, 11),
        (34, 11), (3, 1), (6, 3), (9, 6), (38, 9), (12, 9), (36, 12), (37, 12), (14, 10),
        (17, 14), (19, 17), (21, 19), (26, 21), (39, 21), (40, 21), (15, 10), (18, 15),
        (20, 18), (22, 20), (27, 22), (41, 22), (42, 22), (13, 10), (23, 13), (16, 23),
        (28, 16), (30, 28), (32, 30), (29, 28), (31, 29),
    ]),
    center=9,
    isolated=(23, 24),
    flip=(0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 22,
          24, 23, 26, 25, 27, 29, 28, 31, 30, 35, 36, 37, 32, 33, 34, 40, 41, 38, 39),
    parts=dict(
        trunk=(0, 3, 6, 9, 12, 15, 22, 23, 24, 27, 28, 29, 30, 31),
        left_arm=(13, 16, 18, 20, 25, 38, 39),
        right_arm=(14, 17, 19, 21, 26, 40, 41),
        left_leg=(1, 4, 7, 10, 32, 33, 34),
        right_leg=(2, 5, 8, 11, 35, 36, 37),
    ),
    scale_joints=((1, 2), (16, 17)),
    dim=3,
    unit='m',
)  # fmt: skip

# --------------------------------------------------------------------------- Berkeley MHAD
MHAD43_JOINTS = (
    'head_top', 'head_left', 'head_right',                                   # 0-2
    'chest_left', 'chest', 'sternum', 'chest_right',                         # 3-6
    'hip_right', 'belly', 'belly_front', 'hip_left',                         # 7-10
    'shoulder_left', 'upper_arm_left', 'elbow_left', 'forearm_left', 'wrist_left',
    'hand_left_1', 'hand_left_2', 'hand_left_3',                             # 11-18
    'shoulder_right', 'upper_arm_right', 'elbow_right', 'forearm_right', 'wrist_right',
    'hand_right_1', 'hand_right_2', 'hand_right_3',                          # 19-26
    'waist_right', 'pelvis_right', 'flank_right',                            # 27-29
    'thigh_right', 'knee_right', 'shin_right', 'ankle_right', 'toe_right',   # 30-34
    'waist_left', 'pelvis_left', 'flank_left',                               # 35-37
    'thigh_left', 'knee_left', 'shin_left', 'ankle_left', 'toe_left',        # 38-42
)  # fmt: skip
MHAD43_REFERENCE_EDGES = _zero_based([
    (1, 2), (1, 3), (4, 5), (4, 36), (5, 6), (5, 7), (7, 28), (8, 9), (8, 29), (9, 10),
    (9, 11), (11, 37), (12, 13), (12, 20), (13, 14), (14, 15), (15, 16), (16, 17), (16, 18),
    (16, 19), (20, 21), (21, 22), (22, 23), (23, 24), (24, 25), (24, 26), (24, 27), (28, 30),
    (28, 36), (29, 30), (29, 31), (31, 32), (32, 33), (33, 34), (34, 35), (36, 38), (37, 38),
    (37, 39), (39, 40), (40, 41), (41, 42), (42, 43),
])  # fmt: skip
MHAD43_BRIDGE_EDGES = _zero_based([(5, 1), (5, 12), (5, 20)])
MHAD43 = SkeletonFormat(
    name='mhad43',
    joints=MHAD43_JOINTS,
    edges=MHAD43_REFERENCE_EDGES + MHAD43_BRIDGE_EDGES,
    center=8,
    flip=(0, 2, 1, 6, 4, 5, 3, 10, 8, 9, 7,
          19, 20, 21, 22, 23, 24, 25, 26, 11, 12, 13, 14, 15, 16, 17, 18,
          35, 36, 37, 38, 39, 40, 41, 42, 27, 28, 29, 30, 31, 32, 33, 34),
    parts=dict(
        trunk=(0, 1, 2, 3, 4, 5, 6, 8, 9, 27, 29, 35, 37),
        left_arm=tuple(range(11, 19)),
        right_arm=tuple(range(19, 27)),
        left_leg=(10, 36, 38, 39, 40, 41, 42),
        right_leg=(7, 28, 30, 31, 32, 33, 34),
    ),
    scale_joints=((7, 10), (11, 19)),
    dim=3,
    unit='m',
)  # fmt: skip

# --------------------------------------------------------------------------- COCO 17
COCO17 = SkeletonFormat(
    name='coco17',
    joints=(
        'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
        'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
        'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
    ),
    edges=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8),
        (8, 6), (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2),
    ),
    center=0,
    flip=(0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15),
    parts=dict(
        trunk=(0, 1, 2, 3, 4),
        left_arm=(5, 7, 9),
        right_arm=(6, 8, 10),
        left_leg=(11, 13, 15),
        right_leg=(12, 14, 16),
    ),
    center_joints=(11, 12),
    scale_joints=((11, 12), (5, 6)),
    dim=2,
    unit='px',
)  # fmt: skip

# --------------------------------------------------------------------------- OpenPose 18
OPENPOSE18 = SkeletonFormat(
    name='openpose18',
    joints=(
        'nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder',
        'left_elbow', 'left_wrist', 'right_hip', 'right_knee', 'right_ankle', 'left_hip',
        'left_knee', 'left_ankle', 'right_eye', 'left_eye', 'right_ear', 'left_ear',
    ),
    edges=(
        (4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2),
        (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14),
    ),
    center=1,
    flip=(0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16),
    parts=dict(
        trunk=(0, 1, 14, 15, 16, 17),
        left_arm=(5, 6, 7),
        right_arm=(2, 3, 4),
        left_leg=(11, 12, 13),
        right_leg=(8, 9, 10),
    ),
    center_joints=(8, 11),
    scale_joints=((8, 11), (2, 5)),
    dim=2,
    unit='px',
)  # fmt: skip

# --------------------------------------------------------------------------- Human3.6M 17
H36M17 = SkeletonFormat(
    name='h36m17',
    joints=(
        'pelvis', 'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee',
        'left_ankle', 'spine', 'thorax', 'neck_nose', 'head', 'left_shoulder', 'left_elbow',
        'left_wrist', 'right_shoulder', 'right_elbow', 'right_wrist',
    ),
    edges=(
        (1, 0), (2, 1), (3, 2), (4, 0), (5, 4), (6, 5), (7, 0), (8, 7), (9, 8), (10, 9),
        (11, 8), (12, 11), (13, 12), (14, 8), (15, 14), (16, 15),
    ),
    center=0,
    flip=(0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13),
    parts=dict(
        trunk=(0, 7, 8, 9, 10),
        left_arm=(11, 12, 13),
        right_arm=(14, 15, 16),
        left_leg=(4, 5, 6),
        right_leg=(1, 2, 3),
    ),
    scale_joints=((1, 4), (11, 14)),
    dim=3,
    unit='mm',
)  # fmt: skip

# --------------------------------------------------------------------------- BlazePose 33
BLAZEPOSE33_JOINTS = (
    'nose', 'left_eye_inner', 'left_eye', 'left_eye_outer', 'right_eye_inner', 'right_eye',
    'right_eye_outer', 'left_ear', 'right_ear', 'mouth_left', 'mouth_right',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist',
    'right_wrist', 'left_pinky', 'right_pinky', 'left_index', 'right_index', 'left_thumb',
    'right_thumb', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
    'right_ankle', 'left_heel', 'right_heel', 'left_foot_index', 'right_foot_index',
)  # fmt: skip
BLAZEPOSE_CONNECTIONS = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12),
    (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18),
    (16, 20), (16, 22), (18, 20), (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27),
    (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip
BLAZEPOSE_BRIDGE_EDGES = ((0, 9), (0, 10), (0, 11), (0, 12))
BLAZEPOSE33_COMMON = dict(
    joints=BLAZEPOSE33_JOINTS,
    edges=BLAZEPOSE_CONNECTIONS + BLAZEPOSE_BRIDGE_EDGES,
    center=23,
    center_joints=(23, 24),
    # face: swap left/right landmarks; body 11-32: odd indices are left, even are right
    flip=(0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9)
    + tuple(j + 1 if j % 2 else j - 1 for j in range(11, 33)),
    parts=dict(
        trunk=tuple(range(11)),
        left_arm=(11, 13, 15, 17, 19, 21),
        right_arm=(12, 14, 16, 18, 20, 22),
        left_leg=(23, 25, 27, 29, 31),
        right_leg=(24, 26, 28, 30, 32),
    ),
    scale_joints=((23, 24), (11, 12)),
)  # fmt: skip
BLAZEPOSE33 = SkeletonFormat(name='blazepose33', dim=3, unit='m', **BLAZEPOSE33_COMMON)
BLAZEPOSE33_2D = SkeletonFormat(name='blazepose33_2d', dim=2, unit='px', **BLAZEPOSE33_COMMON)

BUILTIN_FORMATS = (
    KINECT25, KINECT25_2D, SMPL24, SMPLX42, MHAD43, COCO17, OPENPOSE18, H36M17, BLAZEPOSE33,
    BLAZEPOSE33_2D,
)  # fmt: skip
for _fmt in BUILTIN_FORMATS:
    register_format(_fmt)
