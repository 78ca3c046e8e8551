"""A procedural 3D body acting out simple actions: the source of the embedded demo data.

One body model (:func:`animate`) gives named 3D landmarks over time; each skeleton format
takes its joints from those landmarks *by joint name* (:data:`FORMAT_LANDMARKS`), so the
same motion is emitted as Kinect v2 25 (sensor camera space, y up, metres), SMPL 24
(MeTRAbs-style camera space, y down, metres) and COCO 17 (2D pixels of a pinhole camera,
with scores). No joint number appears here: formats are looked up in
:mod:`msclr_mm.skeletons`.

Body frame: x = the person's left, y = up, z = forward, origin on the floor under the
pelvis. Every subject has its own height, limb proportions, speed, amplitude and noise;
every clip its own phase, start, length and camera yaw/distance/height.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from ..skeletons import get_format

ACTIONS = (
    'wave_right_hand',
    'wave_left_hand',
    'clap',
    'punch',
    'kick',
    'squat',
    'jump',
    'bow',
    'raise_both_arms',
    'walk_in_place',
)

# format joint name -> body landmark name
FORMAT_LANDMARKS: Dict[str, Dict[str, str]] = {
    'kinect25': {
        'SpineBase': 'pelvis', 'SpineMid': 'spine_mid', 'Neck': 'neck', 'Head': 'head',
        'SpineShoulder': 'neck_base',
        **{
            f'{k}{Side}': f'{side}_{v}'
            for Side, side in (('Left', 'left'), ('Right', 'right'))
            for k, v in (
                ('Shoulder', 'shoulder'), ('Elbow', 'elbow'), ('Wrist', 'wrist'),
                ('Hand', 'hand'), ('HandTip', 'hand_tip'), ('Thumb', 'thumb'), ('Hip', 'hip'),
                ('Knee', 'knee'), ('Ankle', 'ankle'), ('Foot', 'toe'),
            )
        },
    },
    'smpl24': {
        'pelvis': 'pelvis_smpl', 'spine1': 'spine_low', 'spine2': 'spine_mid',
        'spine3': 'spine_chest', 'neck': 'neck', 'head': 'head',
        **{
            f'{side}_{k}': f'{side}_{v}'
            for side in ('left', 'right')
            for k, v in (
                ('hip', 'hip_smpl'), ('knee', 'knee'), ('ankle', 'ankle'), ('foot', 'toe'),
                ('collar', 'collar'), ('shoulder', 'shoulder'), ('elbow', 'elbow'),
                ('wrist', 'wrist'), ('hand', 'hand'),
            )
        },
    },
    'coco17': {
        'nose': 'nose',
        **{
            f'{side}_{k}': f'{side}_{k}'
            for side in ('left', 'right')
            for k in ('eye', 'ear', 'shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle')
        },
    },
}  # fmt: skip


def _dir(abd: np.ndarray, flex: np.ndarray, side: float) -> np.ndarray:
    """Limb direction ``(T, 3)`` from sideways (``abd``) and forward (``flex``) raise angles.

    Hanging down at 0, 0; ``side`` is +1 for the left, -1 for the right.
    """
    return np.stack(
        [side * np.sin(abd), -np.cos(abd) * np.cos(flex), np.cos(abd) * np.sin(flex)], -1
    )


def sample_subject(rng: np.random.Generator) -> Dict[str, float]:
    """Random body and style of one subject.

    Args:
        rng (np.random.Generator): Random source.

    Returns:
        dict: Height, limb proportions, speed, amplitude and noise level.

    """
    h = rng.uniform(1.5, 1.92)
    p = lambda: rng.uniform(0.93, 1.07)  # noqa: E731
    return dict(
        height=h, leg=p(), torso=p(), arm=p(), shoulder=p(), hip=p(),
        speed=rng.uniform(0.7, 1.35), amp=rng.uniform(0.75, 1.2),
        noise=rng.uniform(0.008, 0.02), posture=rng.uniform(-0.12, 0.12),
    )  # fmt: skip


def _motion(action: str, T: int, subj: Dict, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Joint-angle tracks ``(T,)`` of one clip."""
    t = np.arange(T) / 30.0
    speed = subj['speed'] * rng.uniform(0.85, 1.15)
    amp = subj['amp'] * rng.uniform(0.85, 1.15)
    phase = rng.uniform(0, 2 * np.pi)
    # the action happens inside a window; outside it the body idles
    start = rng.uniform(0.0, 0.25) * T
    stop = T - rng.uniform(0.0, 0.2) * T
    ramp = np.clip(np.minimum(np.arange(T) - start, stop - np.arange(T)) / 6.0, 0, 1)
    z = np.zeros(T)
    m = dict(
        la_abd=z + 0.12 + 0.05 * rng.standard_normal(), la_flex=z + subj['posture'],
        ra_abd=z + 0.12 + 0.05 * rng.standard_normal(), ra_flex=z + subj['posture'],
        lf_abd=z + 0.1, lf_flex=z + 0.25 + subj['posture'],
        rf_abd=z + 0.1, rf_flex=z + 0.25 + subj['posture'],
        ll_flex=z, rl_flex=z, lk=z + 0.05, rk=z + 0.05,
        bend=z + 0.05 * rng.standard_normal(), rise=z.copy(),
        sway=0.015 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6)),
    )  # fmt: skip
    s = lambda f: np.sin(2 * np.pi * f * speed * t + phase)  # noqa: E731
    pos = lambda f: 0.5 * (1 - np.cos(2 * np.pi * f * speed * t + phase))  # noqa: E731
    w = ramp * amp
    if action in ('wave_right_hand', 'wave_left_hand'):
        a = 'ra' if action == 'wave_right_hand' else 'la'
        f = 'rf' if a == 'ra' else 'lf'
        m[a + '_abd'] = m[a + '_abd'] + w * 1.45
        m[a + '_flex'] = m[a + '_flex'] + w * 0.3
        m[f + '_abd'] = m[f + '_abd'] + w * (2.6 + 0.35 * s(1.6))
        m[f + '_flex'] = m[f + '_flex'] + w * 0.2
    elif action == 'clap':
        for a, f in (('la', 'lf'), ('ra', 'rf')):
            m[a + '_flex'] = m[a + '_flex'] + w * 1.0
            m[a + '_abd'] = m[a + '_abd'] + w * (0.25 + 0.2 * s(1.8))
            m[f + '_flex'] = m[f + '_flex'] + w * 1.3
            m[f + '_abd'] = m[f + '_abd'] + w * (-0.1 + 0.25 * s(1.8) - 0.35)
    elif action == 'punch':
        for k, (a, f) in enumerate((('la', 'lf'), ('ra', 'rf'))):
            hit = pos(1.2) if k == 0 else 1 - pos(1.2)
            m[a + '_flex'] = m[a + '_flex'] + w * (0.5 + 0.9 * hit)
            m[f + '_flex'] = m[f + '_flex'] + w * 1.35
            m[a + '_abd'] = m[a + '_abd'] - w * 0.05
    elif action == 'kick':
        kick = pos(0.9) ** 2
        m['rl_flex'] = m['rl_flex'] + w * 1.2 * kick
        m['rk'] = m['rk'] + w * 0.6 * (1 - kick) * (kick > 0.05)
        m['la_abd'] = m['la_abd'] + w * 0.3
        m['ra_abd'] = m['ra_abd'] + w * 0.3
    elif action == 'squat':
        d = pos(0.55)
        for leg, knee in (('ll', 'lk'), ('rl', 'rk')):
            m[leg + '_flex'] = m[leg + '_flex'] + w * 1.2 * d
            m[knee] = m[knee] + w * 2.0 * d
        m['bend'] = m['bend'] + w * 0.45 * d
        m['la_flex'] = m['la_flex'] + w * 1.2 * d
        m['ra_flex'] = m['ra_flex'] + w * 1.2 * d
    elif action == 'jump':
        j = np.clip(s(0.9), 0, None)
        c = np.clip(-s(0.9), 0, None)
        m['rise'] = m['rise'] + w * 0.22 * j**1.5
        for leg, knee in (('ll', 'lk'), ('rl', 'rk')):
            m[leg + '_flex'] = m[leg + '_flex'] + w * 0.5 * c
            m[knee] = m[knee] + w * 0.9 * c
        m['la_flex'] = m['la_flex'] + w * (1.2 * j - 0.4 * c)
        m['ra_flex'] = m['ra_flex'] + w * (1.2 * j - 0.4 * c)
    elif action == 'bow':
        b = pos(0.45)
        m['bend'] = m['bend'] + w * 1.0 * b
        m['la_flex'] = m['la_flex'] + w * 0.4 * b
        m['ra_flex'] = m['ra_flex'] + w * 0.4 * b
    elif action == 'raise_both_arms':
        r = pos(0.5)
        for a, f in (('la', 'lf'), ('ra', 'rf')):
            m[a + '_abd'] = m[a + '_abd'] + w * 2.6 * r
            m[a + '_flex'] = m[a + '_flex'] + w * 0.3 * r
            m[f + '_abd'] = m[f + '_abd'] + w * 2.7 * r
    elif action == 'walk_in_place':
        st = s(0.9)
        m['ll_flex'] = m['ll_flex'] + w * 0.7 * np.clip(st, 0, None)
        m['rl_flex'] = m['rl_flex'] + w * 0.7 * np.clip(-st, 0, None)
        m['lk'] = m['lk'] + w * 1.2 * np.clip(st, 0, None)
        m['rk'] = m['rk'] + w * 1.2 * np.clip(-st, 0, None)
        m['la_flex'] = m['la_flex'] - w * 0.4 * st
        m['ra_flex'] = m['ra_flex'] + w * 0.4 * st
    else:
        raise ValueError(f'unknown action {action!r}; expected one of {ACTIONS}')
    return m


