import copy
import pickle

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper

import msclr_mm  # noqa: F401  (applies the stack fixes, registers the plugin)
from msclr_mm.models.algorithms import MultiSkeletonRecognizer

FORMATS = ['kinect25', 'smplx42']
V = {'kinect25': 25, 'smplx42': 42}
NUM_CLASSES = 4
CHANNELS = (8, 8, 16)


def backbone_cfg(**kw):
    cfg = dict(type='UnifiedSTGCN', formats=FORMATS, channels=CHANNELS, dropout=0.0)
    cfg.update(kw)
    return cfg


def build(frozen=False, **kw):
    bb = backbone_cfg(frozen_stages=len(CHANNELS), norm_eval=True) if frozen else backbone_cfg()
    cfg = dict(
        type='MultiSkeletonRecognizer',
        backbone=bb,
        cls_head=dict(num_classes=NUM_CLASSES),
        data_preprocessor=dict(type='BaseDataPreprocessor'),
    )
    cfg.update(kw)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def clip(fmt, n, s=None, t=12, m=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (n, m, t, V[fmt], 3) if s is None else (n, s, m, t, V[fmt], 3)
    return torch.randn(shape, generator=g)


def samples(labels):
    out = []
    for i, y in enumerate(labels):
        ds = ActionDataSample().set_gt_label(y)
        ds.set_metainfo(dict(frame_dir=f'S001C001P001R001A{i:03d}', formats=FORMATS))
        out.append(ds)
    return out


def batch(groups, labels):
    """groups: {fmt: (keypoint, index list)}; views are named after the formats."""
    inputs = {
        fmt: {fmt: dict(keypoint=kp, index=torch.tensor(idx, dtype=torch.long))}
        for fmt, (kp, idx) in groups.items()
    }
    return dict(inputs=inputs, data_samples=samples(labels))


def full_batch(n=6, seed=0):
    labels = [i % NUM_CLASSES for i in range(n)]
    return batch(
        {f: (clip(f, n, seed=seed + k), list(range(n))) for k, f in enumerate(FORMATS)}, labels
    )


def test_registered_one_gcnhead_per_format():
    model = build()
    assert MODELS.get('MultiSkeletonRecognizer') is MultiSkeletonRecognizer
    assert model.formats == FORMATS
    for f in FORMATS:
        head = model.cls_heads[f]
        assert type(head).__name__ == 'GCNHead'
        assert head.fc.in_features == CHANNELS[-1] and head.fc.out_features == NUM_CLASSES
    # the classifiers are separate modules, not one shared one
    assert model.cls_heads['kinect25'].fc.weight is not model.cls_heads['smplx42'].fc.weight


def test_formats_must_be_served_by_backbone():
    with pytest.raises(ValueError, match="formats \\['coco17'\\] are not served"):
        build(formats=['kinect25', 'coco17'])
    with pytest.raises(ValueError, match='num_classes'):
        build(cls_head=dict(in_channels=16))


def test_loss_is_sum_of_per_format_cross_entropies():
    model = build().eval()  # eval: BN running stats, so the manual pass below is identical
    data = full_batch()
    labels = torch.tensor([i % NUM_CLASSES for i in range(6)])
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kinect25', 'top1_kinect25', 'loss_smplx42', 'top1_smplx42'}
    expected = {}
    for f in FORMATS:
        kp = data['inputs'][f][f]['keypoint']
        pooled = model.backbone(kp, f).mean(dim=(1, 3, 4))  # GAP over M, T', V
        logits = model.cls_heads[f].fc(pooled)
        expected[f] = F.cross_entropy(logits, labels)
        torch.testing.assert_close(losses[f'loss_{f}'], expected[f])
        acc = (logits.argmax(-1) == labels).float().mean()
        torch.testing.assert_close(losses[f'top1_{f}'], acc)
    total, log_vars = model.parse_losses(losses)
    # the sum, as the MS-CLR reference (`loss = sum(losses)`): not the mean over formats
    torch.testing.assert_close(total, expected['kinect25'] + expected['smplx42'])
    assert list(log_vars)[0] == 'loss' and 'loss_smplx42' in log_vars
    for f in FORMATS:  # each format's loss and accuracy stay logged
        torch.testing.assert_close(log_vars[f'loss_{f}'], expected[f])
        assert f'top1_{f}' in log_vars


V3 = dict(V, smpl24=24)


@pytest.mark.parametrize('formats', [['kinect25', 'smplx42'], ['kinect25', 'smplx42', 'smpl24']])
def test_each_head_gets_exactly_its_own_cross_entropy_gradient(formats):
    """A linear probe on F formats trains each head at the configured lr (ratio 1.0)."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='MultiSkeletonRecognizer',
            backbone=dict(
                type='UnifiedSTGCN',
                formats=formats,
                channels=CHANNELS,
                dropout=0.0,
                frozen_stages=len(CHANNELS),
                norm_eval=True,
            ),
            cls_head=dict(num_classes=NUM_CLASSES),
            data_preprocessor=dict(type='BaseDataPreprocessor'),
        )
    )
    model.init_weights()
    model.train()
    n = 6
    labels = [i % NUM_CLASSES for i in range(n)]
    g = torch.Generator().manual_seed(3)
    inputs = {
        f: {f: dict(keypoint=torch.randn(n, 2, 12, V3[f], 3, generator=g), index=torch.arange(n))}
        for f in formats
    }
    losses = model(inputs, samples(labels), mode='loss')
    total, _ = model.parse_losses(losses)
    heads = {f: list(model.cls_heads[f].parameters()) for f in formats}
    got = torch.autograd.grad(total, [p for f in formats for p in heads[f]], retain_graph=True)
    got = dict(zip([(f, i) for f in formats for i in range(len(heads[f]))], got))
    for f in formats:
        own = torch.autograd.grad(losses[f'loss_{f}'], heads[f], retain_graph=True)
        for i, want in enumerate(own):
            assert want.abs().sum() > 0
            ratio = got[(f, i)].norm() / want.norm()
            assert ratio.item() == pytest.approx(1.0, abs=1e-6), (f, i, ratio.item())
            torch.testing.assert_close(got[(f, i)], want)


def test_loss_with_partial_formats_uses_present_ones_and_batch_order():
    model = build().eval()
    labels = [0, 1, 2, 3]
    # kinect25 for samples 3 and 0 (rows out of order), smplx42 missing entirely
    kp = clip('kinect25', 2)
    data = batch({'kinect25': (kp, [3, 0])}, labels)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kinect25', 'top1_kinect25'}
    logits = model(**data, mode='tensor')['kinect25']['kinect25']['cls_score'][:, 0]
    torch.testing.assert_close(
        losses['loss_kinect25'], F.cross_entropy(logits, torch.tensor([3, 0]))
    )
    total, _ = model.parse_losses(losses)
    torch.testing.assert_close(total, losses['loss_kinect25'])


def test_predict_ensembles_the_available_formats():
    model = build().eval()
    labels = [0, 1, 2]
    k = clip('kinect25', 2, seed=1)
    s = clip('smplx42', 2, seed=2)
    # sample 0: both formats; sample 1: kinect25 only; sample 2: smplx42 only
    data = batch({'kinect25': (k, [0, 1]), 'smplx42': (s, [2, 0])}, labels)
    out = model(**data, mode='predict')
    with torch.no_grad():
        pk = F.softmax(model.cls_heads['kinect25'](model.backbone(k, 'kinect25')), -1)
        ps = F.softmax(model.cls_heads['smplx42'](model.backbone(s, 'smplx42')), -1)
    torch.testing.assert_close(out[0].pred_score, (pk[0] + ps[1]) / 2)
    torch.testing.assert_close(out[1].pred_score, pk[1])
    torch.testing.assert_close(out[2].pred_score, ps[0])
    assert set(out[0].pred_scores_per_format) == {'kinect25', 'smplx42'}
    assert set(out[1].pred_scores_per_format) == {'kinect25'}
    assert set(out[2].pred_scores_per_format) == {'smplx42'}
    torch.testing.assert_close(out[0].pred_scores_per_format['smplx42'], ps[1])
    assert out[0].pred_label.item() == int(((pk[0] + ps[1]) / 2).argmax())
    for ds in out:
        torch.testing.assert_close(ds.pred_score.sum(), torch.tensor(1.0))
    # the raw logits too (report.py --scores logits); one test clip: softmax gives the probs
    with torch.no_grad():
        ls = model.cls_heads['smplx42'](model.backbone(s, 'smplx42'))
    assert set(out[0].pred_logits_per_format) == {'kinect25', 'smplx42'}
    assert set(out[2].pred_logits_per_format) == {'smplx42'}
    torch.testing.assert_close(out[0].pred_logits_per_format['smplx42'], ls[1])
    torch.testing.assert_close(F.softmax(out[2].pred_logits_per_format['smplx42'], -1), ps[0])


def test_predict_averages_probabilities_over_test_clips():
    model = build().eval()
    kp = clip('kinect25', 2, s=3)  # (n, S, M, T, V, C)
    out = model(**batch({'kinect25': (kp, [0, 1])}, [0, 1]), mode='predict')
    with torch.no_grad():
        for i in range(2):
            p = F.softmax(model.cls_heads['kinect25'](model.backbone(kp[i], 'kinect25')), -1)
            torch.testing.assert_close(out[i].pred_score, p.mean(0))


def test_predict_sample_without_views_names_it():
    model = build().eval()
    data = batch({'kinect25': (clip('kinect25', 1), [0])}, [0, 1])
    with pytest.raises(ValueError, match='S001C001P001R001A001 has no view'):
        model(**data, mode='predict')


def test_unknown_format_and_bad_shapes_are_refused():
    model = build().eval()
    data = batch({'kinect25': (clip('kinect25', 2), [0, 1])}, [0, 1])
    data['inputs']['coco17'] = {
        'coco17': dict(keypoint=torch.zeros(2, 2, 12, 17, 3), index=torch.tensor([0, 1]))
    }
    with pytest.raises(KeyError, match="format 'coco17', which has no classifier"):
        model(**data, mode='loss')
    bad = batch({'kinect25': (clip('kinect25', 2)[:, 0], [0, 1])}, [0, 1])
    with pytest.raises(ValueError, match=r"\['kinect25'\]\['keypoint'\] has shape"):
        model(**bad, mode='predict')


def test_acc_metric_and_dump_results_read_the_predictions(tmp_path):
    from mmaction.evaluation import AccMetric
    from mmengine.evaluator import DumpResults, Evaluator

    model = build().eval()
    data = full_batch(n=8)
    preds = model.test_step(copy.deepcopy(data))
    dump = tmp_path / 'preds.pkl'
    evaluator = Evaluator([AccMetric(), DumpResults(out_file_path=str(dump))])
    evaluator.process(preds, data)
    metrics = evaluator.evaluate(len(preds))
    labels = torch.tensor([i % NUM_CLASSES for i in range(8)])
    scores = torch.stack([p.pred_score for p in preds])
    assert metrics['acc/top1'] == pytest.approx((scores.argmax(-1) == labels).float().mean().item())
    with open(dump, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 8
    assert set(dumped[0]['pred_scores_per_format']) == set(FORMATS)
    assert dumped[3]['frame_dir'] == 'S001C001P001R001A003'
    torch.testing.assert_close(dumped[3]['pred_score'], preds[3].pred_score)


def _step(model, data, lr=1.0):
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9))
    model.train()
    return model.train_step(copy.deepcopy(data), optim)


def _backbone_state(model):
    return {k: v.clone() for k, v in model.backbone.state_dict().items()}


def test_frozen_probe_leaves_backbone_weights_and_bn_statistics_unchanged():
    model = build(frozen=True)
    before = _backbone_state(model)
    heads_before = {k: v.clone() for k, v in model.cls_heads.state_dict().items()}
    for seed in range(2):
        log_vars = _step(model, full_batch(seed=seed))
    assert torch.isfinite(log_vars['loss'])
    after = model.backbone.state_dict()
    bn_keys = [k for k in before if 'running_mean' in k or 'running_var' in k]
    assert bn_keys, 'the backbone has BatchNorm statistics to check'
    for k, v in before.items():
        torch.testing.assert_close(after[k], v, rtol=0, atol=0, msg=f'{k} changed')
    bns = [
        m for m in model.backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]
    assert bns and not any(m.training for m in bns)
    changed = [
        k for k, v in model.cls_heads.state_dict().items() if not torch.equal(v, heads_before[k])
    ]
    assert 'kinect25.fc.weight' in changed and 'smplx42.fc.weight' in changed


def test_fine_tuning_updates_backbone_weights_and_bn_statistics():
    model = build(frozen=False)
    before = _backbone_state(model)
    _step(model, full_batch())
    after = model.backbone.state_dict()
    params = [k for k, _ in model.backbone.named_parameters()]
    # a convolution's bias feeding a BatchNorm directly has an exact zero gradient (the
    # normalisation subtracts it with the batch mean): whether it moves is rounding noise
    # (with one thread, blocks.2.residual.0.bias did not)
    feeds_bn = {k for k in params if k.endswith(('tcn_conv.bias', 'residual.0.bias'))}
    assert 'blocks.2.residual.0.bias' in feeds_bn and 'blocks.0.tcn_conv.bias' in feeds_bn
    unchanged = [k for k in params if k not in feeds_bn and torch.equal(after[k], before[k])]
    assert params and not unchanged, f'not updated by fine-tuning: {unchanged}'
    stats = [k for k in before if k.endswith('running_mean')]
    assert any(not torch.equal(after[k], before[k]) for k in stats)


def _runner_style_checkpoint(path, backbone_sd):
    """A pretraining checkpoint laid out as mmengine's Runner saves it."""
    state = {f'backbone.{k}': v for k, v in backbone_sd.items()}
    # the EMA key encoder (another prefix), projection neck and the negative queue
    state.update(
        {
            f'encoder_k.module.0.{k}': torch.full_like(v, 7.0) if v.is_floating_point() else v
            for k, v in backbone_sd.items()
        }
    )
    state['neck.mlp.0.weight'] = torch.randn(16, 16)
    state['queue.queue'] = torch.randn(8, 32)
    state['queue.ptr'] = torch.zeros(1, dtype=torch.long)
    hub = MessageHub.get_instance('test_recognizer_ckpt')
    hub.update_scalar('train/loss', 1.5)
    torch.save(
        {
            'meta': dict(epoch=300, iter=1000, mmengine_version='0.10.7', seed=0),
            'state_dict': state,
            'message_hub': hub.state_dict(),
            'optimizer': {'state': {}, 'param_groups': [{'lr': 0.1}]},
        },
        path,
    )


def test_pretrained_backbone_loads_through_init_cfg_prefix(tmp_path):
    torch.manual_seed(1)
    source = MODELS.build(backbone_cfg())
    for p in source.parameters():
        p.data.uniform_(-1, 1)
    for name, buf in source.named_buffers():
        if 'running_var' in name:
            buf.uniform_(0.5, 2.0)
    ckpt = tmp_path / 'epoch_300.pth'
    _runner_style_checkpoint(ckpt, source.state_dict())
    cfg = backbone_cfg(
        frozen_stages=len(CHANNELS),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'),
    )
    model = build(backbone=cfg)
    loaded = model.backbone.state_dict()
    for k, v in source.state_dict().items():
        torch.testing.assert_close(loaded[k], v, rtol=0, atol=0, msg=k)


def test_label_out_of_range_names_the_sample():
    model = build()
    data = batch({'kinect25': (clip('kinect25', 3), [0, 1, 2])}, [0, NUM_CLASSES, 1])
    with pytest.raises(
        ValueError, match=r'A001 has label 4; expected 0 <= label < num_classes = 4'
    ):
        model(**data, mode='loss')


def test_feature_norm_normalises_pooled_features_before_the_linear_layer():
    model = build(frozen=True, feature_norm=True)
    assert model.feature_norm is not None
    model.eval()
    data = full_batch()
    losses = model(**data, mode='loss')
    labels = torch.tensor([i % NUM_CLASSES for i in range(6)])
    for f in FORMATS:
        kp = data['inputs'][f][f]['keypoint']
        pooled = model.backbone(kp, f).mean(dim=(1, 3, 4))
        bn = model.feature_norm[f]  # eval: running statistics, no affine parameters
        normed = (pooled - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps)
        expected = F.cross_entropy(model.cls_heads[f].fc(normed), labels)
        torch.testing.assert_close(losses[f'loss_{f}'], expected)
    assert not any(p.requires_grad for p in model.feature_norm.parameters())


def test_labels_of_a_packed_sample_list_without_building_it():
    import pickle

    from mmaction.structures import ActionDataSample

    from msclr_mm.datasets import SampleList
    from msclr_mm.models.algorithms import MultiSkeletonRecognizer

    def packed(labels):
        samples = []
        for i, label in enumerate(labels):
            s = ActionDataSample().set_gt_label(label)
            s.set_metainfo(dict(frame_dir=f'clip{i}'))
            samples.append(s)
        return pickle.loads(pickle.dumps(SampleList(samples)))

    lst = packed([3, 0, 2])
    got = MultiSkeletonRecognizer._labels(lst, torch.device('cpu'), num_classes=4)
    assert got.tolist() == [3, 0, 2] and got.dtype == torch.long and lst._samples is None
    with pytest.raises(ValueError, match=r'sample clip1 has label 7; expected 0 <= label < num'):
        MultiSkeletonRecognizer._labels(packed([1, 7]), torch.device('cpu'), num_classes=4)
    unlabelled = ActionDataSample()
    unlabelled.set_metainfo(dict(frame_dir='nolabel'))
    no_label = pickle.loads(pickle.dumps(SampleList([unlabelled])))
    with pytest.raises(ValueError, match='sample nolabel has no gt_label'):
        MultiSkeletonRecognizer._labels(no_label, torch.device('cpu'))


def test_without_cls_head_it_is_the_encoder_alone_giving_knn_features():
    """cls_head=None: backbone weights only, predict() gives KNNMetric's pred_feature."""
    model = build(cls_head=None).eval()
    assert not model.has_classifier and model.formats == FORMATS and model.num_classes is None
    assert all(k.startswith('backbone.') for k in model.state_dict())
    k = clip('kinect25', 2, s=3, seed=1)  # (n, S, M, T, V, C): test clips are averaged
    s = clip('smplx42', 2, seed=2)
    data = batch({'kinect25': (k, [0, 1]), 'smplx42': (s, [2, 0])}, [0, 1, 2])
    out = model(**data, mode='predict')
    with torch.no_grad():
        fk = torch.stack(
            [model.backbone(k[i], 'kinect25').mean(dim=(1, 3, 4)).mean(0) for i in (0, 1)]
        )
        fs = model.backbone(s, 'smplx42').mean(dim=(1, 3, 4))
    assert set(out[0].pred_feature) == {'kinect25', 'smplx42'}
    assert set(out[1].pred_feature) == {'kinect25'} and set(out[2].pred_feature) == {'smplx42'}
    torch.testing.assert_close(out[1].pred_feature['kinect25'], fk[1])
    torch.testing.assert_close(out[0].pred_feature['smplx42'], fs[1])
    assert out[0].pred_feature['kinect25'].shape == (CHANNELS[-1],)
    assert not any(hasattr(ds, 'pred_score') and 'pred_score' in ds for ds in out)
    tensor = model(**data, mode='tensor')
    torch.testing.assert_close(tensor['smplx42']['smplx42']['feat'], fs)
    with pytest.raises(ValueError, match='no classifier'):
        model(**data, mode='loss')
    with pytest.raises(ValueError, match='feature_norm=True needs a cls_head'):
        build(cls_head=None, feature_norm=True)
    # a clip with one format in two views is refused, naming it
    twice = batch({'kinect25': (clip('kinect25', 1), [0])}, [0])
    twice['inputs']['again'] = {
        'kinect25': dict(keypoint=clip('kinect25', 1), index=torch.tensor([0]))
    }
    with pytest.raises(ValueError, match="A000 has format 'kinect25' in two views"):
        model(**twice, mode='predict')


def test_features_match_the_contrastive_algorithms_predict():
    """The kNN features equal those the pretraining model (AimCLR) gives for its own weights."""
    pre = MODELS.build(
        dict(
            type='AimCLR',
            backbone=backbone_cfg(),
            neck=dict(type='ProjectionNeck', in_channels=16, hid_channels=16, out_channels=8),
            head=dict(type='ContrastiveHead', temperature=0.07),
            queue_len=16,
            feat_dim=8,
            data_preprocessor=dict(type='BaseDataPreprocessor'),
        )
    )
    torch.manual_seed(2)
    with torch.no_grad():
        for p in pre.parameters():
            p.uniform_(-0.5, 0.5)
    enc = build(cls_head=None)
    missing, _ = enc.load_state_dict(pre.state_dict(), strict=False)
    assert not missing
    pre.eval(), enc.eval()
    data = full_batch(n=4)
    want = pre.predict(data['inputs'], samples([0, 1, 2, 3]))
    got = enc.predict(data['inputs'], samples([0, 1, 2, 3]))
    for w, g in zip(want, got):
        assert set(w.pred_feature) == set(g.pred_feature) == set(FORMATS)
        for f in FORMATS:
            torch.testing.assert_close(g.pred_feature[f], w.pred_feature[f])
