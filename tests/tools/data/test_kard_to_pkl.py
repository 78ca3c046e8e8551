"""tools/data/kard_to_pkl.py on the real KARD npz (skips when ../shared/data is absent)."""

import importlib.util
import os.path as osp

import numpy as np
import pytest

from msclr_mm.datasets.annotations import load_annotation_file, validate_annotations
from msclr_mm.datasets.converters.ntu import convert_skeleton_file
from msclr_mm.datasets.normalize import normalize_clip
from msclr_mm.skeletons import get_format
from tests.conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location(
    'kard_to_pkl', osp.join(REPO_ROOT, 'tools', 'data', 'kard_to_pkl.py')
)
kard_to_pkl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kard_to_pkl)


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    src = osp.join(osp.dirname(REPO_ROOT), 'shared', 'data', 'kard', 'kard_15j.npz')
    if not osp.isfile(src):
        pytest.skip(f'real KARD data {src} is absent')
    out = tmp_path_factory.mktemp('kard')
    assert kard_to_pkl.main([src, '--out-dir', str(out)]) == 0
    with np.load(src) as z:
        raw = {k: z[k] for k in ('data', 'screen_uvd', 'offsets', 'label', 'subject', 'names')}
    return src, out, raw


def test_openni15_formats():
    f3d, f2d = get_format('openni15'), get_format('openni15_2d')
    assert f3d.joints[f3d.center] == 'torso' and f3d.unit == 'mm' and f3d.dim == 3
    assert f2d.dim == 2 and f2d.image_size == (640, 480)
    # flip swaps the named sides: right shoulder <-> left shoulder, right foot <-> left foot
    for j, name in enumerate(f3d.joints):
        mirrored = name.replace('right', 'LEFT').replace('left', 'right').replace('LEFT', 'left')
        assert f3d.joints[f3d.flip[j]] == mirrored
    hips, shoulders = f3d.scale_joints
    assert {f3d.joints[j] for j in hips} == {'right_hip', 'left_hip'}
    assert {f3d.joints[j] for j in shoulders} == {'right_shoulder', 'left_shoulder'}


def test_kard_conversion(converted):
    src, out, raw = converted
    off = raw['offsets']
    d3 = load_annotation_file(str(out / 'openni15.pkl'))
    d2 = load_annotation_file(str(out / 'openni15_2d.pkl'))
    assert validate_annotations(d3, 'openni15', collect=True) == []
    assert validate_annotations(d2, 'openni15_2d', collect=True) == []
    assert len(d3['annotations']) == len(d2['annotations']) == 540
    assert d3['split'] == d2['split']
    train, test = set(d3['split']['train']), set(d3['split']['test'])
    assert len(train) == len(test) == 270 and not train & test
    for i, (a3, a2) in enumerate(zip(d3['annotations'], d2['annotations'])):
        T = int(off[i + 1] - off[i])
        assert a3['frame_dir'] == a2['frame_dir'] == raw['names'][i][:11]
        assert a3['total_frames'] == a2['total_frames'] == T
        assert a3['keypoint'].shape == (1, T, 15, 3) and a2['keypoint'].shape == (1, T, 15, 2)
        assert a3['label'] == a2['label'] == raw['label'][i] - 1
        assert (a3['frame_dir'] in train) == bool(raw['subject'][i] % 2)
    # values are the npz's: world mm with x negated (right-handed), u, v pixels unchanged,
    # score 1 (valid depth)
    last = d3['annotations'][-1]
    flipped = raw['data'][off[-2] :] * np.array([-1, 1, 1], np.float32)
    np.testing.assert_array_equal(last['keypoint'][0], flipped)
    np.testing.assert_array_equal(
        d2['annotations'][-1]['keypoint'][0], raw['screen_uvd'][off[-2] :, :, :2]
    )
    assert all((a['keypoint_score'] == 1).all() for a in d2['annotations'])
    assert sorted({a['label'] for a in d3['annotations']}) == list(range(18))
    assert 'right-handed' in d3['meta']['axes'] and 'v down' in d2['meta']['axes']
    # a second run refuses to overwrite
    assert kard_to_pkl.main([src, '--out-dir', str(out)]) == 1


def test_kard_bad_offsets(tmp_path, capsys):
    n, T = 2, 5
    bad = dict(
        data=np.zeros((2 * T, 15, 3), np.float32),
        screen_uvd=np.ones((2 * T, 15, 3), np.float32),
        offsets=np.array([0, T, 2 * T + 1]),
        label=np.array([1, 2]),
        subject=np.array([1, 2]),
        names=np.array(['a01_s01_e01_realworld.txt', 'a02_s02_e01_realworld.txt']),
    )
    assert len(bad['label']) == n
    np.savez(tmp_path / 'bad.npz', **bad)
    assert kard_to_pkl.main([str(tmp_path / 'bad.npz'), '--out-dir', str(tmp_path / 'o')]) == 1
    err = capsys.readouterr().err
    assert 'bad.npz' in err and 'offsets' in err
    assert not (tmp_path / 'o' / 'openni15.pkl').exists()
    bad['offsets'] = np.array([0, T, 2 * T])
    bad['label'] = np.array([1, 19])
    np.savez(tmp_path / 'bad.npz', **bad)
    assert kard_to_pkl.main([str(tmp_path / 'bad.npz'), '--out-dir', str(tmp_path / 'o')]) == 1
    err = capsys.readouterr().err
    assert 'a02_s02_e01' in err and 'label' in err


