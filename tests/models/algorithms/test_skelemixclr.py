import pytest
import torch
import torch.nn.functional as F

from msclr_mm.models.algorithms import mask_pool, skelemix, skelemix_mask, upsample_mask
from msclr_mm.models.necks import global_pool
from msclr_mm.skeletons import get_format

from .helpers import FORMATS, WIDTH, build, clips, embed_one, view

STRIDED = dict(
    type='UnifiedSTGCN', formats=list(FORMATS), channels=(8, WIDTH), strides=(2, 2), dropout=0.0
)


def test_mask_mixes_two_or_three_whole_parts_over_one_span():
    fmt = get_format('kinect25')
    seen_k, seen_t = set(), set()
    for seed in range(60):
        g = torch.Generator().manual_seed(seed)
        mask = skelemix_mask(fmt.parts, 25, 16, (2, 3), (7, 11), generator=g)
        assert mask.shape == (16, 25) and mask.dtype == torch.bool
        frames = mask.any(dim=1).nonzero().flatten().tolist()
        assert frames == list(range(frames[0], frames[-1] + 1))  # contiguous
        seen_t.add(len(frames))
        joints = set(mask.any(dim=0).nonzero().flatten().tolist())
        chosen = [p for p, js in fmt.parts.items() if set(js) <= joints]
        assert set().union(*(set(fmt.parts[p]) for p in chosen)) == joints  # whole parts only
        seen_k.add(len(chosen))
        # the region is a product: every (frame, joint) of it is set
        assert mask.sum().item() == len(frames) * len(joints)
    assert seen_k == {2, 3}
    assert seen_t == set(range(7, 12))


def test_mask_span_is_clipped_to_the_feature_length():
    fmt = get_format('smpl24')
    mask = skelemix_mask(
        fmt.parts, 24, 3, (2, 3), (7, 11), generator=torch.Generator().manual_seed(0)
    )
    assert mask.any(dim=1).all()  # the whole 3 frames


def test_upsample_mask_maps_input_frames_to_feature_frames():
    mask = torch.tensor([[True, False], [False, True], [False, False]])
    up = upsample_mask(mask, 10, 4)  # ceil(10 / 4) = 3
    assert up.shape == (10, 2)
    assert up[:, 0].tolist() == [True] * 4 + [False] * 6
    assert up[:, 1].tolist() == [False] * 4 + [True] * 4 + [False] * 2
    with pytest.raises(ValueError, match=r'ceil\(12 / 4\) = 3'):
        upsample_mask(torch.zeros(4, 2, dtype=torch.bool), 12, 4)


def test_skelemix_pastes_the_partner_inside_the_mask_only():
    x = torch.arange(3.0)[:, None, None, None, None].expand(3, 2, 4, 5, 3).clone()
    mask = torch.zeros(4, 5, dtype=torch.bool)
    mask[1:3, [0, 4]] = True
    out = skelemix(x, mask, torch.tensor([1, 2, 0]))
    assert out[0, :, 1:3][:, :, [0, 4]].unique().tolist() == [1.0]
    assert out[2, :, 1:3][:, :, [0, 4]].unique().tolist() == [0.0]
    keep = ~mask[None, None, :, :, None].expand_as(x)
    torch.testing.assert_close(out[keep], x[keep])


def test_mask_pool_values():
    feat = torch.zeros(1, 2, 1, 2, 3)
    feat[0, 0, 0] = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    feat[0, 1, 0] = 10.0
    mask = torch.tensor([[True, False, False], [True, True, False]])
    inside, outside = mask_pool(feat, mask)
    # person 0: inside (1 + 4 + 5) / 3, outside (2 + 3 + 6) / 3; person 1: 10 and 10
    torch.testing.assert_close(inside, torch.tensor([[(10 / 3 + 10) / 2]]))
    torch.testing.assert_close(outside, torch.tensor([[(11 / 3 + 10) / 2]]))
    with pytest.raises(ValueError, match='does not match'):
        mask_pool(feat, mask.t())


def test_temporal_stride_is_read_from_the_backbone():
    assert build('SkeleMixCLR', backbone=STRIDED).temporal_stride == 4
    assert build('SkeleMixCLR').temporal_stride == 1


