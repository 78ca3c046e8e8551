"""OpenNI / NiTE 15-joint skeletons (Kinect v1 through OpenNI, e.g. the KARD dataset).

Joint order (0-based) as in KARD's ``kard_15j.npz``: head, neck, right shoulder, right
elbow, right hand, left shoulder, left elbow, left hand, torso, right hip, right knee,
right foot, left hip, left knee, left foot. The graph is the NiTE skeleton: head-neck,
both arms off the neck, the torso joint between neck and hips, both legs off the torso.
Its centre (ST-GCN partition root, normalisation origin) is the torso joint.

* ``openni15``: 3D world coordinates, millimetres, in a right-handed frame like every 3D
  format (the canonical normalisation only rotates, so a mirrored, left-handed frame would
  end up facing +z instead of -z). ``tools/data/kard_to_pkl.py`` writes NTU's Kinect v2
  camera frame: x to the sensor's left, y up, z along the view (it negates KARD's x, which
  follows the image's u). OpenNI/NiTE world joints from other sources whose x grows to
  the sensor's right must have x negated too.
* ``openni15_2d``: the same joints projected on the 640x480 depth image (u, v pixels, u to
  the right, v down, as the sensor sees the scene), with a score channel (KARD: 1 where
  the joint has a valid depth).
"""

from __future__ import annotations

from .format import SkeletonFormat
from .registry import register_format

OPENNI15_JOINTS = (
    'head', 'neck', 'right_shoulder', 'right_elbow', 'right_hand', 'left_shoulder',
    'left_elbow', 'left_hand', 'torso', 'right_hip', 'right_knee', 'right_foot', 'left_hip',
    'left_knee', 'left_foot',
)  # fmt: skip
OPENNI15_COMMON = dict(
    joints=OPENNI15_JOINTS,
    edges=(
        (0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
        (10, 11), (8, 12), (12, 13), (13, 14),
    ),
    center=8,
    flip=(0, 1, 5, 6, 7, 2, 3, 4, 8, 12, 13, 14, 9, 10, 11),
    parts=dict(
        trunk=(0, 1, 8),
        left_arm=(5, 6, 7),
        right_arm=(2, 3, 4),
        left_leg=(12, 13, 14),
        right_leg=(9, 10, 11),
    ),
    scale_joints=((9, 12), (2, 5)),
)  # fmt: skip
OPENNI15 = SkeletonFormat(name='openni15', dim=3, unit='mm', **OPENNI15_COMMON)
OPENNI15_2D = SkeletonFormat(
    name='openni15_2d', dim=2, unit='px', image_size=(640, 480), **OPENNI15_COMMON
)

for _fmt in (OPENNI15, OPENNI15_2D):
    register_format(_fmt)
