"""Spatial ops against plain per-sample numpy references that reuse the sampled parameters."""

import math

import numpy as np
import pytest
import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.data_preprocessors import AxisMask, Flip, GaussianNoise, Rotate, Shear
from msclr_mm.skeletons import get_format

FORMATS = ['kinect25', 'coco17']


def make_batch(fmt, n=6, M=2, T=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, M, T, fmt.num_joints, fmt.in_channels, generator=g)
    if fmt.is_2d:  # the score channel of a 2D format is in [0, 1]
        x[..., 2] = torch.rand(n, M, T, fmt.num_joints, generator=g)
    return x


def gen(seed=1):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- shear
@pytest.mark.parametrize('name', FORMATS)
def test_shear_matches_per_sample_reference(name):
    fmt = get_format(name)
    x = make_batch(fmt)
    op = Shear(amplitude=0.5, p=0.5)
    params = op.sample_params(x, fmt, gen())
    out = op.apply(x, params, fmt).numpy()
    A = params['matrix'].numpy()
    apply = params['apply'].numpy()
    assert 0 < apply.sum() < len(apply)  # both branches are exercised with this seed
    d = fmt.dim
    for i in range(x.shape[0]):
        data = x[i].numpy().astype(np.float64)
        if apply[i]:
            # the reference: np.dot(data (..., 3), R.T) with R = I + off-diagonals
            R = A[i]
            assert np.allclose(np.diag(R), 1)
            off = R[~np.eye(3, dtype=bool)]
            assert np.all(np.abs(off) <= 0.5) and np.all(off != 0)
            expected = data.copy()
            expected[..., :d] = np.dot(data[..., :d], R[:d, :d].T)
        else:
            assert np.array_equal(A[i], np.eye(3))
            expected = data
        np.testing.assert_allclose(out[i], expected, rtol=1e-5, atol=1e-5)
    if fmt.is_2d:
        assert torch.equal(torch.from_numpy(out[..., 2]), x[..., 2])  # score untouched


def test_shear_amplitude_zero_is_identity():
    fmt = get_format('kinect25')
    x = make_batch(fmt)
    assert torch.allclose(Shear(amplitude=0.0)(x, fmt, gen()), x)


# --------------------------------------------------------------------------- rotation
def reference_rotation(axis, angle):
    """AimCLR ``random_rotate.rotate``'s matrices (applied as ``seq @ R.T``)."""
    c, s = math.cos(angle), math.sin(angle)
    if axis == 0:
        return np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    if axis == 1:
        return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    return np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])


@pytest.mark.parametrize('name', FORMATS)
def test_rotate_matches_per_sample_reference(name):
    fmt = get_format(name)
    x = make_batch(fmt, n=12)
    op = Rotate(max_angle=30, minor_angle=1, p=0.5)
    params = op.sample_params(x, fmt, gen(2))
    out = op.apply(x, params, fmt).numpy()
    angles = params['angles'].numpy()
    main = params['main_axis'].numpy()
    apply = params['apply'].numpy()
    assert 0 < apply.sum() < len(apply)
    d = fmt.dim
    for i in range(x.shape[0]):
        data = x[i].numpy().astype(np.float64)
        deg = np.degrees(angles[i])
        if not apply[i]:
            assert np.all(deg == 0)
        elif fmt.is_2d:
            assert main[i] == 2 and deg[0] == 0 and deg[1] == 0 and 0 <= deg[2] <= 30
        else:
            for ax in range(3):
                assert 0 <= deg[ax] <= (30 if ax == main[i] else 1)
        coords = data[..., :3] if d == 3 else np.concatenate([data[..., :2], 0 * data[..., :1]], -1)
        for ax in range(3):  # the reference rotates about x, then y, then z
            coords = coords @ reference_rotation(ax, angles[i, ax]).T
        expected = data.copy()
        expected[..., :d] = coords[..., :d]
        np.testing.assert_allclose(out[i], expected, rtol=1e-5, atol=1e-5)


