"""Temporal ops against plain per-sample numpy references that reuse the sampled parameters."""

import numpy as np
import pytest
import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.data_preprocessors import GaussianBlur, TemporalCrop, TimeFlip
from msclr_mm.skeletons import get_format

from .test_spatial import FORMATS, gen, make_batch


def reference_reflect_pad(data, pad):
    """The SkeletonCLR/AimCLR feeder's padding, on a (M, T, V, C) clip."""
    return np.concatenate([data[:, :pad][:, ::-1], data, data[:, -pad:][:, ::-1]], axis=1)


# --------------------------------------------------------------------------- crop
@pytest.mark.parametrize('name', FORMATS)
def test_temporal_crop_is_the_reference_crop(name):
    fmt = get_format(name)
    T = 50
    x = make_batch(fmt, n=16, T=T)
    op = TemporalCrop(padding_ratio=6)
    params = op.sample_params(x, fmt, gen(8))
    out = op.apply(x, params, fmt).numpy()
    pad = T // 6
    starts = params['start'].numpy()
    assert np.all(params['length'].numpy() == T)
    assert starts.min() >= 0 and starts.max() <= 2 * pad and len(set(starts.tolist())) > 4
    for i in range(x.shape[0]):
        padded = reference_reflect_pad(x[i].numpy(), pad)
        np.testing.assert_array_equal(out[i], padded[:, starts[i] : starts[i] + T])


def test_temporal_crop_whole_frame_shortcut_equals_the_general_path():
    fmt = get_format('kinect25')
    x = make_batch(fmt, n=16, T=50)
    op = TemporalCrop(padding_ratio=6, p=0.5)  # crop_ratio (1, 1): the shortcut
    params = op.sample_params(x, fmt, gen(3))
    assert 0 < params['apply'].sum() < 16
    fast = op.apply(x, params, fmt)
    op.crop_ratio = (1.0, 1.0 + 1e-9)  # the same windows through the interpolating path
    torch.testing.assert_close(fast, op.apply(x, params, fmt), rtol=0, atol=0)


@pytest.mark.parametrize('name', FORMATS)
def test_temporal_crop_resize_interpolates_linearly(name):
    fmt = get_format(name)
    T = 30
    x = make_batch(fmt, n=8, T=T)
    op = TemporalCrop(padding_ratio=6, crop_ratio=(0.5, 1.0), p=0.5)
    params = op.sample_params(x, fmt, gen(9))
    out = op.apply(x, params, fmt).numpy()
    pad = T // 6
    start, length = params['start'].numpy(), params['length'].numpy()
    apply = params['apply'].numpy()
    assert 0 < apply.sum() < len(apply)
    assert np.all(length[apply] >= 15) and np.all(length[apply] <= T) and np.any(length < T)
    for i in range(x.shape[0]):
        data = x[i].numpy().astype(np.float64)
        if not apply[i]:
            np.testing.assert_array_equal(out[i], data)
            continue
        padded = reference_reflect_pad(data, pad)
        window = padded[:, start[i] : start[i] + length[i]]
        pos = np.linspace(0, length[i] - 1, T)
        expected = np.empty_like(data)
        M, _, V, C = data.shape
        for m in range(M):
            for v in range(V):
                for c in range(C):
                    expected[m, :, v, c] = np.interp(pos, np.arange(length[i]), window[m, :, v, c])
        np.testing.assert_allclose(out[i], expected, rtol=1e-5, atol=1e-5)


def test_temporal_crop_without_padding_and_full_length_is_identity():
    fmt = get_format('kinect25')
    x = make_batch(fmt, T=10)
    assert torch.equal(TemporalCrop(padding_ratio=0)(x, fmt, gen()), x)


# --------------------------------------------------------------------------- time flip
def test_time_flip_matches_reference():
    fmt = get_format('kinect25')
    x = make_batch(fmt)
    op = TimeFlip(p=0.5)
    params = op.sample_params(x, fmt, gen(10))
    out = op.apply(x, params, fmt).numpy()
    apply = params['apply'].numpy()
    assert 0 < apply.sum() < len(apply)
    for i in range(x.shape[0]):
        data = x[i].numpy()
        np.testing.assert_array_equal(out[i], data[:, ::-1] if apply[i] else data)


# --------------------------------------------------------------------------- blur
@pytest.mark.parametrize('name', FORMATS)
@pytest.mark.parametrize('normalize', [False, True])
def test_gaussian_blur_matches_per_sample_reference(name, normalize):
    fmt = get_format(name)
    x = make_batch(fmt, n=8, T=20)
    op = GaussianBlur(kernel=15, sigma=(0.1, 2.0), p=0.5, normalize=normalize)
    params = op.sample_params(x, fmt, gen(11))
    out = op.apply(x, params, fmt).numpy()
    sigma, apply = params['sigma'].numpy(), params['apply'].numpy()
    assert 0 < apply.sum() < len(apply)
    assert sigma.min() >= 0.1 and sigma.max() <= 2.0
    d = fmt.dim
    k = np.arange(-7, 8)
    for i in range(x.shape[0]):
        data = x[i].numpy().astype(np.float64)
        expected = data.copy()
        if apply[i]:
            # the reference: exp(-k^2 / (2 sigma^2)), zero-padded correlation along time
            w = np.exp(-(k**2) / (2.0 * sigma[i] ** 2))
            if normalize:
                w = w / w.sum()
            M, T, V, _ = data.shape
            for m in range(M):
                for v in range(V):
                    for c in range(d):
                        expected[m, :, v, c] = np.convolve(data[m, :, v, c], w, mode='same')
        np.testing.assert_allclose(out[i], expected, rtol=1e-4, atol=1e-5)
    assert np.array_equal(out[..., d:], x[..., d:].numpy())  # a 2D score is untouched


def test_gaussian_blur_unnormalised_scales_like_the_reference():
    """The reference's taps are not normalised: a constant clip is scaled by their sum."""
    fmt = get_format('kinect25')
    x = torch.ones(2, 1, 40, fmt.num_joints, 3)
    op = GaussianBlur(p=1.0)
    params = op.sample_params(x, fmt, gen(12))
    out = op.apply(x, params, fmt)
    taps = params['weights'].sum(1)
    assert torch.allclose(out[:, 0, 20, 0, 0], taps)
    assert float(taps.max()) > 1.5  # sigma up to 2 gives a sum near 2 * sqrt(2 pi)
    normed = GaussianBlur(p=1.0, normalize=True)(x, fmt, gen(12))
    assert torch.allclose(normed[:, :, 7:-7], x[:, :, 7:-7])


def test_gaussian_blur_rejects_even_kernel():
    with pytest.raises(ValueError, match='odd'):
        GaussianBlur(kernel=4)
