import numpy as np
import pytest

from msclr_mm.evaluation import (
    DEFAULT_STREAM_COEFFS,
    accuracy_metrics,
    ensemble_formats,
    fuse_streams,
)

NAN = np.nan


def test_default_coefficients_are_the_papers():
    assert DEFAULT_STREAM_COEFFS == {'joint': 0.6, 'bone': 0.6, 'motion': 0.4}


def test_ensemble_averages_only_the_formats_a_clip_has():
    a = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.2, 0.6]])
    b = np.array([[0.0, 1.0, 0.0], [NAN, NAN, NAN], [0.4, 0.4, 0.2]])
    out = ensemble_formats({'kinect25': a, 'smplx42': b})
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4]])


def test_ensemble_refuses_a_clip_without_any_format():
    a = np.array([[1.0, 0.0], [NAN, NAN]])
    with pytest.raises(ValueError, match=r"clips \[1\] have scores in none of the formats \['k'\]"):
        ensemble_formats({'k': a})


def test_fuse_three_streams_hand_computed():
    joint = np.array([[0.2, 0.8], [0.9, 0.1]])
    bone = np.array([[0.6, 0.4], [0.3, 0.7]])
    motion = np.array([[0.5, 0.5], [0.0, 1.0]])
    out = fuse_streams({'joint': joint, 'bone': bone, 'motion': motion})
    # 0.6*0.2 + 0.6*0.6 + 0.4*0.5 = 0.68 ; 0.6*0.8 + 0.6*0.4 + 0.4*0.5 = 0.92
    # 0.6*0.9 + 0.6*0.3 + 0.4*0.0 = 0.72 ; 0.6*0.1 + 0.6*0.7 + 0.4*1.0 = 0.88
    np.testing.assert_allclose(out, [[0.68, 0.92], [0.72, 0.88]])
    # fusion changes the decision of clip 1: joint alone says class 0, the fusion class 1
    assert joint[1].argmax() == 0 and out[1].argmax() == 1


def test_fuse_averages_formats_within_each_stream():
    joint = {'k': np.array([[1.0, 0.0]]), 's': np.array([[0.0, 1.0]])}  # mean [0.5, 0.5]
    bone = {'k': np.array([[0.2, 0.8]]), 's': np.array([[NAN, NAN]])}  # only k: [0.2, 0.8]
    out = fuse_streams({'joint': joint, 'bone': bone}, {'joint': 1.0, 'bone': 2.0})
    np.testing.assert_allclose(out, [[0.5 + 0.4, 0.5 + 1.6]])


def test_fuse_needs_a_coefficient_per_stream_and_equal_shapes():
    with pytest.raises(KeyError, match=r"no fusion coefficient for streams \['acc'\]"):
        fuse_streams({'joint': np.ones((1, 2)), 'acc': np.ones((1, 2))})
    with pytest.raises(ValueError, match="stream 'bone' has scores of shape"):
        fuse_streams({'joint': np.ones((2, 2)), 'bone': np.ones((3, 2))})


def test_accuracy_metrics_hand_computed():
    labels = [0, 0, 0, 1, 2]
    scores = np.array(
        [
            [0.9, 0.05, 0.05, 0.0],  # 0 right
            [0.3, 0.6, 0.1, 0.0],  # 1 wrong, label 2nd
            [0.5, 0.2, 0.2, 0.1],  # 0 right
            [0.1, 0.7, 0.2, 0.0],  # 1 right
            [0.4, 0.3, 0.1, 0.2],  # 0 wrong, label 2 ranked 4th
        ]
    )
    m = accuracy_metrics(scores, labels, topk=(1, 2, 5))
    assert m['top1'] == pytest.approx(3 / 5)
    assert m['top2'] == pytest.approx(4 / 5)
    assert m['top5'] == pytest.approx(1.0)  # K=4 < 5: every label is in the top 5
    # class 0: 2/3, class 1: 1/1, class 2: 0/1 -> mean 5/9
    assert m['mean_class'] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_accuracy_ties_go_to_the_lower_class_like_argmax():
    m = accuracy_metrics(np.array([[0.5, 0.5], [0.5, 0.5]]), [0, 1], topk=(1,))
    assert m['top1'] == 0.5


def test_accuracy_refuses_nan_and_bad_shapes():
    with pytest.raises(ValueError, match='NaN'):
        accuracy_metrics(np.array([[NAN, 1.0]]), [0])
    with pytest.raises(ValueError, match=r'scores \(N, K\) and labels \(N,\)'):
        accuracy_metrics(np.ones((3, 2)), [0, 1])
