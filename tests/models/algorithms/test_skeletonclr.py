import pytest
import torch
import torch.nn.functional as F

from .helpers import DIM, build, clips, embed_one, view

N = 6
Q_FMT = ['kinect25', 'smpl24', 'kinect25', 'kinect25', 'smpl24', 'smpl24']
K_FMT = ['smpl24', 'smpl24', 'kinect25', 'smpl24', 'kinect25', 'kinect25']


def batch(seed=0):
    q, k = clips(N, seed=seed), clips(N, seed=seed + 100)
    return {'query': view(q, Q_FMT), 'key': view(k, K_FMT)}, q, k


def test_loss_equals_per_sample_hand_computation_across_formats():
    model = build()
    model.eval()  # BatchNorm on running statistics: per-sample embeddings are well defined
    model.update_key_encoder()  # first update: key encoder = query encoder
    inputs, q_raw, k_raw = batch()
    negatives = model.queue.negatives()
    with torch.no_grad():
        q = torch.stack([embed_one(model, q_raw[f][i], f) for i, f in enumerate(Q_FMT)])
        k = torch.stack([embed_one(model, k_raw[f][i], f, key=True) for i, f in enumerate(K_FMT)])
    pos = (q * k).sum(1, keepdim=True)
    neg = q @ negatives
    logits = torch.cat([pos, neg], 1) / 0.07
    expected = F.cross_entropy(logits, torch.zeros(N, dtype=torch.long))
    out = model.loss(inputs, [None] * N)
    assert set(out) == {'loss_nce', 'pos_sim', 'neg_sim', 'nce_acc'}
    torch.testing.assert_close(out['loss_nce'], expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out['pos_sim'], pos.mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out['neg_sim'], neg.mean(), rtol=1e-5, atol=1e-6)
    # the keys entered the queue in batch order
    torch.testing.assert_close(model.queue.queue[:, :N].t(), k, rtol=1e-5, atol=1e-6)
    assert model.queue.ptr.tolist() == [N]


def positives_and_hand_similarities(inputs):
    """The positive similarities the head receives, and ``S[i, j] = q_i . k_j`` by hand.

    ``q_i`` and ``k_j`` are clip ``i``'s query and clip ``j``'s key, each embedded alone in
    its view's format; right pairing gives ``pos[i] = S[i, i]``.
    """
    model = build()
    model.eval()
    model.update_key_encoder()  # first update: key encoder = query encoder
    _, q_raw, k_raw = batch()
    with torch.no_grad():
        q = torch.stack([embed_one(model, q_raw[f][i], f) for i, f in enumerate(Q_FMT)])
        k = torch.stack([embed_one(model, k_raw[f][i], f, key=True) for i, f in enumerate(K_FMT)])
    seen = []
    head_loss = model.head.loss
    model.head.loss = lambda pos, neg: seen.append(pos.detach().flatten()) or head_loss(pos, neg)
    model.loss(inputs)
    return seen[0], q @ k.t()


def test_pairing_uses_index_not_group_order():
    # The untrained encoder maps every clip to nearly the same embedding, so a wrong pairing
    # moves the mean loss by little; each query's positive similarity tells its partner apart
    inputs, _, _ = batch()
    pos, sim = positives_and_hand_similarities(inputs)
    torch.testing.assert_close(pos, sim.diagonal(), rtol=0, atol=1e-6)
    # same rows, but lying about the index of the key view's smpl24 group (clips 0, 1, 3):
    # the keys of clips 0 and 3 change places
    bad = {v: {f: dict(g) for f, g in groups.items()} for v, groups in inputs.items()}
    assert bad['key']['smpl24']['index'].tolist() == [3, 1, 0]
    bad['key']['smpl24']['index'] = bad['key']['smpl24']['index'].flip(0)
    pos_bad, _ = positives_and_hand_similarities(bad)
    swapped = sim.diagonal().clone()
    swapped[0], swapped[3] = sim[0, 3], sim[3, 0]
    torch.testing.assert_close(pos_bad, swapped, rtol=0, atol=1e-6)
    assert (swapped - sim.diagonal()).abs().max() > 1e-4  # 2.7e-4: 270 times atol


