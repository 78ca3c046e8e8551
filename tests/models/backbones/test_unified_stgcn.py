import importlib

import pytest
import torch
import torch.nn as nn

import msclr_mm  # noqa: F401  (applies the stack fixes)
from msclr_mm.models.backbones import EnergyAttentionDrop, UnifiedSTGCN
from msclr_mm.skeletons import get_format


def mmaction_module(name):
    """Import a module under ``mmaction.models`` (msclr_mm.compat makes that work)."""
    return importlib.import_module(name)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_registered_in_mmaction_models():
    from mmaction.registry import MODELS

    mmaction_module('mmaction.models.backbones')  # the registry imports mmaction.models
    assert MODELS.module_dict['UnifiedSTGCN'] is UnifiedSTGCN
    net = MODELS.build(dict(type='UnifiedSTGCN', formats=['kinect25']))
    assert isinstance(net, UnifiedSTGCN)


def test_default_is_quarter_width_stgcn():
    net = UnifiedSTGCN()
    assert n_params(net) == 821_380
    assert [b.out_channels for b in net.blocks] == [16, 16, 16, 16, 32, 32, 32, 64, 64, 256]
    assert [b.tcn_conv.stride[0] for b in net.blocks] == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert [b.drop.p for b in net.blocks] == [0.0] + [0.5] * 9
    assert net.blocks[0].residual is None
    assert net.stems['kinect25'].A.shape == (3, 25, 25)
    assert len(net.stems['kinect25'].importance) == 10


def test_full_width_matches_mmaction2_stgcn():
    STGCN = mmaction_module('mmaction.models.backbones.stgcn').STGCN
    ref = STGCN(graph_cfg=dict(layout='coco', mode='stgcn_spatial'))
    ours = UnifiedSTGCN(formats=['coco17'], channels=(64,) * 4 + (128,) * 3 + (256,) * 3, dropout=0)
    assert n_params(ours) == n_params(ref) == 3_073_284
    assert sorted(tuple(p.shape) for p in ours.parameters()) == sorted(
        tuple(p.shape) for p in ref.parameters()
    )
    # the adjacency buffers are the same graph
    torch.testing.assert_close(ours.stems['coco17'].A, ref.gcn[0].gcn.A)
    x = torch.randn(2, 2, 20, 17, 3)
    assert ours.eval()(x, 'coco17').shape == ref.eval()(x).shape == (2, 2, 256, 5, 17)


def test_full_width_equals_mmaction2_stgcn_values():
    """With the weights copied one to one, the outputs are the same."""
    STGCN = mmaction_module('mmaction.models.backbones.stgcn').STGCN
    torch.manual_seed(0)
    ref = STGCN(graph_cfg=dict(layout='coco', mode='stgcn_spatial')).eval()
    ours = UnifiedSTGCN(
        formats=['coco17'], channels=(64,) * 4 + (128,) * 3 + (256,) * 3, dropout=0
    ).eval()
    stem = ours.stems['coco17']
    with torch.no_grad():
        stem.data_bn.load_state_dict(ref.data_bn.state_dict())
        for i, (b, rb) in enumerate(zip(ours.blocks, ref.gcn)):
            b.gcn_conv.load_state_dict(rb.gcn.conv.state_dict())
            b.gcn_bn.load_state_dict(rb.gcn.bn.state_dict())
            b.tcn_conv.load_state_dict(rb.tcn.conv.state_dict())
            b.tcn_bn.load_state_dict(rb.tcn.bn.state_dict())
            if isinstance(b.residual, nn.Sequential):
                b.residual[0].load_state_dict(rb.residual.conv.state_dict())
                b.residual[1].load_state_dict(rb.residual.bn.state_dict())
            stem.importance[i].copy_(torch.rand_like(stem.importance[i]) + 0.5)
            rb.gcn.PA.copy_(stem.importance[i])
    x = torch.randn(2, 2, 16, 17, 3)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('name', ['kinect25', 'kinect25_2d', 'coco17', 'smplx42', 'mhad43'])
