"""Every algorithm computes the same step with the backbone's fuse_groups on or off."""

import copy

import pytest
import torch

from .helpers import build, clips, view

N = 4
Q_FMT = ['kinect25', 'smpl24', 'smpl24', 'kinect25']  # balanced: formats share one pack
K_FMT = ['smpl24', 'kinect25', 'kinect25', 'smpl24']


def batch():
    return {
        'query': view(clips(N, seed=1), Q_FMT),
        'query_extreme': view(clips(N, seed=2), Q_FMT),
        'key': view(clips(N, seed=3), K_FMT),
    }


@pytest.mark.parametrize('algo', ['SkeletonCLR', 'AimCLR', 'SkeleMixCLR'])
def test_same_losses_gradients_and_buffers(algo):
    plain = build(algo).double()
    fused = copy.deepcopy(plain)
    for model in (fused.backbone, fused.encoder_k.module['backbone']):
        model.fuse_groups = True
    calls = []
    fused.backbone.blocks[0].register_forward_hook(lambda m, a, o: calls.append(a[0].shape))
    inputs = batch()
    inputs = {
        v: {f: dict(g, keypoint=g['keypoint'].double()) for f, g in d.items()}
        for v, d in inputs.items()
    }
    losses = []
    for model in (plain, fused):
        torch.manual_seed(0)  # SkeleMixCLR draws its mixing on the CPU generator
        out = model.loss(inputs)
        sum(v for k, v in out.items() if 'loss' in k).backward()
        losses.append(out)
    for key, value in losses[0].items():
        torch.testing.assert_close(losses[1][key], value, rtol=1e-10, atol=1e-12, msg=key)
    for (name, p1), p2 in zip(plain.named_parameters(), fused.parameters()):
        if p1.grad is not None:
            torch.testing.assert_close(p2.grad, p1.grad, rtol=1e-8, atol=1e-9, msg=name)
    for (name, b1), b2 in zip(plain.named_buffers(), fused.buffers()):
        torch.testing.assert_close(b2, b1, rtol=1e-10, atol=1e-12, msg=name)
    # the query encoder's views of both formats went through one trunk pass: formats side
    # by side (25 + 24 joints), views stacked (rows: views x clips per format x persons)
    views = 2 if algo == 'AimCLR' else 1
    assert calls[0][0] == views * (N // 2) * 2
    assert calls[0][3] == 25 + 24
