import copy
import os
import pickle

import numpy as np
import pytest

from msclr_mm.datasets.annotations import (
    AnnotationError,
    UnsafePickleError,
    check_alignment,
    load_annotation_file,
    validate_annotations,
)


def make_ann(frame_dir='c0', label=1, T=6, V=25, C=3, M=1, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        frame_dir=frame_dir,
        label=label,
        total_frames=T,
        keypoint=rng.normal(size=(M, T, V, C)).astype(np.float32),
    )


def make_data(n=3, **kw):
    anns = [make_ann(f'c{i}', label=i, seed=i, **kw) for i in range(n)]
    return dict(split=dict(train=['c0', 'c1'], val=['c2']), annotations=anns)


def make_2d(n=2):
    anns = []
    for i in range(n):
        a = make_ann(f'c{i}', label=i, V=17, C=2, seed=i)
        a['keypoint_score'] = np.ones(a['keypoint'].shape[:3], np.float32)
        a['img_shape'] = (1080, 1920)
        anns.append(a)
    return dict(split=dict(train=['c0']), annotations=anns)


def test_valid_file_roundtrip(tmp_path):
    data = make_data()
    path = tmp_path / 'k.pkl'
    path.write_bytes(pickle.dumps(data, protocol=4))
    loaded = load_annotation_file(str(path))
    assert loaded['split'] == data['split']
    np.testing.assert_array_equal(
        loaded['annotations'][1]['keypoint'], data['annotations'][1]['keypoint']
    )
    assert validate_annotations(loaded, 'kinect25', str(path)) == []
    assert validate_annotations(make_2d(), 'coco17') == []


@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_numpy_pickles_of_every_protocol_load(tmp_path, protocol):
    data = make_data()
    data['annotations'][0]['label'] = np.int64(0)
    data['annotations'][0]['extra'] = np.float32(2.5)
    path = tmp_path / 'k.pkl'
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    loaded = load_annotation_file(str(path))
    assert loaded['annotations'][0]['extra'] == np.float32(2.5)
    validate_annotations(loaded, 'kinect25', str(path))


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null',))


def test_unsafe_pickle_is_refused_not_executed(tmp_path):
    marker = tmp_path / 'ran'

    class Touch:
        def __reduce__(self):
            return (open, (str(marker), 'w'))

    data = make_data()
    data['annotations'][0]['evil'] = Touch()
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(UnsafePickleError, match=r'refusing to load (io|builtins)\.open') as info:
        load_annotation_file(str(path))
    assert str(path) in str(info.value)
    assert not marker.exists()
    path.write_bytes(pickle.dumps({'split': {}, 'annotations': [_Evil()]}))
    with pytest.raises(UnsafePickleError, match=r'posix\.system|os\.system'):
        load_annotation_file(str(path))


@pytest.mark.parametrize(
    'content, fragment',
    [
        (lambda: pickle.dumps(make_data())[:200], 'truncated'),
        (lambda: b'this is not a pickle at all', 'not a readable pickle'),
        (lambda: pickle.dumps([1, 2]), 'top level is a list'),
        (lambda: pickle.dumps({'annotations': []}), "missing top-level key 'split'"),
        (lambda: pickle.dumps({'split': {}}), "missing top-level key 'annotations'"),
        (lambda: pickle.dumps({'split': [], 'annotations': []}), 'expected a dict'),
    ],
)
def test_bad_files(tmp_path, content, fragment):
    path = tmp_path / 'bad.pkl'
    path.write_bytes(content())
    with pytest.raises(AnnotationError, match=fragment) as info:
        load_annotation_file(str(path))
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(AnnotationError, match='file not found'):
        load_annotation_file(str(tmp_path / 'nope.pkl'))


def _set(key, value):
    def f(data):
        data['annotations'][1][key] = value

    return f


def _del(key):
    def f(data):
        del data['annotations'][1][key]

    return f


def _kp(fn):
    def f(data):
        a = data['annotations'][1]
        a['keypoint'] = fn(a['keypoint'])

    return f


def _nan(kp):
    kp = kp.copy()
    kp[0, 2, 3, 1] = np.nan
    return kp


def _inf(kp):
    kp = kp.copy()
    kp[0, 0, 0, 0] = np.inf
    return kp