def test_loss_matches_hand_computation_and_groups_of_one_do_not_mix(monkeypatch):
    model = build('SkeleMixCLR', backbone=STRIDED)
    model.eval()
    model.update_key_encoder()
    fm_q = ['smpl24', 'kinect25', 'smpl24', 'smpl24', 'smpl24']  # kinect25 group has 1 clip
    fm_k = ['kinect25', 'smpl24', 'kinect25', 'smpl24', 'kinect25']
    q_raw, k_raw = clips(5, T=12, seed=1), clips(5, T=12, seed=2)
    inputs = {'query': view(q_raw, fm_q), 'key': view(k_raw, fm_k)}
    # fixed draw: within the smpl24 group (batch rows [4, 3, 2, 0] in group order), each row
    # takes the next group row; region = left_arm + right_leg over feature frame 1 (of 3)
    f = get_format('smpl24')
    mask = torch.zeros(3, 24, dtype=torch.bool)
    mask[1, list(f.parts['left_arm']) + list(f.parts['right_leg'])] = True
    calls = []

    def fixed(fmt, n, frames, device=None):
        calls.append((fmt, n, frames))
        return (torch.arange(n) + 1) % n, mask

    monkeypatch.setattr(model, 'sample_mix', fixed)
    queue = model.queue.negatives()
    out = model.loss(inputs)
    assert calls == [('smpl24', 4, 12)]
    assert set(out) == {
        'loss_nce',
        'loss_trimmed',
        'loss_truncated',
        'pos_sim',
        'neg_sim',
        'nce_acc',
    }

    with torch.no_grad():
        k = torch.stack([embed_one(model, k_raw[fm][i], fm, key=True) for i, fm in enumerate(fm_k)])
        rows = [4, 3, 2, 0]
        partner = {4: 3, 3: 2, 2: 0, 0: 4}
        x = q_raw['smpl24']
        up = mask.repeat_interleave(4, 0)[:12][None, :, :, None]
        p_list, c_list = [], []
        for r in rows:
            mixed = torch.where(up, x[partner[r]], x[r])
            feat = model.backbone(mixed[None], 'smpl24')
            m = mask.float()
            p_list.append((feat * m).sum((-2, -1)).div(m.sum()).mean(1))
            c_list.append((feat * (1 - m)).sum((-2, -1)).div((1 - m).sum()).mean(1))
        p = F.normalize(model.neck(torch.cat(p_list)), dim=1)
        c = F.normalize(model.neck(torch.cat(c_list)), dim=1)
    kp = k[[partner[r] for r in rows]]
    kc = k[rows]
    logit_p = (
        torch.cat([(p * kp).sum(1, keepdim=True), p @ queue, (p * c).sum(1, keepdim=True)], 1)
        / 0.07
    )
    logit_c = (
        torch.cat([(c * kc).sum(1, keepdim=True), c @ queue, (c * p).sum(1, keepdim=True)], 1)
        / 0.07
    )
    zeros = torch.zeros(4, dtype=torch.long)
    tol = dict(rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out['loss_trimmed'], 0.5 * F.cross_entropy(logit_p, zeros), **tol)
    torch.testing.assert_close(out['loss_truncated'], 0.5 * F.cross_entropy(logit_c, zeros), **tol)
    # pooling the mixed clip globally would not separate the parts
    assert not torch.allclose(
        p, F.normalize(model.neck(global_pool(model.backbone(x[[4]], 'smpl24'))), dim=1)
    )


def test_num_mixes_sums_the_mixing_losses_of_independent_draws(monkeypatch):
    """The reference's ``repeat`` (3 in its SkeleMixCLR+ config): one loss per mix, summed."""
    fm = ['smpl24'] * 4
    q_raw, k_raw = clips(4, T=12, seed=1), clips(4, T=12, seed=2)
    inputs = {'query': view(q_raw, fm), 'key': view(k_raw, fm)}
    f = get_format('smpl24')
    draws = []
    for parts, frame, shift in ((('left_arm', 'right_leg'), 1, 1), (('trunk', 'left_leg'), 2, 3)):
        mask = torch.zeros(3, 24, dtype=torch.bool)
        mask[frame, [j for p in parts for j in f.parts[p]]] = True
        draws.append((shift, mask))

    def run(num_mixes, order):
        torch.manual_seed(0)
        model = build('SkeleMixCLR', backbone=STRIDED, num_mixes=num_mixes)
        model.eval()
        pending = [draws[i] for i in order]
        monkeypatch.setattr(
            model,
            'sample_mix',
            lambda fmt, n, frames, device=None: (
                (torch.arange(n) + pending[0][0]) % n,
                pending.pop(0)[1],
            ),
        )
        out = model.loss(inputs)
        assert not pending  # every draw used: one per mix
        return out

    both = run(2, [0, 1])
    first, second = run(1, [0]), run(1, [1])
    for name in ('loss_trimmed', 'loss_truncated'):
        torch.testing.assert_close(both[name], first[name] + second[name])
        assert not torch.allclose(first[name], second[name])  # two different draws
    torch.testing.assert_close(both['loss_nce'], first['loss_nce'])
    with pytest.raises(ValueError, match='num_mixes'):
        build('SkeleMixCLR', num_mixes=0)


