import numpy as np
import pytest

from msclr_mm.datasets.normalize import facing_rotation, left_right_pairs, normalize_clip
from msclr_mm.skeletons import get_format


def rot_y(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def canonical_skeleton(fmt, T=5, seed=0):
    """A (T, V, 3) skeleton already in canonical pose: left hip at -x, up = +y, torso 0.5."""
    rng = np.random.default_rng(seed)
    P = rng.uniform(-0.4, 0.4, size=(fmt.num_joints, 3))
    hips, shoulders = fmt.scale_joints
    left, right = left_right_pairs(fmt)
    for j in hips:
        P[j] = [0.1 if j in right else -0.1, 0.0, 0.0]
    for j in shoulders:
        P[j] = [0.2 if fmt.flip[j] != j and j not in fmt.parts['left_arm'] else -0.2, 0.5, 0.0]
    motion = np.linspace(0, 0.3, T)[:, None, None] * np.array([0, 0, 1.0])  # walks along z
    return np.repeat(P[None], T, axis=0) + motion


@pytest.mark.parametrize('name', ['kinect25', 'smpl24', 'smplx42', 'mhad43', 'h36m17'])
def test_3d_centre_scale_facing(name):
    fmt = get_format(name)
    P0 = canonical_skeleton(fmt)
    # the same body as a sensor would see it: yawed, y-down camera, in millimetres, shifted
    R = np.diag([-1.0, -1.0, 1.0]) @ rot_y(0.9)
    raw = (P0 @ R.T) * 1000.0 + np.array([300.0, -200.0, 3000.0])
    out = normalize_clip(raw[None], fmt, num_person=2)
    assert out.shape == (2, 5, fmt.num_joints, 3) and out.dtype == np.float32
    origin = P0[0, list(fmt.center_joints)].mean(axis=0)
    expected = (P0 - origin) / 0.5
    np.testing.assert_allclose(out[0], expected, atol=1e-5)
    # the root is 0 in the first frame, the torso is 1 long, hips left->right along +x
    np.testing.assert_allclose(out[0, 0, list(fmt.center_joints)].mean(0), 0, atol=1e-6)
    hips, shoulders = fmt.scale_joints
    torso = out[0][:, list(shoulders)].mean(1) - out[0][:, list(hips)].mean(1)
    np.testing.assert_allclose(np.linalg.norm(torso, axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(
        torso / np.linalg.norm(torso, axis=-1, keepdims=True), [[0, 1, 0]] * 5, atol=1e-5
    )
    left, right = left_right_pairs(fmt)
    lr = out[0, 0, list(right)].mean(0) - out[0, 0, list(left)].mean(0)
    np.testing.assert_allclose(lr / np.linalg.norm(lr), [1, 0, 0], atol=1e-5)
    assert (out[1] == 0).all()  # padded person


def test_left_right_pairs_are_left_joints():
    for name in ('kinect25', 'smpl24', 'coco17', 'mhad43'):
        fmt = get_format(name)
        left, right = left_right_pairs(fmt)
        assert left and all('left' in fmt.joints[j].lower() for j in left), name
        assert all('right' in fmt.joints[j].lower() for j in right), name


def test_scale_is_robust_to_missing_and_outlier_frames():
    fmt = get_format('kinect25')
    P0 = canonical_skeleton(fmt, T=9)
    raw = P0.copy()
    raw[3] = 0  # a frame without the person
    raw[5, 4] = 0  # a missing shoulder
    raw[7, list(fmt.scale_joints[1])] += [0, 5.0, 0]  # one wild frame
    out = normalize_clip(raw[None], fmt)
    assert (out[0, 3] == 0).all() and (out[0, 5, 4] == 0).all()
    good = [0, 1, 2, 4, 6, 8]
    origin = P0[0, list(fmt.center_joints)].mean(axis=0)
    np.testing.assert_allclose(out[0, good], (P0[good] - origin) / 0.5, atol=1e-5)


def test_first_valid_frame_gives_the_origin():
    fmt = get_format('kinect25')
    P0 = canonical_skeleton(fmt)
    raw = np.zeros((3, 5, 25, 3))
    raw[1, 2:] = P0[2:]  # person 0 absent; person 1 appears at frame 2
    out = normalize_clip(raw, fmt, num_person=2)
    np.testing.assert_allclose(out[1, 2, fmt.center], 0, atol=1e-6)
    assert (out[0] == 0).all()


def test_2d_image_size_score_and_missing():
    fmt = get_format('coco17')
    rng = np.random.default_rng(1)
    xy = rng.uniform(200, 900, size=(1, 4, 17, 2))
    hips, shoulders = fmt.scale_joints
    xy[..., list(hips), :] = [[700, 800], [500, 800]]
    xy[..., list(shoulders), :] = [[720, 500], [480, 500]]
    score = rng.uniform(0.2, 1, size=(1, 4, 17))
    xy[0, 1, 3] = 0
    score[0, 1, 3] = 0  # a missing joint
    out = normalize_clip(xy, fmt, keypoint_score=score, img_shape=(1080, 1920))
    expected = (xy[0] - [600, 800]) / 300.0
    mask = score[0] > 0
    np.testing.assert_allclose(out[0, ..., :2][mask], expected[mask], atol=1e-5)
    np.testing.assert_allclose(out[0, ..., 2], score[0], atol=1e-6)
    assert (out[0, 1, 3] == 0).all()
    # merged score channel gives the same
    merged = np.concatenate([xy, score[..., None]], -1)
    np.testing.assert_allclose(normalize_clip(merged, fmt, img_shape=(1080, 1920)), out)


def test_raw_keeps_coordinates():
    fmt = get_format('kinect25')
    P0 = canonical_skeleton(fmt)
    out = normalize_clip(P0[None] * 7, fmt, num_person=1, raw=True)
    np.testing.assert_allclose(out[0], P0 * 7, rtol=1e-6)


def test_facing_rotation_is_proper_and_degenerate_cases():
    R = facing_rotation(np.array([0, 0, 2.0]), np.array([0, 3.0, 0]))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(R), 1)
    np.testing.assert_allclose(R @ [0, 0, 1], [0, 1, 0], atol=1e-12)
    assert facing_rotation(np.zeros(3), np.ones(3)) is None
    assert facing_rotation(np.array([0, 1.0, 0]), np.array([0, 2.0, 0])) is None


def test_canonical_orientation_of_real_ntu_3d_and_2d(shared_data):
    """Pins where the person's right and the head point after normalisation (real NTU).

    3D: the right shoulder at +x and the head at +y (the reference's alignment); 2D (as an
    ordinary camera sees it, the converter's default): the left shoulder at +u and the head
    at -v (image v down). README § Chirality relies on this; a change must be deliberate.
    """
    import glob
    import os.path as osp

    from msclr_mm.datasets.converters.ntu import convert_skeleton_file

    f3, f2 = get_format('kinect25'), get_format('kinect25_2d')
    right, left = f3.joints.index('ShoulderRight'), f3.joints.index('ShoulderLeft')
    head, base = f3.joints.index('Head'), f3.joints.index('SpineBase')
    files = sorted(glob.glob(osp.join(shared_data, 'ntu_raw', '*.skeleton')))
    assert len(files) == 11
    for path in files:
        a3, a2 = convert_skeleton_file(path, 25, f2.image_size)
        n3 = normalize_clip(a3['keypoint'], f3, num_person=2)[0]
        n2 = normalize_clip(
            a2['keypoint'], f2, a2['keypoint_score'], a2['img_shape'], num_person=2
        )[0]
        assert (n3[:, right, 0] - n3[:, left, 0]).mean() > 0.3, path
        assert (n3[:, head, 1] - n3[:, base, 1]).mean() > 1.0, path
        assert (n2[:, left, 0] - n2[:, right, 0]).mean() > 0.3, path
        assert (n2[:, head, 1] - n2[:, base, 1]).mean() < -1.0, path


def random_rotation(seed):
    """A proper 3D rotation drawn from a seed (QR of a Gaussian matrix)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_two_persons_facing_each_other_are_aligned_on_the_main_one():
    """The facing rotation must not depend on where the camera stood (two-person clips).

    Pooling both persons' left->right vectors (they point opposite ways) made the output
    follow the camera's yaw; the main person's alone removes it.
    """
    fmt = get_format('kinect25')
    P0 = canonical_skeleton(fmt, T=6)
    other = P0 @ rot_y(np.pi).T + np.array([0.0, 0.0, 1.2])  # facing person 0, 1.2 m away
    clip = np.stack([P0, other])
    outs = [
        normalize_clip((clip - 0.3) @ random_rotation(seed).T * 1000.0, fmt) for seed in range(4)
    ]
    for out in outs[1:]:
        np.testing.assert_allclose(out, outs[0], atol=2e-3)
    origin = P0[0, list(fmt.center_joints)].mean(axis=0)
    np.testing.assert_allclose(outs[0][0], (P0 - origin) / 0.5, atol=2e-3)  # main one canonical


def test_real_two_person_clip_is_rotation_invariant(shared_data):
    import os.path as osp

    from msclr_mm.datasets.converters.ntu import convert_skeleton_file

    path = osp.join(shared_data, 'ntu_raw', 'S001C003P008R002A058.skeleton')
    a3, _ = convert_skeleton_file(path, 25, (1920, 1080))
    kp = a3['keypoint'].astype(np.float64)
    assert kp.shape[0] == 2 and (np.abs(kp[1]).sum() > 0)
    present = np.any(kp != 0, axis=-1, keepdims=True)
    ref = normalize_clip(kp, get_format('kinect25'))
    # before 2026-12-01 (component-wise medians pooled over both persons) up to 0.2 apart
    for seed in range(6):
        turned = np.where(present, kp @ random_rotation(seed).T, 0.0)
        np.testing.assert_allclose(normalize_clip(turned, get_format('kinect25')), ref, atol=1e-4)


def test_origin_skips_a_frame_whose_centre_joint_was_missed():
    """A detector's missed hip is stored as 0: it must not become the origin's half."""
    fmt = get_format('coco17')
    rng = np.random.default_rng(0)
    uv = rng.uniform(400, 600, size=(1, 4, 17, 2))
    score = np.ones((1, 4, 17))
    hips = list(fmt.center_joints)
    uv[0, 0, hips[0]] = 0  # left hip missed on the first frame
    score[0, 0, hips[0]] = 0
    out = normalize_clip(uv, fmt, score, img_shape=(1000, 1000), num_person=1)
    # the origin is the hip midpoint of frame 1, the first frame with both hips
    np.testing.assert_allclose(out[0, 1, hips, :2].mean(0), 0, atol=1e-5)
    assert (out[0, 0, hips[0]] == 0).all()
    # no centre joint in any frame: the main person's first frame's present joints
    none = score.copy()
    none[:, :, hips] = 0
    uv2 = uv.copy()
    uv2[:, :, hips] = 0
    out2 = normalize_clip(uv2, fmt, none, img_shape=(1000, 1000), num_person=1)
    present = none[0, 0] > 0
    np.testing.assert_allclose(out2[0, 0, present, :2].mean(0), 0, atol=1e-5)


def test_reference_style_per_frame_centre_and_yaw():
    """center='frame' / align='frame': the references' relative, y-rotated input."""
    fmt = get_format('kinect25')
    T = 8
    P0 = canonical_skeleton(fmt, T=T)  # walks along z
    turn = np.linspace(0, 1.2, T)  # and turns about the vertical while walking
    body = np.stack([P0[t] @ rot_y(turn[t]).T for t in range(T)])
    raw = body * 1000.0 + np.array([300.0, -200.0, 3000.0])
    out = normalize_clip(raw[None], fmt, num_person=1, center='frame', align='frame')[0]
    c = list(fmt.center_joints)
    np.testing.assert_allclose(out[:, c].mean(1), 0, atol=1e-5)  # every frame centred
    left, right = left_right_pairs(fmt)
    lr = out[:, list(right)].mean(1) - out[:, list(left)].mean(1)
    np.testing.assert_allclose(lr[:, 2], 0, atol=1e-5)  # every frame faces the same way
    assert (lr[:, 0] > 0).all()
    # every frame is then the same body pose (the canonical one, centred)
    expected = (P0[0] - P0[0, c].mean(0)) / 0.5
    np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), atol=1e-4)
    # the clip-level default keeps the walk and the turn
    clip = normalize_clip(raw[None], fmt, num_person=1)[0]
    assert np.abs(clip[:, c].mean(1)).max() > 0.5
    with pytest.raises(ValueError, match="center='joint'"):
        normalize_clip(raw[None], fmt, center='joint')
    with pytest.raises(ValueError, match="align='yaw'"):
        normalize_clip(raw[None], fmt, align='yaw')