def test_shapes_2d_and_3d(name):
    fmt = get_format(name)
    net = UnifiedSTGCN(formats=[name])
    x = torch.randn(3, 2, 50, fmt.num_joints, fmt.in_channels)
    assert net(x).shape == (3, 2, 256, 13, fmt.num_joints)


def test_two_channel_inline_format_is_zero_padded():
    hand = dict(
        name='toy2ch',
        joints=['c', 'l', 'r'],
        edges=[(0, 1), (0, 2)],
        center=0,
        flip=[0, 2, 1],
        parts=dict(trunk=[0], left_arm=[1], right_arm=[2], left_leg=[], right_leg=[]),
        dim=2,
        channels=2,
    )
    net = UnifiedSTGCN(formats=['kinect25', hand]).eval()
    assert net.stems['toy2ch'].data_bn.num_features == 6
    x = torch.randn(2, 1, 12, 3, 2)
    out = net(x, 'toy2ch')
    assert out.shape == (2, 1, 256, 3, 3)
    # the third input column of the shared first conv is unused by this format
    with torch.no_grad():
        net.blocks[0].gcn_conv.weight[:, 2].normal_()
    torch.testing.assert_close(net(x, 'toy2ch'), out)
    with pytest.raises(ValueError, match='has 2 channels, got C=3'):
        net(torch.randn(2, 1, 12, 3, 3), 'toy2ch')


def test_graph_conv_values_one_block():
    """A 1-block net against a hand-written graph convolution."""
    torch.manual_seed(0)
    fmt = get_format('coco17')
    net = UnifiedSTGCN(formats=['coco17'], channels=(4,), strides=(1,), tcn_kernel=1).eval()
    blk = net.blocks[0]
    stem = net.stems['coco17']
    with torch.no_grad():
        stem.importance[0].uniform_(0.5, 1.5)
        for bn in (stem.data_bn, blk.gcn_bn, blk.tcn_bn):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 1, 5, 17, 3)
    got = net(x)

    def bn(z, m, dim):
        shape = [1] * z.dim()
        shape[dim] = -1
        return (z - m.running_mean.view(shape)) / torch.sqrt(m.running_var.view(shape) + m.eps) * (
            m.weight.view(shape)
        ) + m.bias.view(shape)

    # data BN over (V, C) features, per joint and channel
    z = x.reshape(2, 5, 17 * 3)  # (N*M, T, V*C)
    z = bn(z, stem.data_bn, 2).reshape(2, 5, 17, 3)  # (B, T, V, C)
    A = torch.as_tensor(fmt.adjacency('stgcn_spatial')) * stem.importance[0]
    W = blk.gcn_conv.weight.view(3, 4, 3)  # (K, C_out, C_in)
    b = blk.gcn_conv.bias.view(3, 4)
    out = torch.zeros(2, 4, 5, 17)
    for k in range(3):
        proj = torch.einsum('btvi,oi->botv', z, W[k]) + b[k].view(1, 4, 1, 1)
        for w in range(17):
            for v in range(17):
                out[..., w] += proj[..., v] * A[k, v, w]
    y = torch.relu(bn(out, blk.gcn_bn, 1))
    y = bn(torch.einsum('btcv,oc->botv', y.permute(0, 2, 1, 3), blk.tcn_conv.weight[:, :, 0, 0])
           + blk.tcn_conv.bias.view(1, 4, 1, 1), blk.tcn_bn, 1)  # fmt: skip
    expected = torch.relu(y).view(2, 1, 4, 5, 17)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def _copy_shared(src, dst):
    """Copy every parameter and buffer dst has from src (trunk and common stems)."""
    dst.load_state_dict(
        {k: v for k, v in src.state_dict().items() if k in dst.state_dict()}, strict=False
    )