def test_gradients_reach_the_query_encoder_only_and_key_encoder_moves_by_momentum():
    model = build()
    model.train()
    inputs, _, _ = batch()
    out = model.loss(inputs)
    sum(v for n, v in out.items() if 'loss' in n).backward()
    assert model.backbone.blocks[0].gcn_conv.weight.grad is not None
    assert model.neck.mlp[0].weight.grad is not None
    assert all(p.grad is None for p in model.encoder_k.parameters())
    assert int(model.encoder_k.steps) == 1
    key_w = model.encoder_k.module['neck'].mlp[0].weight
    torch.testing.assert_close(key_w, model.neck.mlp[0].weight)  # first update copies
    with torch.no_grad():
        model.neck.mlp[0].weight.add_(1.0)
    before = key_w.detach().clone()
    model.loss(inputs)
    torch.testing.assert_close(key_w, before + 0.001, rtol=0, atol=1e-6)


def test_forward_modes_and_errors():
    model = build()
    inputs, _, _ = batch()
    assert set(model(inputs, None, mode='loss')) == {'loss_nce', 'pos_sim', 'neg_sim', 'nce_acc'}
    feats = model(inputs, mode='tensor')
    idx, f = feats['query']['kinect25']
    assert f.shape == (3, 16) and idx.tolist() == [3, 2, 0]
    with pytest.raises(RuntimeError, match="invalid mode 'foo'"):
        model(inputs, mode='foo')
    with pytest.raises(KeyError, match="no view 'key'.*'query'"):
        model.loss({'query': inputs['query']})
    with pytest.raises(ValueError, match="view 'query' has 6 rows .* batch size 7"):
        model.loss(inputs, [None] * 7)


def test_predict_attaches_per_format_features():
    from mmaction.structures import ActionDataSample

    model = build()
    model.eval()
    data = clips(3)
    inputs = {
        'kinect25': view(data, ['kinect25'] * 3),
        'smpl24': {'smpl24': {'keypoint': data['smpl24'][[2, 0]], 'index': torch.tensor([2, 0])}},
    }
    samples = [ActionDataSample(metainfo=dict(frame_dir=f'c{i}')) for i in range(3)]
    out = model.predict(inputs, samples)
    assert sorted(out[0].pred_feature) == ['kinect25', 'smpl24']
    assert sorted(out[1].pred_feature) == ['kinect25']  # clip 1 lacks smpl24
    from msclr_mm.models.necks import global_pool

    with torch.no_grad():
        ref = global_pool(model.backbone(data['smpl24'][2:3], 'smpl24'))[0]
    torch.testing.assert_close(out[2].pred_feature['smpl24'], ref)
    # multi-clip (n, S, M, T, V, C): the S clip features are averaged
    two = torch.stack([data['kinect25'], data['kinect25'] * 0.5], dim=1)
    out2 = model.predict({'kinect25': {'kinect25': {'keypoint': two, 'index': torch.arange(3)}}})
    with torch.no_grad():
        a = global_pool(model.backbone(data['kinect25'], 'kinect25'))
        b = global_pool(model.backbone(data['kinect25'] * 0.5, 'kinect25'))
    torch.testing.assert_close(out2[1].pred_feature['kinect25'], ((a + b) / 2)[1])
    assert out2[1].pred_feature['kinect25'].shape == (16,)
    assert DIM == 8


@pytest.mark.parametrize('type_', ['SkeletonCLR', 'AimCLR', 'SkeleMixCLR'])
def test_train_step_logs_every_term_and_runs_under_bf16_autocast(type_):
    from mmengine.optim import OptimWrapper

    model = build(type_)
    inputs, _, _ = batch()
    inputs['query_extreme'] = inputs['query']
    log_vars = model.train_step(
        dict(inputs=inputs, data_samples=[None] * N),
        OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)),
    )
    assert {'loss', 'loss_nce', 'pos_sim', 'neg_sim'} <= set(log_vars)
    terms = sum(v for k, v in log_vars.items() if k.startswith('loss_'))
    torch.testing.assert_close(log_vars['loss'], terms)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = model.loss(inputs)
    assert all(torch.isfinite(v).all() for v in out.values())
    assert model.queue.queue.dtype == torch.float32


