import os.path as osp

import numpy as np
import pytest

from msclr_mm.datasets import validate_annotations
from msclr_mm.datasets.converters.arrays import array_to_annotation, load_format_spec
from msclr_mm.datasets.converters.common import ConversionError, read_labels_csv
from msclr_mm.datasets.converters.landmarks import landmarks_to_annotations
from msclr_mm.skeletons import SkeletonFormatError, get_format
from msclr_mm.skeletons.subsets import get_subset, register_subset


def _reference(shared_data):
    z = np.load(osp.join(shared_data, 'video', 'kinetics_armwrestling.mediapipe.npz'))
    return {k: z[k] for k in z.files}


def test_blazepose_coco_subset_is_flip_consistent():
    idx = get_subset('blazepose33_2d', 'coco17')
    blaze, coco = get_format('blazepose33_2d'), get_format('coco17')
    assert len(idx) == coco.num_joints
    for i, j in enumerate(idx):
        assert blaze.flip[j] == idx[coco.flip[i]]
        assert blaze.joints[j] == coco.joints[i]  # same joint names in both conventions
    with pytest.raises(SkeletonFormatError, match='mirrors'):
        register_subset('blazepose33_2d', 'coco17', (0, 2, 6) + idx[3:])
    with pytest.raises(SkeletonFormatError, match='16 indices'):
        register_subset('blazepose33_2d', 'coco17', idx[:16])
    with pytest.raises(KeyError, match='no subset'):
        get_subset('coco17', 'kinect25')


def test_reference_landmarks_to_annotations(shared_data):
    ref = _reference(shared_data)
    anns = landmarks_to_annotations('arm', 3, ref)
    T = len(ref['found'])
    coco = anns['coco17']
    np.testing.assert_array_equal(coco['keypoint'][0], ref['coco17_2d'][..., :2])
    np.testing.assert_array_equal(coco['keypoint_score'][0], ref['coco17_2d'][..., 2])
    assert coco['img_shape'] == (256, 340)
    b2 = anns['blazepose33_2d']
    assert b2['keypoint'].shape == (1, T, 33, 2) and b2['keypoint_score'].shape == (1, T, 33)
    b3 = anns['blazepose33']
    assert b3['keypoint'].shape == (1, T, 33, 3) and 'keypoint_score' not in b3
    miss = ~ref['found']
    assert miss.sum() == 57
    for a in anns.values():
        assert a['total_frames'] == T and a['label'] == 3
        assert not a['keypoint'][0, miss].any()
        if 'keypoint_score' in a:
            assert not a['keypoint_score'][0, miss].any()
            assert (a['keypoint_score'][0, ~miss] > 0).any(-1).all()
    for name, a in anns.items():
        assert validate_annotations(dict(split={}, annotations=[a]), name, collect=True) == []


def test_landmarks_with_detections_but_garbage_on_missing_frames_are_zeroed():
    T = 4
    arrays = dict(
        blaze33_2d=np.full((T, 33, 3), 7.0, np.float32),
        blaze33_world=np.full((T, 33, 3), 7.0, np.float32),
        found=np.array([1, 0, 1, 0], bool),
        img_shape=np.array([10.0, 20.0]),
    )
    anns = landmarks_to_annotations('c', 0, arrays)
    assert not anns['blazepose33']['keypoint'][0, [1, 3]].any()
    assert (anns['blazepose33']['keypoint'][0, [0, 2]] == 7).all()
    arrays['blaze33_2d'] = arrays['blaze33_2d'][:, :17]
    with pytest.raises(ConversionError, match='blaze33_2d has shape'):
        landmarks_to_annotations('c', 0, arrays)


