"""Property-based tests (hypothesis): random inputs give a valid result or a clear error.

``validate_annotations`` on random shapes, dtypes and values (NaN, inf) and
``SkeletonDataPreprocessor`` on random batches (n, M, T, V, C of the built-in formats,
sometimes wrong) with random op parameters: either a valid output or an
``AnnotationError`` / ``ValueError`` naming the field, never an exception from deep in
numpy or torch.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msclr_mm.datasets import AnnotationError, validate_annotations
from msclr_mm.models.data_preprocessors import SkeletonDataPreprocessor
from msclr_mm.skeletons import get_format

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
FORMATS = ['kinect25', 'smpl24', 'coco17', 'h36m17']
FIELDS = ('keypoint', 'keypoint_score', 'label', 'total_frames', 'img_shape', 'frame_dir')


@st.composite
def annotation(draw):
    fmt = get_format(draw(st.sampled_from(FORMATS)))
    V = fmt.num_joints if draw(st.booleans()) else draw(st.integers(0, 30))
    C = (3 if fmt.is_2d else fmt.dim) if draw(st.booleans()) else draw(st.integers(0, 4))
    M, T = draw(st.integers(0, 2)), draw(st.integers(0, 6))
    rank = draw(st.sampled_from([4, 4, 4, 3, 5]))
    shape = (M, T, V, C)[:rank] + (2,) * max(0, rank - 4)
    dtype = draw(st.sampled_from([np.float32, np.float64, np.float16, np.int16, np.bool_, object]))
    kp = np.asarray(
        draw(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=1))[0]
        + np.arange(int(np.prod(shape))).reshape(shape)
    ).astype(dtype)
    if kp.size and dtype in (np.float32, np.float64, np.float16) and draw(st.booleans()):
        kp.flat[draw(st.integers(0, kp.size - 1))] = draw(st.sampled_from([np.nan, np.inf]))
    ann = dict(
        frame_dir=draw(st.sampled_from(['S001', '', 7])),
        label=draw(st.sampled_from([0, 3, -1, 2.0, True, '1'])),
        total_frames=draw(st.sampled_from([T, T + 1, 0, float(T)])),
        keypoint=kp,
    )
    if fmt.is_2d:
        ann['img_shape'] = draw(st.sampled_from([(1080, 1920), (0, 5), None, 'x']))
        if draw(st.booleans()):
            ann['keypoint_score'] = np.ones(shape[:3], np.float32)
    drop = draw(st.sampled_from([None, 'label', 'keypoint', 'total_frames']))
    if drop:
        ann.pop(drop)
    return fmt, dict(split={'train': ['S001']}, annotations=[ann])


@SETTINGS
@given(annotation())
def test_validate_annotations_valid_or_names_the_field(case):
    fmt, data = case
    try:
        validate_annotations(data, fmt, path='x.pkl')
    except AnnotationError as exc:
        message = str(exc)
        assert message.startswith('x.pkl')
        assert exc.field in FIELDS or exc.field == 'split', message
        assert f"field '{exc.field}'" in message, message
        says_what_is_expected = ('expected', 'expects', 'needs', f'has V={fmt.num_joints}')
        assert any(w in message for w in says_what_is_expected), message
        return
    ann = data['annotations'][0]
    kp = ann['keypoint']
    assert kp.ndim == 4 and kp.shape[2] == fmt.num_joints and np.isfinite(kp).all()
    assert kp.shape[1] == ann['total_frames'] > 0


OPS = st.lists(
    st.one_of(
        st.builds(
            lambda lo, w: dict(type='temporal_crop', crop_ratio=(lo, min(1.0, lo + w))),
            st.floats(0.05, 1.0),
            st.floats(0, 1),
        ),
        st.builds(lambda a: dict(type='shear', amplitude=a), st.floats(0, 2)),
        st.builds(lambda a: dict(type='rotate', max_angle=a), st.floats(0, 180)),
        st.builds(lambda p: dict(type='flip', p=p), st.floats(0, 1)),
        st.builds(lambda p: dict(type='time_flip', p=p), st.floats(0, 1)),
        st.builds(lambda s: dict(type='gaussian_noise', std=s, p=1.0), st.floats(0, 1)),
        st.builds(
            lambda k, s: dict(type='gaussian_blur', kernel=k, sigma=(s, s + 1), p=1.0),
            st.sampled_from([1, 3, 5, 15]),
            st.floats(0.1, 2),
        ),
        st.just(dict(type='axis_mask', p=1.0)),
    ),
    max_size=4,
)


@st.composite
def batch(draw):
    fmt = get_format(draw(st.sampled_from(FORMATS)))
    n, M, T = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 20))
    V = fmt.num_joints if draw(st.integers(0, 4)) else draw(st.integers(1, 30))
    C = fmt.in_channels if draw(st.integers(0, 4)) else draw(st.integers(1, 4))
    n_index = n if draw(st.integers(0, 4)) else n + 1
    x = torch.randn(n, M, T, V, C, generator=torch.Generator().manual_seed(draw(st.integers(0, 9))))
    stream = draw(st.sampled_from(['joint', 'bone', 'motion', 'bone_motion']))
    return fmt, x, n_index, draw(OPS), stream


@SETTINGS
@given(batch())
def test_augmentations_valid_batch_or_clear_error(case):
    fmt, x, n_index, ops, stream = case
    pre = SkeletonDataPreprocessor(views={'*': dict(ops=ops)}, stream=stream, seed=0)
    data = dict(
        inputs={'query': {fmt.name: dict(keypoint=x, index=torch.arange(n_index))}},
        data_samples=None,
    )
    try:
        out = pre(data, training=True)
    except ValueError as exc:
        message = str(exc)
        assert f"'{fmt.name}'" in message and 'keypoint' in message, message
        assert 'expected' in message or 'entries' in message, message
        return
    y = out['inputs']['query'][fmt.name]['keypoint']
    assert y.shape == x.shape and y.dtype == torch.float32
    assert torch.isfinite(y).all()
    assert x.shape[-2] == fmt.num_joints and x.shape[0] == n_index


def test_op_parameters_out_of_range_are_refused():
    with pytest.raises(ValueError, match='crop_ratio'):
        SkeletonDataPreprocessor(views={'*': [dict(type='temporal_crop', crop_ratio=(0, 1))]})