def test_no_cross_talk_between_formats():
    torch.manual_seed(1)
    both = UnifiedSTGCN(formats=['kinect25', 'smplx42'])
    one = UnifiedSTGCN(formats=['kinect25'])
    # train a few steps on both formats so stems and trunk statistics differ from init
    opt = torch.optim.SGD(both.parameters(), lr=0.1)
    for name, V in (('kinect25', 25), ('smplx42', 42), ('smplx42', 42)):
        loss = both(torch.randn(4, 2, 20, V, 3), name).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    missing = set(one.state_dict()) - set(both.state_dict())
    assert not missing
    _copy_shared(both, one)
    both.eval()
    one.eval()
    x = torch.randn(3, 2, 20, 25, 3)
    torch.testing.assert_close(both(x, 'kinect25'), one(x, 'kinect25'), rtol=0, atol=0)
    # and the smplx stem really is different and used
    assert not torch.equal(both.stems['smplx42'].importance[0][:, :25, :25], one.stems[
        'kinect25'
    ].importance[0])  # fmt: skip


def test_format_batch_does_not_touch_other_stems():
    net = UnifiedSTGCN(formats=['kinect25', 'smplx42']).train()
    before = {k: v.clone() for k, v in net.stems['kinect25'].state_dict().items()}
    loss = net(torch.randn(2, 2, 20, 42, 3), 'smplx42').sum()
    loss.backward()
    for k, v in net.stems['kinect25'].state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in net.stems['kinect25'].parameters())


def test_format_inference_and_errors():
    net = UnifiedSTGCN(formats=['kinect25', 'smplx42', 'kinect25_2d']).eval()
    assert net(torch.randn(1, 1, 8, 42, 3)).shape[-1] == 42
    with pytest.raises(ValueError, match=r"candidates \['kinect25', 'kinect25_2d'\]"):
        net(torch.randn(1, 1, 8, 25, 3))
    with pytest.raises(ValueError, match=r'V=17: candidates \[\]'):
        net(torch.randn(1, 1, 8, 17, 3))
    with pytest.raises(ValueError, match="format 'kinect25' has 25 joints but the batch has V=42"):
        net(torch.randn(1, 1, 8, 42, 3), 'kinect25')
    with pytest.raises(KeyError, match="does not serve format 'coco17'"):
        net(torch.randn(1, 1, 8, 17, 3), 'coco17')
    with pytest.raises(ValueError, match=r'expected input \(N, M, T, V, C\)'):
        net(torch.randn(1, 8, 25, 3))
    single = UnifiedSTGCN(formats=['kinect25']).eval()
    assert single(torch.randn(1, 1, 8, 25, 3)).shape == (1, 1, 256, 2, 25)
    with pytest.raises(ValueError, match='has 25 joints but the batch has V=24'):
        single(torch.randn(1, 1, 8, 24, 3))
    # a SkeletonFormat or dict works as fmt too
    assert single(torch.randn(1, 1, 8, 25, 3), get_format('kinect25')).shape[-1] == 25


def test_constructor_errors():
    with pytest.raises(ValueError, match='strides has 2 entries'):
        UnifiedSTGCN(channels=(8, 8, 8), strides=(1, 2))
    with pytest.raises(ValueError, match='twice'):
        UnifiedSTGCN(formats=['kinect25', 'kinect25'])
    with pytest.raises(ValueError, match='frozen_stages'):
        UnifiedSTGCN(frozen_stages=11)
    with pytest.raises(KeyError, match='unknown skeleton format'):
        UnifiedSTGCN(formats=['kinect26'])


def _train_step(net, V=25):
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.5)
    net.train()
    loss = net(torch.randn(4, 2, 20, V, 3) * 3 + 1).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_frozen_stages():
    torch.manual_seed(0)
    net = UnifiedSTGCN(frozen_stages=2)
    frozen = [net.stems['kinect25'].data_bn, net.blocks[0], net.blocks[1]]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    _train_step(net)
    after = net.state_dict()
    for name, v in before.items():
        is_frozen = name.startswith(
            ('blocks.0.', 'blocks.1.', 'stems.kinect25.data_bn.')
        ) or name.startswith(('stems.kinect25.importance.0', 'stems.kinect25.importance.1'))
        if name.endswith('num_batches_tracked') or name.endswith('.A'):
            continue
        if is_frozen:
            assert torch.equal(after[name], v), name
        elif name.startswith('blocks.9.tcn_conv.weight'):
            assert not torch.equal(after[name], v), name
    assert all(not m.training for m in frozen)
    assert net.blocks[2].training
    assert not net.stems['kinect25'].importance[1].requires_grad
    assert net.stems['kinect25'].importance[2].requires_grad