def test_array_to_annotation_checks_and_values():
    fmt = get_format('smplx42')
    arr = np.random.default_rng(0).normal(size=(10, 42, 3)).astype(np.float64)
    ann = array_to_annotation(arr, 'a', 2, fmt)
    assert ann['keypoint'].shape == (1, 10, 42, 3) and ann['keypoint'].dtype == np.float32
    np.testing.assert_allclose(ann['keypoint'][0], arr, rtol=1e-6)
    with pytest.raises(ConversionError, match=r"clip a, format 'smplx42'.*25 joints.*expected 42"):
        array_to_annotation(arr[:, :25], 'a', 2, fmt)
    with pytest.raises(ConversionError, match='2 channels'):
        array_to_annotation(arr[..., :2], 'a', 2, fmt)
    with pytest.raises(ConversionError, match='expected \\(T, V, C\\)'):
        array_to_annotation(arr[0], 'a', 2, fmt)
    bad = arr.copy()
    bad[3, 5, 1] = np.nan
    with pytest.raises(ConversionError, match='frame 3, joint 5'):
        array_to_annotation(bad, 'a', 2, fmt)
    fixed = array_to_annotation(bad, 'a', 2, fmt, nan_to_zero=True)
    assert not fixed['keypoint'][0, 3, 5].any() and fixed['keypoint'][0, 3, 4].all()
    coco = get_format('coco17')
    xy = np.ones((2, 5, 17, 2))
    with pytest.raises(ConversionError, match='--img-shape'):
        array_to_annotation(xy, 'b', 0, coco)
    ann = array_to_annotation(xy, 'b', 0, coco, img_shape=(480, 640))
    assert ann['keypoint_score'].shape == (2, 5, 17) and (ann['keypoint_score'] == 1).all()
    assert ann['img_shape'] == (480, 640)


def test_two_channel_2d_arrays_score_zero_padding_and_misses_as_missing():
    """(0, 0) is padding or a miss, not a joint in the image corner (score 0 there)."""
    from msclr_mm.datasets.normalize import normalize_clip

    coco = get_format('coco17')
    xy = np.random.default_rng(1).uniform(200, 400, size=(2, 6, 17, 2))
    xy[1] = 0  # an absent second person, zero-padded
    xy[0, :2] = 0  # frames without a detection
    xy[0, 3, 11] = 0  # one missed hip
    ann = array_to_annotation(xy, 'c', 0, coco, img_shape=(480, 640))
    score = ann['keypoint_score']
    assert not score[1].any() and not score[0, :2].any() and score[0, 3, 11] == 0
    assert score[0, 2:].sum() == 4 * 17 - 1
    # so the normalised clip is centred on the person, not on the image corner
    out = normalize_clip(ann['keypoint'], coco, score, ann['img_shape'], num_person=2)
    hips = list(coco.center_joints)
    np.testing.assert_allclose(out[0, 2, hips, :2].mean(0), 0, atol=1e-6)
    assert not out[1].any()


def test_load_format_spec_inline_json(tmp_path):
    spec = get_format('coco17').to_dict()
    spec['name'] = 'my_coco'
    p = tmp_path / 'my.json'
    import json

    p.write_text(json.dumps(spec))
    assert load_format_spec(str(p)).num_joints == 17
    with pytest.raises(ConversionError, match='unknown skeleton format'):
        load_format_spec('no_such_format')


@pytest.mark.parametrize(
    'text, match',
    [
        ('name,label\na,1\n', "lacks column\\(s\\) \\['filename'\\]"),
        ('filename,label\na.npy,x\n', "line 2 \\(a\\): label 'x'"),
        ('filename,label\na.npy,-1\n', 'non-negative'),
        ('filename,label\na.npy,1\na.npz,2\n', 'line 3: a listed twice'),
        ('filename,label\n', 'no rows'),
    ],
)
def test_bad_labels_csv(tmp_path, text, match):
    p = tmp_path / 'labels.csv'
    p.write_text(text)
    with pytest.raises(ConversionError, match=match):
        read_labels_csv(str(p))


def test_labels_csv_with_splits(tmp_path):
    p = tmp_path / 'labels.csv'
    p.write_text('filename,label,split\nclip1.npy,3,train\nclip2,0,val\n')
    rows = read_labels_csv(str(p))
    assert rows == {
        'clip1': {'label': '3', 'split': 'train'},
        'clip2': {'label': '0', 'split': 'val'},
    }
