"""The evaluation configs: linear probe, kNN, semi-supervised, fine-tuning (NTU and demo)."""

import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

import msclr_mm  # noqa: F401

from ..conftest import REPO_ROOT, run_python

EVAL = osp.join(REPO_ROOT, 'configs', 'eval')
CONFIGS = sorted(glob.glob(osp.join(EVAL, '*.py')))
NAMES = [osp.basename(p) for p in CONFIGS]
LINEAR = [n for n in NAMES if n.startswith('linear_')]
TUNED = [n for n in NAMES if n.startswith(('finetune_', 'semi'))]
KNN = [n for n in NAMES if n.startswith('knn')]
DEMO_PROBE = 'linear_1xb16-{}-50f-kinect25+smpl24+coco17-5e_demo.py'
NTU_PROBE = 'linear_1xb128-{}-50f-kinect25+smplx42-100e_ntu60-xsub.py'


def _cfg(name):
    return Config.fromfile(osp.join(EVAL, name))


def _build_model(cfg):
    import mmaction.models  # noqa: F401
    from mmaction.registry import MODELS

    init_default_scope('mmaction')
    return MODELS.build(cfg.model)


def test_every_protocol_is_there():
    assert len(CONFIGS) == len(LINEAR) + len(TUNED) + len(KNN), NAMES
    for stream in ('joint', 'bone', 'motion'):
        assert DEMO_PROBE.format(stream) in NAMES
        assert NTU_PROBE.format(stream) in NAMES
        assert NTU_PROBE.format(stream).replace('xsub', 'xview') in NAMES
    for bench in ('ntu60-xsub', 'ntu60-xview', 'ntu120-xsub', 'ntu120-xset'):
        assert any(n.startswith('linear_1xb128-joint') and bench in n for n in NAMES), bench
    for prefix in ('semi1p_', 'semi10p_', 'finetune_'):
        assert sum(n.startswith(prefix) for n in NAMES) == 2, prefix  # NTU-60 and demo
    assert len(KNN) == 3


@pytest.mark.parametrize('name', NAMES)
def test_config_parses_builds_and_matches_its_name(name):
    cfg = _cfg(name)
    model = _build_model(cfg)
    formats = list(model.backbone.formats)
    assert formats == (
        ['kinect25', 'smpl24', 'coco17'] if 'demo' in name else ['kinect25', 'smplx42']
    )
    # the data holds every format the model serves, for every split used
    loaders = [cfg.test_dataloader] + ([] if name in KNN else [cfg.train_dataloader])
    for loader in loaders:
        ds = loader.dataset
        parts = [ds.bank, ds.query] if ds.type == 'KNNEvalDataset' else [ds.get('dataset', ds)]
        for part in parts:
            assert list(part.ann_files) == formats
            root = (
                'data/demo'
                if 'demo' in name
                else ('data/ntu120' if 'ntu120' in name else 'data/ntu60')
            )
            assert all(p.startswith(root + '/') for p in part.ann_files.values())
            assert part.pipeline[0]['type'] == 'AllFormatViews'
            assert part.pipeline[1]['type'] == 'SampleSkeletonFrames'
            assert part.pipeline[1]['test_mode'] is True  # fixed clips, as the reference
            split = part.split
            bench = re.search(r'_(ntu\d+-\w+|demo)\.py$', name).group(1)
            expect = 'xsub' if bench == 'demo' else bench.split('-')[1]
            assert split.startswith(expect + '_'), (name, split)
    if name in KNN:
        assert cfg.test_evaluator.type == 'KNNMetric'
        k, t = re.match(r'knn-k(\d+)-t([\d.]+)_', name).groups()
        assert cfg.test_evaluator.k == int(k) and cfg.test_evaluator.temperature == float(t)
        assert type(model).__name__ == 'AimCLR'
        return
    assert type(model).__name__ == 'MultiSkeletonRecognizer'
    assert model.formats == formats
    assert model.num_classes == (10 if 'demo' in name else 120 if 'ntu120' in name else 60)
    gpus, batch, stream, epochs = re.match(r'\w+_(\d+)xb(\d+)-(\w+)-50f-.*-(\d+)e_', name).groups()
    assert cfg.train_dataloader.batch_size == int(batch)
    assert cfg.model.data_preprocessor.stream == stream
    assert cfg.train_cfg.max_epochs == int(epochs)
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.prefix == 'backbone.'
    assert cfg.test_evaluator.type == 'AccMetric'
    assert cfg.test_dataloader.dataset.pipeline[1]['num_clips'] == (2 if 'demo' in name else 10)