def test_frozen_stages_zero_freezes_only_stem():
    net = UnifiedSTGCN(frozen_stages=0).train()
    assert not net.stems['kinect25'].data_bn.training
    assert all(p.requires_grad for p in net.blocks.parameters())
    assert all(p.requires_grad for p in net.stems['kinect25'].importance)


def test_norm_eval_keeps_running_stats():
    torch.manual_seed(0)
    net = UnifiedSTGCN(norm_eval=True)
    net.train()
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns and all(not m.training for m in bns)
    stats = {k: v.clone() for k, v in net.state_dict().items() if 'running' in k}
    _train_step(net)
    for k, v in stats.items():
        assert torch.equal(net.state_dict()[k], v), k
    # without norm_eval the statistics move
    ref = UnifiedSTGCN()
    stats = {k: v.clone() for k, v in ref.state_dict().items() if 'running' in k}
    _train_step(ref)
    assert any(not torch.equal(ref.state_dict()[k], v) for k, v in stats.items())


def test_attention_drop_outputs():
    torch.manual_seed(0)
    net = UnifiedSTGCN().eval()
    x = torch.randn(2, 2, 30, 25, 3)
    feat, dropped = net(x, drop=True)
    assert feat.shape == dropped.shape == (2, 2, 256, 8, 25)
    torch.testing.assert_close(feat, net(x))
    # some features that were non-zero are dropped, none is created
    assert ((feat != 0) & (dropped == 0)).any()
    assert not ((feat == 0) & (dropped != 0)).any()


def test_energy_attention_drop_values():
    drop = EnergyAttentionDrop(keep_prob=0.7)
    x = torch.ones(1, 4, 6, 5)
    x[:, :, :, 2] = 50.0  # one joint far from the mean: salient everywhere
    out = drop(x)
    assert torch.all(out[..., 2] == 0)
    # kept joints are rescaled by numel / kept = 5 / 4 by the spatial mask, and again by
    # 120 / 96 by the temporal mask (which drops the same salient entries)
    torch.testing.assert_close(out[..., [0, 1, 3, 4]], torch.full((1, 4, 6, 4), 1.25 * 1.25))
    att = drop.attention(x)
    assert att.min() > 0.62 and att.max() < 1
    # a constant map has no salient feature: nothing is dropped
    torch.testing.assert_close(drop(torch.ones(2, 3, 4, 5)), torch.ones(2, 3, 4, 5))


def test_gcn_head_works_on_output():
    GCNHead = mmaction_module('mmaction.models.heads.gcn_head').GCNHead
    mmaction_module('mmaction.models.losses')  # registers CrossEntropyLoss
    net = UnifiedSTGCN(formats=['kinect25', 'coco17']).eval()
    head = GCNHead(num_classes=60, in_channels=net.out_channels)
    for V in (25, 17):
        scores = head(net(torch.randn(4, 2, 20, V, 3)))
        assert scores.shape == (4, 60)


def test_pretrained_init_must_cover_every_weight(tmp_path):
    """A probe on kinect25 + smplx42 from a kinect25-only encoder: refused, not half random."""
    from mmaction.registry import MODELS

    small = dict(type='UnifiedSTGCN', formats=['kinect25'], channels=[8, 16], strides=[1, 2])
    source = MODELS.build(small)
    path = str(tmp_path / 'encoder.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}}, path)
    init = dict(type='Pretrained', checkpoint=path, prefix='backbone.')
    same = MODELS.build(dict(small, init_cfg=init))
    same.init_weights()
    for k, v in source.state_dict().items():
        assert torch.equal(same.state_dict()[k], v), k
    wider = MODELS.build(dict(small, formats=['kinect25', 'smplx42'], init_cfg=init))
    with pytest.raises(ValueError, match=r"does not hold \d+ of the encoder's .*stems\.smplx42"):
        wider.init_weights()
    other = MODELS.build(dict(small, channels=[8, 32], init_cfg=init))
    with pytest.raises(ValueError, match=r'checkpoint \(16,.*here \(32,'):
        other.init_weights()
