"""Joint / bone / motion streams on a hand-made 3-joint format with known bones."""

import pytest
import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.data_preprocessors import bone_stream, convert_stream, motion_stream
from msclr_mm.skeletons import SkeletonFormat, get_format


def chain(dim=3, bones=None):
    """root (0, the centre) - mid (1) - tip (2)."""
    return SkeletonFormat(
        name=f'chain3_{dim}d',
        joints=('root', 'mid', 'tip'),
        edges=((0, 1), (1, 2)),
        center=0,
        flip=(0, 1, 2),
        parts=dict(trunk=(0, 1, 2), left_arm=(), right_arm=(), left_leg=(), right_leg=()),
        bones=bones,
        dim=dim,
    )


def clip(values):
    """(T, V, C) nested lists -> (1, 1, T, V, C)."""
    return torch.tensor(values, dtype=torch.float32)[None, None]


def test_bone_is_child_minus_parent_3d():
    fmt = chain()
    x = clip([[[1, 2, 3], [4, 6, 8], [5, 5, 5]]])
    out = bone_stream(x, fmt)[0, 0, 0]
    assert torch.equal(out, torch.tensor([[0.0, 0, 0], [3, 4, 5], [1, -1, -3]]))


def test_bone_uses_the_format_s_own_tree():
    # the same joints with both children hanging off the root
    fmt = SkeletonFormat(
        name='star3',
        joints=('root', 'a', 'b'),
        edges=((0, 1), (0, 2)),
        center=0,
        flip=(0, 1, 2),
        parts=dict(trunk=(0, 1, 2), left_arm=(), right_arm=(), left_leg=(), right_leg=()),
    )
    x = clip([[[1, 2, 3], [4, 6, 8], [5, 5, 5]]])
    out = bone_stream(x, fmt)[0, 0, 0]
    assert torch.equal(out, torch.tensor([[0.0, 0, 0], [3, 4, 5], [4, 3, 2]]))


def test_bone_2d_keeps_the_child_score():
    fmt = chain(dim=2)
    x = clip([[[1, 2, 0.9], [4, 6, 0.5], [5, 5, 0.1]]])
    out = bone_stream(x, fmt)[0, 0, 0]
    assert torch.allclose(out, torch.tensor([[0.0, 0, 0.9], [3, 4, 0.5], [1, -1, 0.1]]))


def test_motion_values_and_last_frame_zero():
    fmt = chain()
    x = clip(
        [
            [[0, 0, 0], [1, 1, 1], [2, 2, 2]],
            [[1, 0, 0], [1, 3, 1], [2, 2, 5]],
            [[3, 0, 1], [0, 3, 1], [2, 2, 5]],
        ]
    )
    out = motion_stream(x, fmt)[0, 0]
    assert torch.equal(out[0], torch.tensor([[1.0, 0, 0], [0, 2, 0], [0, 0, 3]]))
    assert torch.equal(out[1], torch.tensor([[2.0, 0, 1], [-1, 0, 0], [0, 0, 0]]))
    assert torch.equal(out[2], torch.zeros(3, 3))


def test_motion_2d_keeps_the_score():
    fmt = chain(dim=2)
    x = clip([[[0, 0, 0.2], [1, 1, 0.3], [2, 2, 0.4]], [[1, 2, 0.7], [1, 1, 0.8], [2, 0, 0.9]]])
    out = motion_stream(x, fmt)[0, 0]
    assert torch.allclose(out[0], torch.tensor([[1.0, 2, 0.2], [0, 0, 0.3], [0, -2, 0.4]]))
    assert torch.allclose(out[1], torch.tensor([[0.0, 0, 0.7], [0, 0, 0.8], [0, 0, 0.9]]))


def test_streams_accept_multi_clip_leading_dims_and_kinect_bones():
    fmt = get_format('kinect25')
    x = torch.randn(2, 3, 2, 5, 25, 3)  # (n, S, M, T, V, C)
    out = convert_stream(x, fmt, 'bone')
    for child, parent in fmt.bone_pairs():
        assert torch.equal(out[..., child, :], x[..., child, :] - x[..., parent, :])
    assert torch.equal(out[..., fmt.center, :], torch.zeros_like(out[..., 0, :]))
    bm = convert_stream(x, fmt, 'bone_motion')
    assert torch.equal(bm, motion_stream(bone_stream(x, fmt), fmt))
    assert torch.equal(convert_stream(x, fmt, 'joint'), x)


def test_unknown_stream_is_rejected():
    with pytest.raises(KeyError, match="unknown stream 'velocity'"):
        convert_stream(torch.zeros(1, 1, 2, 3, 3), chain(), 'velocity')