def test_world_to_right_handed_negates_x_only():
    xyz = np.array([[[10.0, 20.0, 3000.0], [0.0, 0.0, 0.0], [-5.0, 1.0, 2.0]]], np.float64)
    out = kard_to_pkl.world_to_right_handed(xyz)
    assert out.dtype == np.float32 and out.shape == xyz.shape
    np.testing.assert_array_equal(out, [[[-10, 20, 3000], [0, 0, 0], [5, 1, 2]]])
    assert not np.signbit(out[0, 1]).any()  # a missing joint stays +0, not -0
    assert xyz[0, 0, 0] == 10.0  # the input is not modified


# KARD labels (1-based): 9 forward kick, 13 hand clap; NTU-60 action 10 clapping.
KARD_KICK, KARD_CLAP = 9 - 1, 13 - 1
NTU_CLAP = 'S001C001P001R001A010'
OPENNI = dict(r_shoulder=2, l_shoulder=5, r_hand=4, l_hand=7, r_foot=11, l_foot=14)
KINECT = dict(r_shoulder=8, l_shoulder=4, r_hand=11, l_hand=7)  # 0-based kinect25


def _canonical(ann, fmt_name):
    """The clip as the dataset caches it: ``(T, V, 3)`` of its first person."""
    return normalize_clip(ann['keypoint'], get_format(fmt_name), num_person=1)[0]


def _hands_in_front(n, j):
    """Median over frames of (hands' z - shoulders' z); < 0 when the hands are at -z."""
    hands = (n[:, j['r_hand'], 2] + n[:, j['l_hand'], 2]) / 2
    shoulders = (n[:, j['r_shoulder'], 2] + n[:, j['l_shoulder'], 2]) / 2
    return float(np.median(hands - shoulders))


@pytest.fixture(scope='module')
def ntu_clap():
    """NTU's real clapping clip as a kinect25 annotation (skips when the file is absent)."""
    path = osp.join(osp.dirname(REPO_ROOT), 'shared', 'data', 'ntu_raw', f'{NTU_CLAP}.skeleton')
    if not osp.isfile(path):
        pytest.skip(f'real NTU file {path} is absent')
    ann3, _ = convert_skeleton_file(path, 25, (1920, 1080))
    return ann3


def test_kard_faces_the_way_ntu_faces_after_normalisation(shared_data, converted, ntu_clap):
    """KARD's world frame is right-handed: its people face -z after normalisation, as NTU's.

    Normalisation rotates (det +1) so that hips go left -> right along +x and the torso along
    +y; what is in front of a person then lies at -z for every right-handed 3D format. A
    mirrored (left-handed) KARD would face +z: every kick and every clap below flips sign.
    """
    _, out, _ = converted
    anns = load_annotation_file(str(out / 'openni15.pkl'))['annotations']
    kicks = [a for a in anns if a['label'] == KARD_KICK]
    claps = [a for a in anns if a['label'] == KARD_CLAP]
    assert len(kicks) == len(claps) == 30
    # a forward kick: the foot that moves most moves towards -z
    for a in kicks:
        n = _canonical(a, 'openni15')
        disp = {j: n[:, j] - n[0, j] for j in (OPENNI['r_foot'], OPENNI['l_foot'])}
        foot = max(disp, key=lambda j: np.linalg.norm(disp[j], axis=-1).max())
        t = int(np.argmax(np.linalg.norm(disp[foot], axis=-1)))
        assert disp[foot][t, 2] < -0.5, (a['frame_dir'], disp[foot][t])
    # clapping: the hands are in front of the shoulders, on the same side as NTU's
    ntu = _hands_in_front(_canonical(ntu_clap, 'kinect25'), KINECT)
    assert ntu < -0.2
    kard = {a['frame_dir']: _hands_in_front(_canonical(a, 'openni15'), OPENNI) for a in claps}
    assert all(v < 0 for v in kard.values()), kard
    assert np.median(list(kard.values())) < -0.3, (kard, ntu)


def test_kard_left_and_right_lie_as_in_ntu_sensor_frame(shared_data, converted, ntu_clap):
    """Facing the sensor, a person's right shoulder has the larger x in NTU and in KARD."""
    _, out, _ = converted
    anns = load_annotation_file(str(out / 'openni15.pkl'))['annotations']
    kp = np.concatenate([a['keypoint'][0] for a in anns])
    kard = np.mean(kp[:, OPENNI['r_shoulder'], 0] > kp[:, OPENNI['l_shoulder'], 0])
    k = ntu_clap['keypoint'][0]
    ntu = np.mean(k[:, KINECT['r_shoulder'], 0] > k[:, KINECT['l_shoulder'], 0])
    assert ntu > 0.95 and kard > 0.95


def test_kard_depth_image_is_an_ordinary_view(converted):
    """In KARD's depth image (kept as recorded) the right shoulder is at the smaller u.

    The 2D convention of every source (README § Chirality); NTU's mirrored colour frame is
    brought to it by ``ntu_skeleton_to_pkl.py``.
    """
    _, out, _ = converted
    anns = load_annotation_file(str(out / 'openni15_2d.pkl'))['annotations']
    kp = np.concatenate([a['keypoint'][0] for a in anns])
    assert np.mean(kp[:, OPENNI['r_shoulder'], 0] < kp[:, OPENNI['l_shoulder'], 0]) > 0.95