def test_rotate_main_axis_takes_all_three_values_and_preserves_lengths():
    fmt = get_format('kinect25')
    x = make_batch(fmt, n=64)
    op = Rotate()
    params = op.sample_params(x, fmt, gen(3))
    assert set(params['main_axis'].tolist()) == {0, 1, 2}
    out = op.apply(x, params, fmt)
    assert torch.allclose(out.norm(dim=-1), x.norm(dim=-1), atol=1e-5)
    big = params['angles'].max(dim=1).values
    assert math.radians(5) < float(big.max()) <= math.radians(30)


# --------------------------------------------------------------------------- flip
@pytest.mark.parametrize('name', FORMATS)
@pytest.mark.parametrize('mirror', [True, False])
def test_flip_matches_per_sample_reference(name, mirror):
    fmt = get_format(name)
    x = make_batch(fmt)
    op = Flip(p=0.5, mirror=mirror)
    params = op.sample_params(x, fmt, gen(4))
    out = op.apply(x, params, fmt).numpy()
    apply = params['apply'].numpy()
    assert 0 < apply.sum() < len(apply)
    for i in range(x.shape[0]):
        data = x[i].numpy()
        expected = data
        if apply[i]:
            expected = data[:, :, list(fmt.flip), :].copy()
            if mirror:
                expected[..., 0] *= -1
        np.testing.assert_allclose(out[i], expected)


def test_flip_maps_an_asymmetric_pose_to_its_mirror():
    """A Kinect pose with the left hand raised becomes one with the right hand raised."""
    fmt = get_format('kinect25')
    J = fmt.joints.index
    pose = np.zeros((fmt.num_joints, 3), np.float32)
    pose[J('ShoulderLeft')] = [0.2, 0.4, 0.0]
    pose[J('ShoulderRight')] = [-0.2, 0.4, 0.0]
    pose[J('ElbowLeft')] = [0.3, 0.6, 0.1]
    pose[J('WristLeft')] = [0.35, 0.9, 0.05]  # left hand up
    pose[J('ElbowRight')] = [-0.25, 0.15, 0.0]
    pose[J('WristRight')] = [-0.22, -0.1, 0.02]  # right hand down
    pose[J('HipLeft')] = [0.1, -0.3, 0.0]
    pose[J('HipRight')] = [-0.1, -0.3, 0.0]
    pose[J('Head')] = [0.01, 0.7, 0.03]
    x = torch.from_numpy(pose).expand(1, 1, 2, -1, -1).clone()
    out = Flip(p=1.0)(x, fmt, gen())[0, 0, 0].numpy()
    np.testing.assert_allclose(out[J('WristRight')], [-0.35, 0.9, 0.05])  # right hand up
    np.testing.assert_allclose(out[J('WristLeft')], [0.22, -0.1, 0.02])  # left hand down
    np.testing.assert_allclose(out[J('ElbowRight')], [-0.3, 0.6, 0.1])
    np.testing.assert_allclose(out[J('ShoulderLeft')], [0.2, 0.4, 0.0])
    np.testing.assert_allclose(out[J('Head')], [-0.01, 0.7, 0.03])  # the centre line mirrors
    # mirrored twice is the original
    twice = Flip(p=1.0)(Flip(p=1.0)(x, fmt, gen()), fmt, gen())
    assert torch.equal(twice, x)


def test_flip_2d_permutes_the_score_with_its_joint():
    fmt = get_format('coco17')
    J = fmt.joints.index
    x = torch.zeros(1, 1, 1, fmt.num_joints, 3)
    x[..., J('left_wrist'), :] = torch.tensor([0.4, 0.1, 0.9])
    x[..., J('right_wrist'), :] = torch.tensor([-0.1, 0.2, 0.3])
    out = Flip(p=1.0)(x, fmt, gen())[0, 0, 0]
    assert torch.allclose(out[J('right_wrist')], torch.tensor([-0.4, 0.1, 0.9]))
    assert torch.allclose(out[J('left_wrist')], torch.tensor([0.1, 0.2, 0.3]))