def test_similarities_stay_float32_under_autocast():
    from msclr_mm.models.algorithms.base_moco import BaseMoCo

    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=1)
    k = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=1)
    queue = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=0)
    ref_pos, ref_neg = (q * k).sum(1, keepdim=True), q @ queue
    with torch.autocast('cpu', dtype=torch.bfloat16):
        pos, neg = BaseMoCo.similarities(q.bfloat16(), k.bfloat16(), queue)
    assert pos.dtype == neg.dtype == torch.float32
    # inputs rounded to bf16 once, products in float32: far closer than a bf16 matmul
    torch.testing.assert_close(pos, ref_pos, atol=2e-2, rtol=0)
    torch.testing.assert_close(neg, ref_neg, atol=2e-2, rtol=0)


def samples(ids):
    from mmaction.structures import ActionDataSample

    out = []
    for i in ids:
        s = ActionDataSample()
        s.set_metainfo(dict(sample_idx=i, frame_dir=f'clip{i}'))
        out.append(s)
    return out


def test_exclude_own_keys_drops_a_clips_earlier_keys_from_its_negatives():
    model = build(exclude_own_keys=True, queue_len=16)
    model.eval()
    model.update_key_encoder()
    ids = [3, 4, 5, 6, 7, 8]
    first, _, _ = batch(seed=0)
    model.loss(first, samples(ids))  # the queue now holds these clips' keys, columns 0-5
    assert model.queue.ids[:N].tolist() == ids
    inputs, q_raw, k_raw = batch(seed=1)
    ids2 = [4, 40, 41, 42, 43, 3]  # clip 4 (column 1) and clip 3 (column 0) come back
    negatives = model.queue.negatives()
    state = {k: v.clone() for k, v in model.state_dict().items() if k != 'queue.ids'}
    with torch.no_grad():
        q = torch.stack([embed_one(model, q_raw[f][i], f) for i, f in enumerate(Q_FMT)])
        k = torch.stack([embed_one(model, k_raw[f][i], f, key=True) for i, f in enumerate(K_FMT)])
    pos = (q * k).sum(1, keepdim=True)
    neg = q @ negatives
    own = torch.zeros_like(neg, dtype=torch.bool)
    own[0, 1] = own[5, 0] = True
    logits = torch.cat([pos, neg.masked_fill(own, float('-inf'))], 1) / 0.07
    expected = F.cross_entropy(logits, torch.zeros(N, dtype=torch.long))
    out = model.loss(inputs, samples(ids2))
    torch.testing.assert_close(out['loss_nce'], expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out['neg_sim'], neg[~own].mean(), rtol=1e-5, atol=1e-6)
    acc = (pos[:, 0] > neg.masked_fill(own, -2).max(1).values).float().mean()
    torch.testing.assert_close(out['nce_acc'], acc)
    # without the option the same step counts the clips' own keys as negatives
    plain = build(queue_len=16)
    plain.load_state_dict(state, strict=True)
    plain.eval()
    full = torch.cat([pos, neg], 1) / 0.07
    torch.testing.assert_close(
        plain.loss(inputs, samples(ids2))['loss_nce'],
        F.cross_entropy(full, torch.zeros(N, dtype=torch.long)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_exclude_own_keys_names_the_sample_without_sample_idx():
    model = build(exclude_own_keys=True)
    inputs, _, _ = batch()
    bad = samples(range(N))
    bad[2] = type(bad[2])(metainfo=dict(frame_dir='S001A002'))
    with pytest.raises(ValueError, match=r"data sample 2 \('S001A002'\) has no 'sample_idx'"):
        model.loss(inputs, bad)
    with pytest.raises(ValueError, match='needs the data samples'):
        model.loss(inputs, None)


def test_clip_ids_read_a_packed_sample_list_without_building_it():
    import pickle

    from msclr_mm.datasets import SampleList

    model = build(exclude_own_keys=True)
    packed = pickle.loads(pickle.dumps(SampleList(samples([7, 3, 9, 1, 0, 2]))))
    assert model.clip_ids(packed, torch.device('cpu')).tolist() == [7, 3, 9, 1, 0, 2]
    assert packed._samples is None
