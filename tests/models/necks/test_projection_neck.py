import pytest
import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.necks import ProjectionNeck, global_pool


def test_global_pool_is_mean_over_persons_time_joints():
    feat = torch.zeros(1, 2, 3, 4, 5)
    feat[0, 0, 1] = 2.0  # person 0, channel 1
    feat[0, 1, 2, 0, 0] = 40.0  # person 1, channel 2, one position out of 20
    out = global_pool(feat)
    assert out.shape == (1, 3)
    torch.testing.assert_close(out, torch.tensor([[0.0, 1.0, 1.0]]))


def test_global_pool_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r'\(N, M, C, T, V\)'):
        global_pool(torch.zeros(2, 3, 4, 5))


def test_neck_is_linear_relu_linear_and_accepts_pooled_or_raw():
    neck = ProjectionNeck(in_channels=4, hid_channels=6, out_channels=3)
    assert [type(m).__name__ for m in neck.mlp] == ['Linear', 'ReLU', 'Linear']
    feat = torch.randn(2, 2, 4, 5, 7)
    pooled = global_pool(feat)
    expected = neck.mlp[2](torch.relu(neck.mlp[0](pooled)))
    torch.testing.assert_close(neck(feat), expected)
    torch.testing.assert_close(neck(pooled), expected)


def test_neck_with_bn_and_shape_errors():
    neck = ProjectionNeck(in_channels=4, hid_channels=6, out_channels=3, with_bn=True)
    assert [type(m).__name__ for m in neck.mlp] == ['Linear', 'BatchNorm1d', 'ReLU', 'Linear']
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        neck(torch.randn(2, 5))