BAD = [
    (_set('label', -1), 'label', 'expected an integer >= 0'),
    (_set('label', 1.5), 'label', 'expected an integer >= 0'),
    (_set('label', True), 'label', 'expected an integer >= 0'),
    (_del('label'), 'label', 'missing'),
    (_del('keypoint'), 'keypoint', 'missing'),
    (_set('total_frames', 0), 'total_frames', 'empty sequence'),
    (_set('total_frames', 7), 'keypoint', 'T=6 frames but total_frames=7'),
    (_set('total_frames', '6'), 'total_frames', 'expected an integer'),
    (_kp(lambda k: k[0]), 'keypoint', 'expected rank 4'),
    (_kp(lambda k: k[:, :, :24]), 'keypoint', 'has 24 joints'),
    (_kp(lambda k: k[..., :2]), 'keypoint', 'a 3D format expects C=3'),
    (_kp(lambda k: k[:, :0]), 'keypoint', 'empty sequence'),
    (_kp(lambda k: k[:0]), 'keypoint', 'empty sequence'),
    (_kp(_nan), 'keypoint', 'NaN/inf'),
    (_kp(_inf), 'keypoint', 'NaN/inf'),
    (_kp(lambda k: k.tolist()), 'keypoint', 'expected a numeric numpy array'),
    (_kp(lambda k: k.astype(object)), 'keypoint', 'expected a numeric numpy array'),
]


@pytest.mark.parametrize('mutate, field, fragment', BAD)
def test_bad_annotations(mutate, field, fragment):
    data = make_data()
    mutate(data)
    with pytest.raises(AnnotationError, match=fragment) as info:
        validate_annotations(data, 'kinect25', 'ntu.pkl')
    exc = info.value
    assert exc.field == field
    assert exc.frame_dir == 'c1'
    assert exc.fmt == 'kinect25'
    msg = str(exc)
    assert (
        msg.startswith('ntu.pkl') and "'c1'" in msg and "'kinect25'" in msg and f"'{field}'" in msg
    )


BAD_2D = [
    (lambda d: d['annotations'][1].pop('img_shape'), 'img_shape', 'needs img_shape'),
    (
        lambda d: d['annotations'][1].__setitem__('img_shape', (0, 5)),
        'img_shape',
        'needs img_shape',
    ),
    (
        lambda d: d['annotations'][1].__setitem__('keypoint_score', np.ones((1, 6, 16))),
        'keypoint_score',
        r'expected \(1, 6, 17\)',
    ),
    (
        lambda d: d['annotations'][1].__setitem__('keypoint_score', np.full((1, 6, 17), np.nan)),
        'keypoint_score',
        'NaN/inf',
    ),
    (
        lambda d: d['annotations'][1].pop('keypoint_score'),
        'keypoint',
        'a 2D format expects C=3',
    ),
]


@pytest.mark.parametrize('mutate, field, fragment', BAD_2D)
def test_bad_2d_annotations(mutate, field, fragment):
    data = make_2d()
    mutate(data)
    with pytest.raises(AnnotationError, match=fragment) as info:
        validate_annotations(data, 'coco17', 'coco.pkl')
    assert info.value.field == field and info.value.frame_dir == 'c1'


def test_2d_with_fixed_image_size_needs_no_img_shape():
    data = make_2d()
    for a in data['annotations']:
        a['keypoint'] = np.zeros((1, 6, 25, 3), np.float32)  # score merged as channel 3
        del a['keypoint_score'], a['img_shape']
    assert validate_annotations(data, 'kinect25_2d') == []


def test_duplicates_and_unknown_split_ids():
    data = make_data()
    data['annotations'].append(copy.deepcopy(data['annotations'][0]))
    data['split']['val'].append('ghost')
    with pytest.raises(AnnotationError, match='duplicate frame_dir') as info:
        validate_annotations(data, 'kinect25', 'x.pkl')
    assert info.value.frame_dir == 'c0'
    problems = validate_annotations(data, 'kinect25', 'x.pkl', collect=True)
    assert [p.field for p in problems] == ['frame_dir', 'split']
    assert "split 'val' names 1 sample(s)" in str(problems[1]) and 'ghost' in str(problems[1])


def test_collect_returns_all_problems():
    data = make_data()
    data['annotations'][0]['label'] = -3
    data['annotations'][2]['keypoint'] = data['annotations'][2]['keypoint'][..., :2]
    problems = validate_annotations(data, 'kinect25', 'x.pkl', collect=True)
    assert [(p.frame_dir, p.field) for p in problems] == [('c0', 'label'), ('c2', 'keypoint')]


def test_alignment():
    a, b = make_data(), make_data(V=24)
    assert check_alignment({'kinect25': a, 'smpl24': b}) == []
    b['annotations'][1]['total_frames'] = 9
    b['annotations'][2]['label'] = 7
    paths = {'kinect25': 'k.pkl', 'smpl24': 's.pkl'}
    with pytest.raises(
        AnnotationError,
        match="total_frames=9 in format 'smpl24' but total_frames=6 in format 'kinect25'",
    ) as info:
        check_alignment({'kinect25': a, 'smpl24': b}, paths)
    assert (
        info.value.frame_dir == 'c1' and info.value.path == 's.pkl' and 'k.pkl' in str(info.value)
    )
    problems = check_alignment({'kinect25': a, 'smpl24': b}, paths, collect=True)
    assert [(p.frame_dir, p.field) for p in problems] == [('c1', 'total_frames'), ('c2', 'label')]
