"""tools/data/kard_to_pkl.py on the real KARD npz (skips when ../shared/data is absent)."""

import importlib.util
import os.path as osp

import numpy as np
import pytest

from msclr_mm.datasets.annotations import load_annotation_file, validate_annotations
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
    # values are the npz's, unchanged: world mm and u, v pixels, score 1 (valid depth)
    last = d3['annotations'][-1]
    np.testing.assert_array_equal(last['keypoint'][0], raw['data'][off[-2] :])
    np.testing.assert_array_equal(
        d2['annotations'][-1]['keypoint'][0], raw['screen_uvd'][off[-2] :, :, :2]
    )
    assert all((a['keypoint_score'] == 1).all() for a in d2['annotations'])
    assert sorted({a['label'] for a in d3['annotations']}) == list(range(18))
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