def test_no_mixable_group_gives_zero_mix_losses_with_a_graph():
    model = build('SkeleMixCLR')
    data = clips(2)
    inputs = {
        'query': view(data, ['kinect25', 'smpl24']),
        'key': view(data, ['smpl24', 'kinect25']),
    }
    out = model.loss(inputs)
    assert out['loss_trimmed'].item() == 0.0 and out['loss_trimmed'].requires_grad


def test_training_step_mixes_and_backpropagates():
    torch.manual_seed(3)
    model = build('SkeleMixCLR', backbone=STRIDED, temporal_span=(1, 2))
    model.train()
    data = clips(4, T=16)
    fm = ['kinect25', 'kinect25', 'smpl24', 'smpl24']
    out = model.loss({'query': view(data, fm), 'key': view(data, fm)})
    (out['loss_trimmed'] + out['loss_truncated']).backward()
    assert model.backbone.blocks[0].gcn_conv.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='num_parts'):
        build('SkeleMixCLR', num_parts=(3, 2))


def _reference_mask(parts, num_joints, feat_frames, num_parts, span, generator):
    """The mask from the same random numbers, built from joint index lists (the plain way)."""
    names = list(parts)
    lo, hi = min(num_parts[0], len(names)), min(num_parts[1], len(names))
    k = int(torch.randint(lo, hi + 1, (1,), generator=generator))
    order = torch.rand(len(names), generator=generator).argsort().tolist()
    joints = sorted(j for i in order[:k] for j in parts[names[i]])
    t_lo, t_hi = max(1, min(span[0], feat_frames)), max(1, min(span[1], feat_frames))
    t = int(torch.randint(t_lo, t_hi + 1, (1,), generator=generator))
    t0 = int(float(torch.rand(1, generator=generator)) * (feat_frames - t + 1))
    mask = torch.zeros(feat_frames, num_joints, dtype=torch.bool)
    mask[t0 : t0 + t, joints] = True
    return mask


@pytest.mark.parametrize('name', ['kinect25', 'smplx42'])
def test_mask_built_on_the_device_equals_the_index_list_construction(name):
    fmt = get_format(name)
    for seed in range(30):
        got = skelemix_mask(
            fmt.parts, fmt.num_joints, 16, (2, 3), (7, 11), torch.Generator().manual_seed(seed)
        )
        want = _reference_mask(
            fmt.parts, fmt.num_joints, 16, (2, 3), (7, 11), torch.Generator().manual_seed(seed)
        )
        assert torch.equal(got, want)
    # drawn and built where asked (a meta tensor holds no values: nothing read or copied)
    meta = skelemix_mask(fmt.parts, fmt.num_joints, 16, device='meta')
    assert meta.device.type == 'meta' and meta.shape == (16, fmt.num_joints)


def test_mask_distribution_is_the_references():
    """k uniform in {2, 3}, a uniform k-subset of the 5 parts, t uniform in [7, 11], t0
    uniform in [0, 16 - t]: the frequencies of 4000 draws against their expectations."""
    fmt = get_format('kinect25')
    names = list(fmt.parts)
    g = torch.Generator().manual_seed(0)
    draws = 4000
    subsets, spans, starts = {}, {}, {}
    part_hits = torch.zeros(len(names))
    for _ in range(draws):
        mask = skelemix_mask(fmt.parts, 25, 16, (2, 3), (7, 11), generator=g)
        joints = set(mask.any(dim=0).nonzero().flatten().tolist())
        chosen = tuple(i for i, p in enumerate(names) if set(fmt.parts[p]) <= joints)
        subsets[chosen] = subsets.get(chosen, 0) + 1
        part_hits[list(chosen)] += 1
        frames = mask.any(dim=1).nonzero().flatten()
        t, t0 = len(frames), int(frames[0])
        spans[t] = spans.get(t, 0) + 1
        starts[(t, t0)] = starts.get((t, t0), 0) + 1
    # every subset of 2 or 3 parts, each 1/2 * 1/10 of the draws (binomial sd ~ 14)
    assert len(subsets) == 20 and all(len(c) in (2, 3) for c in subsets)
    assert all(abs(c - draws / 20) < 5 * (draws / 20) ** 0.5 for c in subsets.values())
    # each part in half of the draws
    assert (part_hits / draws - 0.5).abs().max() < 0.04
    # t uniform over 7..11; the start uniform over its 17 - t positions
    assert set(spans) == set(range(7, 12))
    assert all(abs(c / draws - 0.2) < 0.03 for c in spans.values())
    for t in range(7, 12):
        assert {t0 for (tt, t0) in starts if tt == t} == set(range(0, 17 - t))
