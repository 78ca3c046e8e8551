"""grouped_batch_norm: one packed tensor, BatchNorm statistics per group."""

import copy

import pytest
import torch
import torch.nn as nn

import msclr_mm  # noqa: F401
from msclr_mm.models.backbones.grouped_norm import grouped_batch_norm, pack_layout

# two formats (3 and 5 joints), two groups each with rows 6 and 4: a 10 x 8 rectangle
LAYOUT = pack_layout([(3, [(0, 6), (2, 4)]), (5, [(1, 6), (3, 4)])])


def groups(dtype=torch.double, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(6, 4, 7, 3), (6, 4, 7, 5), (4, 4, 7, 3), (4, 4, 7, 5)]
    # different means and scales per group: pooled statistics would be visibly wrong
    return [
        (torch.randn(s, generator=g, dtype=dtype) * (1 + i) + 2 * i).requires_grad_()
        for i, s in enumerate(shapes)
    ]


def pack(xs):
    return torch.cat([torch.cat([xs[0], xs[2]]), torch.cat([xs[1], xs[3]])], dim=3)


def block(y, g):
    (r0, r1), (v0, v1) = LAYOUT.rows[g], LAYOUT.cols[g]
    return y[r0:r1, :, :, v0:v1]


def make_bn(momentum=0.1, affine=True):
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(4, momentum=momentum, affine=affine).double()
    if affine:
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_()
    return bn


def test_layout_places_groups_in_columns():
    assert LAYOUT.rows == ((0, 6), (0, 6), (6, 10), (6, 10))
    assert LAYOUT.cols == ((0, 3), (3, 8), (0, 3), (3, 8))
    assert (LAYOUT.num_rows, LAYOUT.num_joints, LAYOUT.num_groups) == (10, 8, 4)
    with pytest.raises(ValueError, match='equal rows'):
        pack_layout([(3, [(0, 6)]), (5, [(1, 4)])])


@pytest.mark.parametrize('momentum,affine', [(0.1, True), (None, True), (0.3, False)])
def test_training_equals_one_batchnorm_call_per_group(momentum, affine):
    bn, ref = make_bn(momentum, affine), make_bn(momentum, affine)
    for step in range(2):  # twice: the running statistics start from non-trivial values
        xs = groups(seed=step)
        y = grouped_batch_norm(pack(xs), bn, LAYOUT)
        refs = [ref(x) for x in xs]  # in group order, as the separate passes run
        for g, r in enumerate(refs):
            torch.testing.assert_close(block(y, g), r, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(bn.running_mean, ref.running_mean, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(bn.running_var, ref.running_var, rtol=1e-12, atol=1e-12)
        assert bn.num_batches_tracked.item() == ref.num_batches_tracked.item() == 4 * (step + 1)
    # gradients of inputs and affine parameters
    w = torch.randn_like(y)
    params = [bn.weight, bn.bias] if affine else []
    ref_params = [ref.weight, ref.bias] if affine else []
    got = torch.autograd.grad((y * w).sum(), xs + params)
    want = torch.autograd.grad(
        sum((r * block(w, g)).sum() for g, r in enumerate(refs)), xs + ref_params
    )
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_pooled_statistics_would_differ():
    """The check above can fail: one BatchNorm over the packed tensor is not the same."""
    bn, ref = make_bn(), make_bn()
    xs = groups()
    pooled = ref(pack(xs))
    y = grouped_batch_norm(pack(xs), bn, LAYOUT)
    assert (y - pooled).abs().max() > 0.1


def test_eval_mode_uses_the_running_statistics():
    bn = make_bn()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    bn.eval()
    x = pack(groups())
    before = bn.running_mean.clone()
    y = grouped_batch_norm(x, bn, LAYOUT)
    torch.testing.assert_close(y, bn(x))
    assert torch.equal(bn.running_mean, before)


def test_channels_last_and_float32_inputs():
    bn, ref = make_bn().float(), make_bn().float()
    xs = [x.detach().float() for x in groups()]
    packed = pack(xs).contiguous(memory_format=torch.channels_last)
    y = grouped_batch_norm(packed, bn, LAYOUT)
    assert y.dtype == torch.float32
    assert y.is_contiguous(memory_format=torch.channels_last)  # the trunk's layout is kept
    for g, x in enumerate(xs):
        torch.testing.assert_close(block(y, g), ref(x), rtol=1e-5, atol=1e-5)


def test_bfloat16_input_keeps_its_dtype():
    bn = make_bn().float()
    ref = copy.deepcopy(bn)
    xs = [x.detach().float() for x in groups()]
    y = grouped_batch_norm(pack(xs).bfloat16(), bn, LAYOUT)
    assert y.dtype == torch.bfloat16
    for g, x in enumerate(xs):
        want = ref(x.bfloat16().float())
        torch.testing.assert_close(block(y, g).float(), want, rtol=2e-2, atol=2e-2)