@pytest.mark.parametrize('name', LINEAR)
def test_linear_probe_freezes_the_whole_encoder(name):
    cfg = _cfg(name)
    model = _build_model(cfg)
    assert cfg.model.backbone.frozen_stages == len(model.backbone.blocks)
    assert cfg.model.backbone.norm_eval is True
    model.train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.cls_heads.parameters())
    bns = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    drops = [m for m in model.backbone.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops and not any(m.training for m in drops)  # frozen blocks stay in eval mode


@pytest.mark.parametrize('name', TUNED)
def test_finetune_and_semi_train_the_whole_encoder(name):
    cfg = _cfg(name)
    model = _build_model(cfg)
    model.train()
    assert all(p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.backbone.modules() if isinstance(m, _BatchNorm))


def _sgd(cfg):
    opt = cfg.optim_wrapper.optimizer
    return opt.type, opt.lr, opt.momentum, opt.weight_decay, opt.get('nesterov', False)


def _steps(cfg):
    return [(s.type, tuple(s.get('milestones', ())), s.get('end')) for s in cfg.param_scheduler]


def test_linear_probe_schedule_is_the_papers():
    for stream in ('joint', 'bone', 'motion'):
        cfg = _cfg(NTU_PROBE.format(stream))
        assert _sgd(cfg) == ('SGD', 3.0, 0.9, 0.0, False)
        assert cfg.train_cfg.max_epochs == 100
        assert _steps(cfg) == [('MultiStepLR', (80,), None)]
        assert cfg.param_scheduler[0].gamma == 0.1
    big = _cfg('linear_8xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py')
    assert _sgd(big)[1] == 24.0 and big.auto_scale_lr.base_batch_size == 128
    demo = _cfg(DEMO_PROBE.format('joint'))
    # 40 steps: BN-normalised features (feature_norm) at lr 0.1 instead of the scaled 0.375
    assert _sgd(demo) == ('SGD', 0.1, 0.9, 0.0, False)
    assert demo.model.feature_norm is True
    nl = _cfg('linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py')
    assert not nl.model.get('feature_norm', False)  # the papers' probe on NTU
    assert _steps(demo) == [('MultiStepLR', (4,), None)]  # x0.1 at 80 %


def test_finetune_and_semi_schedules():
    for name in TUNED:
        cfg = _cfg(name)
        if 'ntu60' in name:
            assert _sgd(cfg) == ('SGD', 0.1, 0.9, 1e-4, True)
            assert cfg.train_cfg.max_epochs == 70
            assert _steps(cfg) == [('LinearLR', (), 5), ('MultiStepLR', (30, 55), None)]
            assert cfg.train_dataloader.batch_size == 64
        else:
            assert _sgd(cfg) == ('SGD', 0.1 * 16 / 64, 0.9, 1e-4, True)
            assert _steps(cfg) == [('LinearLR', (), 2), ('MultiStepLR', (8,), None)]
        ds = cfg.train_dataloader.dataset
        if name.startswith('semi'):
            pct = int(re.match(r'semi(\d+)p_', name).group(1))
            assert ds.type == 'LabelSubsetDataset'
            assert ds.fraction == pct / 100 and ds.seed == 0 and ds.min_per_class == 1
            assert ds.dataset.type == 'MultiSkeletonDataset'
            assert ds.dataset.split == 'xsub_train' and ds.dataset.repeat_per_format is False
        else:
            assert ds.type == 'MultiSkeletonDataset'


def test_probe_train_dataset_gives_every_format_of_each_clip_once(tmp_path, monkeypatch):
    """Demo probe and semi-supervised datasets built on real (generated) demo data."""
    from mmaction.registry import DATASETS

    run_python(
        [osp.join(REPO_ROOT, 'tools', 'data', 'make_demo_data.py'), '--out-dir', 'data/demo'],
        cwd=tmp_path,
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('MSCLR_MM_CACHE_DIR', str(tmp_path / 'cache'))
    init_default_scope('mmaction')
    probe = DATASETS.build(_cfg(DEMO_PROBE.format('joint')).train_dataloader.dataset)
    assert len(probe) == 120  # clips of xsub_train, once each (no repeat per format)
    sample = probe[0]
    assert sorted(sample['inputs']) == ['coco17', 'kinect25', 'smpl24']
    again = probe[0]  # fixed clip positions: the same frames every epoch
    kp = sample['inputs']['kinect25']['keypoint']
    assert kp.shape == (2, 50, 25, 3)  # (M, T, V, C), one clip
    assert torch.equal(
        torch.as_tensor(kp), torch.as_tensor(again['inputs']['kinect25']['keypoint'])
    )
    semi = DATASETS.build(
        _cfg('semi10p_1xb16-joint-50f-kinect25+smpl24+coco17-10e_demo.py').train_dataloader.dataset
    )
    labels = semi.get_labels()
    assert len(labels) == 10 and sorted(labels) == list(range(10))  # 12 per class -> 1 each
    test = DATASETS.build(_cfg(DEMO_PROBE.format('joint')).test_dataloader.dataset)
    assert len(test) == 80
    assert test[0]['inputs']['smpl24']['keypoint'].shape == (2, 2, 50, 24, 3)  # (S, M, T, V, C)


def test_pretrained_checkpoint_initialises_the_probe_backbone(tmp_path):
    """The hand-off: a whole MS-AimCLR checkpoint -> the probe's encoder, nothing else."""
    pre_cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'demo', 'msaimclr_demo.py'))
    pretrained = _build_model(pre_cfg)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in pretrained.parameters():
            p.uniform_(-1, 1)
        for name, b in pretrained.named_buffers():
            if 'running_var' in name:
                b.uniform_(0.5, 2.0)
    ckpt = tmp_path / 'epoch_10.pth'
    torch.save(dict(state_dict=pretrained.state_dict(), meta=dict(epoch=10)), ckpt)

    cfg = _cfg(DEMO_PROBE.format('bone'))
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    probe = _build_model(cfg)
    heads_before = {k: v.clone() for k, v in probe.cls_heads.state_dict().items()}
    probe.init_weights()
    want = {
        k[len('backbone.') :]: v
        for k, v in pretrained.state_dict().items()
        if k.startswith('backbone.')
    }
    got = probe.backbone.state_dict()
    assert set(got) == set(want)
    for k in got:
        assert torch.equal(got[k], want[k]), k
    for k, v in probe.cls_heads.state_dict().items():  # the heads are not in the checkpoint
        assert v.shape == heads_before[k].shape
        assert not any(torch.equal(v, w) for n, w in want.items() if w.shape == v.shape)

    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'missing.pth')
    with pytest.raises((FileNotFoundError, OSError)):
        _build_model(cfg).init_weights()


def test_kard_linear_probe_config():
    cfg = Config.fromfile(
        osp.join(
            REPO_ROOT, 'configs', 'kard', 'linear_1xb16-joint-32f-openni15+openni15_2d-5e_kard.py'
        )
    )
    assert cfg.model.type == 'MultiSkeletonRecognizer' and cfg.model.feature_norm is True
    assert cfg.model.backbone.formats == ['openni15', 'openni15_2d']
    assert cfg.model.backbone.frozen_stages == 10 and cfg.model.backbone.norm_eval
    assert cfg.model.cls_head.num_classes == 18
    for loader, split, clips in (('train_dataloader', 'train', 1), ('test_dataloader', 'test', 2)):
        dataset = cfg[loader].dataset
        assert dataset.split == split and dataset.num_person == 1
        assert dict(dataset.ann_files) == {
            'openni15': 'data/kard/openni15.pkl',
            'openni15_2d': 'data/kard/openni15_2d.pkl',
        }
        assert dataset.pipeline[1].num_clips == clips and dataset.pipeline[1].clip_len == 32