def animate(action: str, T: int, subj: Dict, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Landmark trajectories of one clip in the body frame.

    Args:
        action (str): One of :data:`ACTIONS`.
        T (int): Frames (30 fps).
        subj (dict): From :func:`sample_subject`.
        rng (np.random.Generator): Random source (phase, timing).

    Returns:
        dict[str, np.ndarray]: Landmark name -> ``(T, 3)`` metres (x left, y up, z forward).

    """
    h = subj['height']
    m = _motion(action, T, subj, rng)
    thigh = shin = 0.245 * h * subj['leg']
    ankle_h = 0.04 * h
    torso = 0.29 * h * subj['torso']
    upper, fore = 0.17 * h * subj['arm'], 0.15 * h * subj['arm']
    sh_w, hip_w = 0.13 * h * subj['shoulder'], 0.055 * h * subj['hip']
    # pelvis height follows the legs (knee bend lowers it) unless in the air
    leg_h = thigh * np.cos(np.maximum(m['ll_flex'], m['rl_flex']) * 0.5) + shin * np.cos(
        0.5 * np.maximum(m['lk'], m['rk'])
    )
    pelvis = np.stack([m['sway'], leg_h + ankle_h + m['rise'], 0 * m['sway']], -1)
    up = np.stack([0 * m['bend'], np.cos(m['bend']), np.sin(m['bend'])], -1)
    fwd = np.stack([0 * m['bend'], -np.sin(m['bend']), np.cos(m['bend'])], -1)
    x = np.array([1.0, 0, 0])
    L: Dict[str, np.ndarray] = {'pelvis': pelvis}
    L['pelvis_smpl'] = pelvis - 0.02 * h * up
    L['spine_low'] = pelvis + 0.12 * torso * up
    L['spine_mid'] = pelvis + 0.45 * torso * up
    L['spine_chest'] = pelvis + 0.72 * torso * up
    L['neck_base'] = pelvis + torso * up
    L['neck'] = L['neck_base'] + 0.05 * h * up
    L['head'] = L['neck_base'] + 0.13 * h * up
    L['nose'] = L['head'] + 0.055 * h * fwd - 0.01 * h * up
    for side, sg in (('left', 1.0), ('right', -1.0)):
        a, f = ('la', 'lf') if sg > 0 else ('ra', 'rf')
        leg, knee = ('ll', 'lk') if sg > 0 else ('rl', 'rk')
        L[f'{side}_eye'] = L['head'] + 0.04 * h * fwd + sg * 0.018 * h * x + 0.01 * h * up
        L[f'{side}_ear'] = L['head'] + sg * 0.045 * h * x
        L[f'{side}_collar'] = L['neck_base'] + sg * 0.45 * sh_w * x - 0.01 * h * up
        sh = L['neck_base'] + sg * sh_w * x - 0.02 * h * up
        L[f'{side}_shoulder'] = sh
        d_up = _dir(m[a + '_abd'], m[a + '_flex'], sg)
        d_fo = _dir(m[f + '_abd'], m[f + '_flex'], sg)
        L[f'{side}_elbow'] = sh + upper * d_up
        L[f'{side}_wrist'] = L[f'{side}_elbow'] + fore * d_fo
        L[f'{side}_hand'] = L[f'{side}_wrist'] + 0.04 * h * d_fo
        L[f'{side}_hand_tip'] = L[f'{side}_wrist'] + 0.09 * h * d_fo
        L[f'{side}_thumb'] = L[f'{side}_wrist'] + 0.045 * h * d_fo - sg * 0.02 * h * x
        hip = pelvis + sg * hip_w * x
        L[f'{side}_hip'] = hip
        L[f'{side}_hip_smpl'] = hip - 0.03 * h * np.array([0, 1.0, 0]) + sg * 0.01 * h * x
        d_th = _dir(0.04 + 0 * m[leg + '_flex'], m[leg + '_flex'], sg)
        d_sh = _dir(0.02 + 0 * m[leg + '_flex'], m[leg + '_flex'] - m[knee], sg)
        L[f'{side}_knee'] = hip + thigh * d_th
        L[f'{side}_ankle'] = L[f'{side}_knee'] + shin * d_sh
        L[f'{side}_toe'] = L[f'{side}_ankle'] + np.array([0, -ankle_h, 0.08 * h])
    return L


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def render_clip(
    action: str,
    T: int,
    subj: Dict,
    rng: np.random.Generator,
    image_size: Tuple[int, int] = (1920, 1080),
    focal: float = 1050.0,
) -> Dict[str, Dict[str, np.ndarray]]:
    """One clip in every demo format.

    Args:
        action (str): One of :data:`ACTIONS`.
        T (int): Frames.
        subj (dict): From :func:`sample_subject`.
        rng (np.random.Generator): Random source (timing, camera, noise).
        image_size (tuple[int, int]): ``(W, H)`` of the 2D camera. Defaults to 1920x1080.
        focal (float): Focal length in pixels. Defaults to 1050.

    3D formats are in the Kinect frame (x to the camera's left, y up, z depth; ``smpl24``
    in MeTRAbs' x right, y down), 2D formats the view of an ordinary pinhole camera (u right,
    v down: a person facing the camera has the right shoulder at the smaller u), as video
    and KARD are; NTU's colour frame, a mirror image, is un-mirrored by
    ``tools/data/ntu_skeleton_to_pkl.py``.

    Returns:
        dict: Format name -> annotation fields: ``keypoint`` float32 ``(1, T, V, C)``
        (C = 3 for 3D, 2 for 2D), and for 2D ``keypoint_score (1, T, V)`` and
        ``img_shape (H, W)``.

    """
    L = animate(action, T, subj, rng)
    yaw = rng.uniform(-np.pi / 4, np.pi / 4)
    R = _rot_y(np.pi + yaw)  # the person faces the camera (camera z points away from it)
    offset = np.array([rng.uniform(-0.4, 0.4), -rng.uniform(0.7, 1.1), rng.uniform(2.6, 3.6)])
    cam = {k: v @ R.T + offset for k, v in L.items()}  # Kinect-like: x, y up, z depth
    out = {}
    for name, table in FORMAT_LANDMARKS.items():
        fmt = get_format(name)
        pts = np.stack([cam[table[j]] for j in fmt.joints], axis=1)  # (T, V, 3)
        pts = pts + rng.normal(0, subj['noise'], pts.shape)
        if name == 'smpl24':
            pts = pts * np.array([-1.0, -1.0, 1.0])  # camera frame with y down (MeTRAbs)
        if fmt.is_2d:
            W, H = image_size
            uv = np.stack(
                [
                    W / 2 - focal * pts[..., 0] / pts[..., 2],  # x points to the left
                    H / 2 - focal * pts[..., 1] / pts[..., 2],
                ],
                -1,
            )
            uv = uv + rng.normal(0, 2.0, uv.shape)
            score = np.clip(rng.normal(0.85, 0.08, uv.shape[:2]), 0.05, 1.0)
            out[name] = dict(
                keypoint=uv[None].astype(np.float32),
                keypoint_score=score[None].astype(np.float32),
                img_shape=(H, W),
            )
        else:
            out[name] = dict(keypoint=pts[None].astype(np.float32))
    return out


def make_demo_annotations(
    num_subjects: int = 10,
    num_reps: int = 2,
    num_train_subjects: int = 6,
    frames: Tuple[int, int] = (40, 80),
    seed: int = 0,
) -> Dict[str, Dict]:
    """The demo dataset: one annotation dict per format, same clips and frames in each.

    Args:
        num_subjects (int): Subjects. Defaults to 10.
        num_reps (int): Repetitions per subject and action. Defaults to 2.
        num_train_subjects (int): Subjects ``1..k`` form ``xsub_train``, the rest
            ``xsub_val``. Defaults to 6.
        frames (tuple[int, int]): Range of clip lengths. Defaults to ``(40, 80)``.
        seed (int): Seed; the output is a pure function of the arguments. Defaults to 0.

    Returns:
        dict[str, dict]: Format name -> ``{'split': ..., 'annotations': [...]}``.

    """
    rng = np.random.default_rng(seed)
    subjects = [sample_subject(rng) for _ in range(num_subjects)]
    per_fmt: Dict[str, List[dict]] = {n: [] for n in FORMAT_LANDMARKS}
    split = {'xsub_train': [], 'xsub_val': []}
    for s, subj in enumerate(subjects, start=1):
        for rep in range(1, num_reps + 1):
            for a, action in enumerate(ACTIONS):
                clip_rng = np.random.default_rng([seed, s, rep, a])
                T = int(clip_rng.integers(frames[0], frames[1] + 1))
                frame_dir = f'P{s:03d}R{rep:03d}A{a + 1:03d}'
                views = render_clip(action, T, subj, clip_rng)
                for name, fields in views.items():
                    per_fmt[name].append(
                        dict(frame_dir=frame_dir, label=a, total_frames=T, **fields)
                    )
                split['xsub_train' if s <= num_train_subjects else 'xsub_val'].append(frame_dir)
    return {n: dict(split={k: list(v) for k, v in split.items()}, annotations=anns)
            for n, anns in per_fmt.items()}  # fmt: skip
