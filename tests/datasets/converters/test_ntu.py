import os.path as osp

import numpy as np
import pytest

from msclr_mm.datasets.converters.common import ConversionError
from msclr_mm.datasets.converters.ntu import (
    NTU60_XSUB_TRAIN,
    NTU120_XSUB_TRAIN,
    convert_skeleton_file,
    motion_energy,
    ntu_splits,
    parse_ntu_name,
    parse_skeleton_file,
    select_bodies,
    spread_noise_ratio,
)
from msclr_mm.skeletons import get_format

from .helpers import body_joints, make_clip, write_skeleton

V = get_format('kinect25').num_joints
IMG = get_format('kinect25_2d').image_size
TWO = 'S001C003P008R002A058'


def test_parse_real_two_person_file(shared_data):
    path = osp.join(shared_data, 'ntu_raw', f'{TWO}.skeleton')
    with open(path) as f:
        header = int(f.readline())
        f.readline()  # body count of frame 0
        f.readline()  # body info
        f.readline()  # joint count
        joint0 = [float(v) for v in f.readline().split()]
    T, bodies = parse_skeleton_file(path, V)
    assert T == header == 70
    assert len(bodies) >= 2
    np.testing.assert_allclose(bodies[0].joints[0, 0], joint0, rtol=1e-6)


def test_convert_real_two_person_clip(shared_data):
    path = osp.join(shared_data, 'ntu_raw', f'{TWO}.skeleton')
    ann3, ann2 = convert_skeleton_file(path, V, IMG)
    assert ann3['frame_dir'] == ann2['frame_dir'] == TWO
    assert ann3['label'] == ann2['label'] == 57
    assert ann3['total_frames'] == ann2['total_frames'] == 70
    assert ann3['keypoint'].shape == (2, 70, V, 3)
    assert ann2['keypoint'].shape == (2, 70, V, 2)
    assert ann2['keypoint_score'].shape == (2, 70, V)
    assert ann2['img_shape'] == (1080, 1920)
    # both bodies are real people on most frames
    assert (np.abs(ann3['keypoint']).sum((2, 3)) > 0).sum(1).min() > 60
    # the two people stand apart (shaking hands at arm's length)
    d = np.linalg.norm(ann3['keypoint'][0, 0, 0] - ann3['keypoint'][1, 0, 0])
    assert 0.5 < d < 2.0
    scores = np.unique(ann2['keypoint_score'])
    assert set(scores.tolist()) <= {0.0, 0.5, 1.0} and 1.0 in scores


def test_parse_ntu_name():
    assert parse_ntu_name('/x/S017C002P045R001A120.skeleton') == dict(
        setup=17, camera=2, subject=45, replication=1, action=120
    )
    with pytest.raises(ConversionError, match='NTU pattern'):
        parse_ntu_name('clip_001.skeleton')


