import numpy as np
import pytest

from msclr_mm.datasets.demo_body import (
    ACTIONS,
    FORMAT_LANDMARKS,
    animate,
    make_demo_annotations,
    sample_subject,
)
from msclr_mm.datasets.normalize import normalize_clip
from msclr_mm.skeletons import get_format


@pytest.fixture(scope='module')
def demo():
    return make_demo_annotations(num_subjects=8, num_reps=2, num_train_subjects=5, seed=0)


def test_every_format_joint_maps_to_a_landmark():
    rng = np.random.default_rng(0)
    L = animate('clap', 10, sample_subject(rng), rng)
    for name, table in FORMAT_LANDMARKS.items():
        assert set(table) == set(get_format(name).joints), name
        assert set(table.values()) <= set(L), name


def test_deterministic_shapes_splits_aligned(demo):
    again = make_demo_annotations(num_subjects=8, num_reps=2, num_train_subjects=5, seed=0)
    other = make_demo_annotations(num_subjects=8, num_reps=2, num_train_subjects=5, seed=1)
    for f in FORMAT_LANDMARKS:
        for a, b in zip(demo[f]['annotations'], again[f]['annotations']):
            np.testing.assert_array_equal(a['keypoint'], b['keypoint'])
        first, changed = demo[f]['annotations'][0], other[f]['annotations'][0]
        assert first['keypoint'].shape != changed['keypoint'].shape or not np.allclose(
            first['keypoint'], changed['keypoint']
        )
    k, s, c = (demo[f]['annotations'] for f in ('kinect25', 'smpl24', 'coco17'))
    assert len(k) == 8 * 2 * len(ACTIONS) >= 8 * 2 * 8
    for a, b, d in zip(k, s, c):
        assert a['frame_dir'] == b['frame_dir'] == d['frame_dir']
        assert a['total_frames'] == b['total_frames'] == d['total_frames']
        assert a['keypoint'].shape == (1, a['total_frames'], 25, 3)
        assert b['keypoint'].shape == (1, a['total_frames'], 24, 3)
        assert d['keypoint'].shape == (1, a['total_frames'], 17, 2) and d['img_shape'] == (
            1080,
            1920,
        )
        assert d['keypoint_score'].shape == (1, a['total_frames'], 17)
    split = demo['kinect25']['split']
    train_subjects = {fd[:4] for fd in split['xsub_train']}
    val_subjects = {fd[:4] for fd in split['xsub_val']}
    assert (
        train_subjects == {f'P{i:03d}' for i in range(1, 6)} and not train_subjects & val_subjects
    )


def test_units_and_conventions(demo):
    k = demo['kinect25']['annotations'][0]['keypoint'][0]
    s = demo['smpl24']['annotations'][0]['keypoint'][0]
    c = demo['coco17']['annotations'][0]['keypoint'][0]
    fk, fs = get_format('kinect25'), get_format('smpl24')
    head, foot = fk.joints.index('Head'), fk.joints.index('FootLeft')
    assert k[:, head, 1].mean() > k[:, foot, 1].mean() + 1.0  # metres, y up
    sh, sf = fs.joints.index('head'), fs.joints.index('left_foot')
    assert s[:, sh, 1].mean() < s[:, sf, 1].mean() - 1.0  # metres, y down
    assert 2.0 < k[:, head, 2].mean() < 4.5  # in front of the camera
    assert (
        (c[..., 0] > 0).all()
        and (c[..., 0] < 1920).all()
        and (c[..., 1] > 0).all()
        and (c[..., 1] < 1080).all()
    )
    # a person facing the camera: the right shoulder on the camera's left in the Kinect
    # frame, on the right in MeTRAbs' (x right), and at the smaller u in an ordinary image
    # (as in video and KARD; NTU's colour frame is a mirror image, un-mirrored on conversion)
    fc = get_format('coco17')
    rk, lk = fk.joints.index('ShoulderRight'), fk.joints.index('ShoulderLeft')
    rs, ls = fs.joints.index('right_shoulder'), fs.joints.index('left_shoulder')
    rc, lc = fc.joints.index('right_shoulder'), fc.joints.index('left_shoulder')
    for a, b, d in zip(*(demo[f]['annotations'] for f in ('kinect25', 'smpl24', 'coco17'))):
        assert (a['keypoint'][0, :, rk, 0] > a['keypoint'][0, :, lk, 0]).mean() > 0.9
        assert (b['keypoint'][0, :, rs, 0] < b['keypoint'][0, :, ls, 0]).mean() > 0.9
        assert (d['keypoint'][0, :, rc, 0] < d['keypoint'][0, :, lc, 0]).mean() > 0.9
    # after normalisation the two 3D conventions agree on where the head is
    nk = normalize_clip(k[None], fk, num_person=1)[0]
    ns = normalize_clip(s[None], fs, num_person=1)[0]
    assert nk[:, head, 1].mean() > 0.5 and ns[:, sh, 1].mean() > 0.5


def test_camera_yaw_varies(demo):
    fk = get_format('kinect25')
    li, ri = fk.joints.index('HipLeft'), fk.joints.index('HipRight')
    yaws = []
    for a in demo['kinect25']['annotations']:
        d = a['keypoint'][0, 0, ri] - a['keypoint'][0, 0, li]
        yaws.append(np.degrees(np.arctan2(d[2], d[0])))
    assert np.ptp(yaws) > 40


def test_learnable_but_not_trivial(demo):
    """1-NN on normalised, resampled coordinates: far above chance, but below 100 %."""
    for f in ('kinect25', 'coco17'):
        fmt = get_format(f)
        d = demo[f]
        train = set(d['split']['xsub_train'])
        X, y, tr = [], [], []
        for a in d['annotations']:
            clip = normalize_clip(
                a['keypoint'], fmt, a.get('keypoint_score'), a.get('img_shape'), num_person=1
            )[0]
            idx = np.linspace(0, len(clip) - 1, 20).astype(int)
            X.append(clip[idx, :, : fmt.dim].ravel())
            y.append(a['label'])
            tr.append(a['frame_dir'] in train)
        X, y, tr = np.array(X), np.array(y), np.array(tr)
        dist = ((X[~tr, None] - X[None, tr]) ** 2).sum(-1)
        acc = (y[tr][dist.argmin(1)] == y[~tr]).mean()
        assert 0.4 < acc < 1.0, (f, acc)