# --------------------------------------------------------------------------- noise
@pytest.mark.parametrize('name', FORMATS)
def test_noise_matches_per_sample_reference(name):
    fmt = get_format(name)
    x = make_batch(fmt)
    op = GaussianNoise(std=0.01, p=0.5)
    params = op.sample_params(x, fmt, gen(5))
    out = op.apply(x, params, fmt).numpy()
    noise = params['noise'].numpy()
    apply = params['apply'].numpy()
    assert 0 < apply.sum() < len(apply)
    d = fmt.dim
    for i in range(x.shape[0]):
        expected = x[i].numpy().copy()
        if apply[i]:
            expected[..., :d] += noise[i]
        else:
            assert np.all(noise[i] == 0)
        np.testing.assert_allclose(out[i], expected, atol=1e-7)
    assert np.array_equal(out[..., d:], x[..., d:].numpy())  # a 2D score is untouched


def test_noise_has_the_requested_std():
    fmt = get_format('kinect25')
    x = torch.zeros(64, 2, 50, fmt.num_joints, 3)
    out = GaussianNoise(std=0.01, p=1.0)(x, fmt, gen(6))
    assert abs(float(out.std()) - 0.01) < 5e-4
    assert abs(float(out.mean())) < 5e-4


# --------------------------------------------------------------------------- axis mask
@pytest.mark.parametrize('name', FORMATS)
def test_axis_mask_matches_per_sample_reference(name):
    fmt = get_format(name)
    x = make_batch(fmt, n=16)
    op = AxisMask(p=0.5)
    params = op.sample_params(x, fmt, gen(7))
    out = op.apply(x, params, fmt).numpy()
    axis, apply = params['axis'].numpy(), params['apply'].numpy()
    assert 0 < apply.sum() < len(apply)
    assert set(axis.tolist()) == set(range(fmt.dim))  # never the score of a 2D format
    for i in range(x.shape[0]):
        expected = x[i].numpy().copy()
        if apply[i]:
            expected[..., axis[i]] = 0
        np.testing.assert_array_equal(out[i], expected)


def test_p_out_of_range_is_rejected():
    with pytest.raises(ValueError, match='p = 1.5'):
        Flip(p=1.5)


def test_selected_and_masked_application_agree():
    """The CPU path (compute the selected clips only) equals the accelerator path (where)."""
    from msclr_mm.models.data_preprocessors.base import apply_selected

    x = torch.randn(7, 2, 3, 4, 3)
    scale = torch.arange(1.0, 8.0)
    masks = (
        torch.tensor([1, 0, 1, 1, 0, 0, 1]).bool(),
        torch.ones(7).bool(),
        torch.zeros(7).bool(),
    )
    for apply in masks:

        def fn(clips, rows):
            return clips * scale[rows].view(-1, 1, 1, 1, 1)

        a = apply_selected(apply, x, fn, select=True)
        b = apply_selected(apply, x, fn, select=False)
        assert torch.equal(a, b)
        expected = torch.where(apply.view(-1, 1, 1, 1, 1), x * scale.view(-1, 1, 1, 1, 1), x)
        assert torch.equal(a, expected)


def test_xyz_rotation_equals_chained_rotation_matrices():
    from msclr_mm.models.data_preprocessors.spatial import rotation_matrix, xyz_rotation

    angles = (torch.rand(16, 3, generator=torch.Generator().manual_seed(0)) - 0.5) * 4
    chained = torch.eye(3).expand(16, 3, 3)
    for ax in range(3):  # x, then y, then z
        chained = torch.bmm(rotation_matrix(torch.full((16,), ax), angles[:, ax]), chained)
    assert torch.equal(xyz_rotation(angles), chained)
    # and it is a rotation
    r = xyz_rotation(angles)
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3).expand(16, 3, 3))
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(16))