def test_truncated_file_names_line(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    make_clip(p, num_frames=5)
    lines = p.read_text().splitlines()
    p.write_text('\n'.join(lines[:40]) + '\n')
    with pytest.raises(ConversionError, match=r'S001C001P001R001A001.skeleton \(line \d+\).*'
                       r'(truncated|ends early)'):  # fmt: skip
        parse_skeleton_file(str(p), V)


def test_wrong_joint_count(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    rng = np.random.default_rng(0)
    write_skeleton(p, [[('1', body_joints(rng, num_joints=20))]], num_joints=20)
    with pytest.raises(ConversionError, match='joint count 20, expected 25'):
        parse_skeleton_file(str(p), V)


def test_non_number_and_header(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    p.write_text('abc\n')
    with pytest.raises(ConversionError, match='frame count'):
        parse_skeleton_file(str(p), V)
    make_clip(p, num_frames=3)
    text = p.read_text().splitlines()
    text[4] = text[4].replace(text[4].split()[0], 'nan?', 1)
    p.write_text('\n'.join(text))
    with pytest.raises(ConversionError, match='non-number'):
        parse_skeleton_file(str(p), V)


def test_select_bodies_denoises_and_ranks(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    rng = np.random.default_rng(1)
    frames = []
    for t in range(30):
        bodies = [
            ('still', body_joints(rng, centre=(1, 0, 3))),
            ('moving', body_joints(rng, centre=(np.sin(t / 4), 0, 3))),
        ]
        if t < 5:  # a short-lived ghost that moves a lot
            bodies.append(('ghost', body_joints(rng, centre=(5 * t, 0, 3))))
        wide = body_joints(rng, centre=(-2 + 0.3 * t, 0, 3), height=0.3)
        wide[:, 0] += np.linspace(-1, 1, V)  # wider than tall: furniture
        bodies.append(('wide', wide))
        frames.append(bodies)
    write_skeleton(p, frames)
    _, bodies = parse_skeleton_file(str(p), V)
    by_id = {b.body_id: b for b in bodies}
    assert spread_noise_ratio(by_id['wide']) == 1.0
    assert spread_noise_ratio(by_id['moving']) == 0.0
    assert motion_energy(by_id['wide']) > motion_energy(by_id['moving'])
    assert motion_energy(by_id['moving']) > motion_energy(by_id['still'])
    chosen = select_bodies(bodies, max_bodies=2)
    assert [b.body_id for b in chosen] == ['moving', 'still']
    assert [b.body_id for b in select_bodies(bodies, max_bodies=1)] == ['moving']
    # without denoising, the wide body and the ghost would win
    raw = select_bodies(bodies, max_bodies=2, min_frames=0, spread_ratio=1e9)
    assert [b.body_id for b in raw] == ['ghost', 'wide']


def test_missing_frames_are_zero(tmp_path):
    p = tmp_path / 'S001C001P001R001A007.skeleton'
    rng = np.random.default_rng(2)
    frames = [[] for _ in range(3)] + [[('1', body_joints(rng, state=1))] for _ in range(15)]
    frames += [[] for _ in range(2)]
    write_skeleton(p, frames)
    ann3, ann2 = convert_skeleton_file(str(p), V, IMG)
    assert ann3['total_frames'] == 20 and ann3['keypoint'].shape == (1, 20, V, 3)
    assert not ann3['keypoint'][:, :3].any() and not ann3['keypoint'][:, 18:].any()
    assert (np.abs(ann3['keypoint'][0, 3:18]).sum((1, 2)) > 0).all()
    np.testing.assert_array_equal(ann2['keypoint_score'][0, 3:18], 0.5)  # inferred joints
    assert not ann2['keypoint_score'][0, :3].any()
    assert ann3['label'] == 6


def test_no_body_returns_none(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    write_skeleton(p, [[] for _ in range(4)])
    assert convert_skeleton_file(str(p), V, IMG) == (None, None)


def test_splits_ntu60_and_ntu120():
    names = ['S001C001P001R001A001', 'S001C002P003R001A002', 'S002C003P008R002A060']
    s = ntu_splits(names)
    assert s['xsub_train'] == ['S001C001P001R001A001', 'S002C003P008R002A060']
    assert s['xsub_val'] == ['S001C002P003R001A002']
    assert s['xview_train'] == names[1:] and s['xview_val'] == names[:1]
    assert 'xset_train' not in s
    names120 = names + ['S018C001P045R001A061', 'S017C001P044R001A100']
    s = ntu_splits(names120)
    assert 'xview_train' not in s
    assert s['xsub_train'] == [names120[0], names120[2], names120[3]]
    assert s['xsub_val'] == [names120[1], names120[4]]
    assert s['xset_train'] == [names120[2], names120[3]]  # setups 2 and 18
    assert 45 in NTU120_XSUB_TRAIN and 45 not in NTU60_XSUB_TRAIN
    assert len(NTU60_XSUB_TRAIN) == 20 and len(NTU120_XSUB_TRAIN) == 53
