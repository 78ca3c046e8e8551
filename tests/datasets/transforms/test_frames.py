import numpy as np
import pytest

from msclr_mm.datasets.transforms import GatherSkeletonViews, SampleSkeletonFrames


def test_training_indices_cover_the_clip_uniformly_with_jitter():
    t = SampleSkeletonFrames(clip_len=10)
    np.random.seed(0)
    draws = np.stack([t(dict(valid_frames=100))['frame_inds'][0] for _ in range(500)])
    assert draws.shape == (500, 10)
    assert (np.diff(draws, axis=1) > 0).all()  # increasing
    seg = draws // 10
    assert (seg == np.arange(10)).all()  # one frame per segment
    assert len(np.unique(draws[:, 0])) == 10  # jitter reaches every frame of a segment


def test_short_clip_repeats_frames_in_order():
    np.random.seed(1)
    inds = SampleSkeletonFrames(clip_len=50)(dict(valid_frames=7))['frame_inds'][0]
    assert inds.min() >= 0 and inds.max() <= 6 and (np.diff(inds) >= 0).all()
    assert set(inds.tolist()) == set(range(7))


def test_eval_is_deterministic_and_multi_clip():
    t = SampleSkeletonFrames(clip_len=5, num_clips=2, test_mode=True)
    a = t(dict(valid_frames=20))['frame_inds']
    np.random.seed(123)
    b = t(dict(valid_frames=20))['frame_inds']
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, [[1, 5, 9, 13, 17], [3, 7, 11, 15, 19]])


def test_gather_applies_the_same_frames_to_every_format():
    T = 30
    # each frame's values encode the frame number, so gathered frames can be read back
    skel = {
        'a': np.broadcast_to(np.arange(T, dtype=np.float16)[:, None, None, None], (T, 2, 25, 3)),
        'b': np.broadcast_to(
            np.arange(T, dtype=np.float16)[:, None, None, None] * 2, (T, 2, 17, 3)
        ),
    }
    results = dict(skeletons=skel, view_formats=dict(query='a', key='b'), valid_frames=T)
    np.random.seed(0)
    results = SampleSkeletonFrames(clip_len=8)(results)
    inds = results['frame_inds'][0]
    out = GatherSkeletonViews()(results)
    assert 'skeletons' not in out
    q, k = out['views']['query'], out['views']['key']
    assert q['format'] == 'a' and k['format'] == 'b'
    assert q['keypoint'].shape == (2, 8, 25, 3) and q['keypoint'].dtype == np.float32
    assert q['keypoint'].flags.c_contiguous
    np.testing.assert_array_equal(q['keypoint'][1, :, 4, 2], inds)
    np.testing.assert_array_equal(k['keypoint'][0, :, 0, 0], inds * 2)


def test_gather_in_float16_keeps_the_stores_values():
    rng = np.random.default_rng(0)
    skel = {'a': rng.normal(size=(20, 2, 25, 3)).astype(np.float16)}
    results = dict(skeletons=skel, view_formats=dict(q='a', k='a'), valid_frames=20)
    results = SampleSkeletonFrames(clip_len=8)(results)
    half = GatherSkeletonViews(dtype='float16')(dict(results, skeletons=skel))
    full = GatherSkeletonViews()(dict(results, skeletons=skel))
    x = half['views']['q']['keypoint']
    assert x.dtype == np.float16 and x.flags.c_contiguous and x.shape == (2, 8, 25, 3)
    np.testing.assert_array_equal(x.astype(np.float32), full['views']['q']['keypoint'])
    assert "dtype='float16'" in repr(GatherSkeletonViews(dtype='float16'))
    with pytest.raises(
        ValueError, match=r"dtype must be one of \('float32', 'float16'\), got 'int8'"
    ):
        GatherSkeletonViews(dtype='int8')


def test_sampled_positions_go_through_the_frame_index():
    index = np.array([3, 4, 9, 10, 11, 30])
    r = SampleSkeletonFrames(clip_len=6, test_mode=True)(dict(valid_frames=6, frame_index=index))
    np.testing.assert_array_equal(r['frame_inds'], [index])
    r = SampleSkeletonFrames(clip_len=12)(dict(valid_frames=6, frame_index=index))
    assert set(r['frame_inds'].ravel()) == set(index.tolist())
    assert (np.diff(r['frame_inds'][0]) >= 0).all()


def test_no_jitter_takes_the_test_positions_in_training():
    fixed = SampleSkeletonFrames(clip_len=10, jitter=False)
    test = SampleSkeletonFrames(clip_len=10, test_mode=True)
    draws = [fixed(dict(valid_frames=37))['frame_inds'] for _ in range(5)]
    for d in draws:
        np.testing.assert_array_equal(d, test(dict(valid_frames=37))['frame_inds'])
    assert 'jitter=False' in repr(fixed)


def test_gather_multi_clip_shape():
    skel = {'a': np.zeros((12, 2, 25, 3), np.float16)}
    r = SampleSkeletonFrames(clip_len=4, num_clips=3, test_mode=True)(
        dict(skeletons=skel, view_formats={'a': 'a'}, valid_frames=12)
    )
    assert GatherSkeletonViews()(r)['views']['a']['keypoint'].shape == (3, 2, 4, 25, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match='expected >= 1'):
        SampleSkeletonFrames(clip_len=0)
