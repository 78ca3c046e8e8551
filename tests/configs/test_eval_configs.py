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
DEMO_PROBE = 'linear_1xb16-{}-32f-kinect25+smpl24+coco17-5e_demo.py'
NTU_PROBE = 'linear_1xb128-{}-50f-kinect25+smplx42-100e_ntu60-xsub.py'
NTU_PROBE_64F = 'linear_1xb128-{}-64f-kinect25+smplx42-150e_ntu60-xsub.py'
MSCLR = osp.join(REPO_ROOT, 'configs', 'msclr')
DEMO_PRETRAIN = osp.join(REPO_ROOT, 'configs', 'demo')
BENCH = re.compile(r'_(ntu60-xsub|ntu60-xview|ntu120-xsub|ntu120-xset|demo)\.py$')


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
    for stream in ('joint', 'bone', 'motion'):  # the SkeleMixCLR family's 64-frame probes
        assert NTU_PROBE_64F.format(stream) in NAMES
        assert NTU_PROBE_64F.format(stream).replace('xsub', 'xview') in NAMES
    for prefix in ('semi1p_', 'semi10p_', 'finetune_'):
        assert sum(n.startswith(prefix) for n in NAMES) == 2, prefix  # NTU-60 and demo
    assert len(KNN) == 5  # NTU-60 x-sub / x-view at 50 and 64 frames, demo


def _clip_len_and_persons(dataset):
    """``(clip_len, num_person)`` a dataset config feeds (2 persons: the dataset default)."""
    dataset = dataset.get('dataset', dataset)  # LabelSubsetDataset
    parts = [dataset.bank, dataset.query] if dataset.type == 'KNNEvalDataset' else [dataset]
    out = {
        (
            next(t for t in part.pipeline if t['type'] == 'SampleSkeletonFrames')['clip_len'],
            part.get('num_person', 2),
        )
        for part in parts
    }
    assert len(out) == 1, out
    return out.pop()


def _eval_loaders(cfg):
    return [cfg[k] for k in ('train_dataloader', 'val_dataloader', 'test_dataloader') if k in cfg]


def _fed(cfg):
    """The one ``(clip_len, num_person)`` every loader of ``cfg`` feeds."""
    out = {_clip_len_and_persons(loader.dataset) for loader in _eval_loaders(cfg)}
    assert len(out) == 1, out
    return out.pop()


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
    frames = int(re.search(r'-(\d+)f-', name).group(1))
    # the clip length the name says (the demo's 32: as its pretraining,
    # test_demo_evaluation_feeds_clips_as_the_demo_pretraining)
    assert _fed(cfg)[0] == frames
    if name in KNN:
        assert cfg.test_evaluator.type == 'KNNMetric'
        k, t = re.match(r'knn-k(\d+)-t([\d.]+)_', name).groups()
        assert cfg.test_evaluator.k == int(k) and cfg.test_evaluator.temperature == float(t)
        # the encoder alone: any pretraining checkpoint of it fits (test_knn_configs_load_...)
        assert type(model).__name__ == 'MultiSkeletonRecognizer' and not model.has_classifier
        assert all(k.startswith('backbone.') for k in model.state_dict())
        return
    assert type(model).__name__ == 'MultiSkeletonRecognizer'
    assert model.formats == formats
    assert model.num_classes == (10 if 'demo' in name else 120 if 'ntu120' in name else 60)
    gpus, batch, stream, epochs = re.match(r'\w+_(\d+)xb(\d+)-(\w+)-\d+f-.*-(\d+)e_', name).groups()
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
    # 40 steps: BN-normalised features (feature_norm); each of the 3 classifiers at 0.1 / 3,
    # its rate when the formats' losses were averaged at lr 0.1 (the measured demo numbers)
    assert _sgd(demo) == ('SGD', pytest.approx(0.1 / 3), 0.9, 0.0, False)
    assert demo.model.feature_norm is True
    nl = _cfg('linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py')
    assert not nl.model.get('feature_norm', False)  # the papers' probe on NTU
    assert _steps(demo) == [('MultiStepLR', (4,), None)]  # x0.1 at 80 %
    for stream in ('joint', 'bone', 'motion'):
        for split in ('xsub', 'xview'):
            # the SkeleMixCLR reference's probe: lr 3.0, wd 0, 150 epochs, x0.1 at 80
            cfg = _cfg(NTU_PROBE_64F.format(stream).replace('xsub', split))
            assert _sgd(cfg) == ('SGD', 3.0, 0.9, 0.0, False)
            assert cfg.train_cfg.max_epochs == 150
            assert _steps(cfg) == [('MultiStepLR', (80,), None)]
            assert not cfg.model.get('feature_norm', False)


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
        # the encoder gets the sum of the F formats' gradients: lr / F and wd * F on it give
        # the update of the mean cross-entropy (test_finetune_encoder_step_is_the_mean_...)
        num_formats = len(cfg.model.backbone.formats)
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys == dict(
            backbone=dict(lr_mult=1.0 / num_formats, decay_mult=num_formats)
        )
        ds = cfg.train_dataloader.dataset
        if name.startswith('semi'):
            pct = int(re.match(r'semi(\d+)p_', name).group(1))
            assert ds.type == 'LabelSubsetDataset'
            assert ds.fraction == pct / 100 and ds.seed == 0 and ds.min_per_class == 1
            assert ds.dataset.type == 'MultiSkeletonDataset'
            assert ds.dataset.split == 'xsub_train' and ds.dataset.repeat_per_format is False
            # the labelled clips are fed as the fine-tune's (same pipeline, persons, formats)
            tuned = _cfg(name.replace(re.match(r'semi\d+p_', name).group(0), 'finetune_'))
            assert ds.dataset == tuned.train_dataloader.dataset
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
    assert kp.shape == (1, 32, 25, 3)  # (M, T, V, C), one clip, as the demo pretraining
    assert torch.equal(
        torch.as_tensor(kp), torch.as_tensor(again['inputs']['kinect25']['keypoint'])
    )
    semi = DATASETS.build(
        _cfg('semi10p_1xb16-joint-32f-kinect25+smpl24+coco17-10e_demo.py').train_dataloader.dataset
    )
    labels = semi.get_labels()
    assert len(labels) == 10 and sorted(labels) == list(range(10))  # 12 per class -> 1 each
    test = DATASETS.build(_cfg(DEMO_PROBE.format('joint')).test_dataloader.dataset)
    assert len(test) == 80
    assert test[0]['inputs']['smpl24']['keypoint'].shape == (2, 1, 32, 24, 3)  # (S, M, T, V, C)


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
    # each classifier at the rate its README figures had (lr 0.1 averaged over 2 formats)
    assert cfg.optim_wrapper.optimizer.lr == 0.05
    for loader, split, clips in (('train_dataloader', 'train', 1), ('test_dataloader', 'test', 2)):
        dataset = cfg[loader].dataset
        assert dataset.split == split and dataset.num_person == 1
        assert dict(dataset.ann_files) == {
            'openni15': 'data/kard/openni15.pkl',
            'openni15_2d': 'data/kard/openni15_2d.pkl',
        }
        assert dataset.pipeline[1].num_clips == clips and dataset.pipeline[1].clip_len == 32


# ------------------------------------------------------------------ encoder hand-off
def _demo_sh_pretraining():
    """``(pretraining config, its work_dir)`` as ``tools/demo.sh`` runs the demo pretraining."""
    with open(osp.join(REPO_ROOT, 'tools', 'demo.sh')) as f:
        text = f.read()
    config = re.search(r'PRETRAIN_CONFIG="\$REPO/([^"]+)"', text).group(1)
    work_dir = re.search(r'WORK_DIR="\$\{WORK_DIR:-([^}]+)\}"', text).group(1)
    assert 'PRE_DIR="$WORK_DIR/pretrain"' in text
    return osp.join(REPO_ROOT, config), f'{work_dir}/pretrain'


def _pretraining_config(checkpoint):
    """The pretraining config whose default work_dir holds ``checkpoint``."""
    work_dir, file = osp.split(checkpoint)
    demo_config, demo_dir = _demo_sh_pretraining()
    if work_dir == demo_dir:
        return demo_config, file
    assert work_dir.startswith('work_dirs/'), checkpoint
    path = osp.join(MSCLR, osp.basename(work_dir) + '.py')
    assert osp.isfile(path), f'{checkpoint}: no pretraining config {path} writes it'
    return path, file


def _split_kind(dataset):
    """``('ntu60' | 'ntu120' | 'demo', 'xsub' | 'xview' | 'xset')`` a dataset config reads."""
    dataset = dataset.get('dataset', dataset)
    if dataset.type == 'KNNEvalDataset':
        dataset = dataset.bank
    root = osp.basename(osp.dirname(next(iter(dataset.ann_files.values()))))
    return root, dataset.split.split('_')[0]


WITH_CHECKPOINT = [
    n for n in NAMES if n not in KNN and _cfg(n).model.backbone.get('init_cfg') is not None
]


@pytest.mark.parametrize('name', WITH_CHECKPOINT)
def test_default_checkpoint_is_the_pretraining_of_the_same_benchmark_stream_and_clips(name):
    """An x-view probe must not read the x-sub encoder, a bone probe the joint one, etc."""
    cfg = _cfg(name)
    checkpoint = cfg.model.backbone.init_cfg.checkpoint
    bench = BENCH.search(name).group(1)
    stream = cfg.model.data_preprocessor.stream
    pre_path, file = _pretraining_config(checkpoint)
    pre = Config.fromfile(pre_path)
    pre_stream = pre.model.data_preprocessor.stream
    if bench == 'demo':
        # tools/demo.sh pretrains the demo on joints only: its bone and motion probes read
        # that joint encoder, as long as there is no demo pretraining for their stream
        assert pre_stream == 'joint'
        if stream != 'joint':
            others = glob.glob(osp.join(DEMO_PRETRAIN, '*.py'))
            assert all(Config.fromfile(p).model.data_preprocessor.stream == 'joint' for p in others)
    else:
        assert f'_{bench}/' in checkpoint and f'-{stream}-' in checkpoint, checkpoint
        assert pre_stream == stream, (checkpoint, pre_stream)
        assert pre_path.endswith(f'_{bench}.py')
    # the same data: benchmark, split, formats, clip length and persons
    for loader in _eval_loaders(cfg):
        assert _split_kind(loader.dataset) == _split_kind(pre.train_dataloader.dataset), name
    assert list(pre.model.backbone.formats) == list(cfg.model.backbone.formats)
    assert _fed(cfg) == _clip_len_and_persons(pre.train_dataloader.dataset), (name, pre_path)
    graph = 'stgcn_spatial'  # and the same graph partition (SkeleMixCLR's: 'spatial')
    assert cfg.model.backbone.get('graph_mode', graph) == pre.model.backbone.get(
        'graph_mode', graph
    )
    # the pretraining's last epoch
    assert file == f'epoch_{pre.train_cfg.max_epochs}.pth', (checkpoint, pre.train_cfg.max_epochs)


# kNN configs take the checkpoint on the command line; these are the pretrainings each is
# documented for (clips as pretrained), and the checkpoints it must load
KNN_CLIPS = {
    'knn-k200-t0.07_1xb128-joint-50f-kinect25+smplx42_ntu60-xsub.py': [
        osp.join(MSCLR, f'{a}_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py')
        for a in ('msskeletonclr', 'msaimclr')
    ],
    'knn-k200-t0.07_1xb128-joint-50f-kinect25+smplx42_ntu60-xview.py': [
        osp.join(MSCLR, f'{a}_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xview.py')
        for a in ('msskeletonclr', 'msaimclr')
    ],
    'knn-k200-t0.07_1xb128-joint-64f-kinect25+smplx42_ntu60-xsub.py': [
        osp.join(MSCLR, f'{a}_1xb128-joint-64f-kinect25+smplx42-300e_ntu60-xsub.py')
        for a in ('msskelemixclr', 'msskelemixclr-plus')
    ],
    'knn-k200-t0.07_1xb128-joint-64f-kinect25+smplx42_ntu60-xview.py': [
        osp.join(MSCLR, f'{a}_1xb128-joint-64f-kinect25+smplx42-300e_ntu60-xview.py')
        for a in ('msskelemixclr', 'msskelemixclr-plus')
    ],
    'knn-k20-t0.07_1xb40-joint-32f-kinect25+smpl24+coco17_demo.py': [
        osp.join(DEMO_PRETRAIN, f'{a}_demo.py')
        for a in ('msaimclr', 'msskeletonclr', 'msskelemixclr')
    ],
}


@pytest.mark.parametrize('name', sorted(KNN_CLIPS))
def test_knn_config_feeds_clips_as_its_pretrainings(name):
    assert sorted(KNN_CLIPS) == sorted(KNN)
    cfg = _cfg(name)
    for path in KNN_CLIPS[name]:
        pre = Config.fromfile(path)
        assert _fed(cfg) == _clip_len_and_persons(pre.train_dataloader.dataset), path
        assert _split_kind(cfg.test_dataloader.dataset) == _split_kind(pre.train_dataloader.dataset)
        assert list(pre.model.backbone.formats) == list(cfg.model.backbone.formats)


def _randomised(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1, 1)
        for name, b in model.named_buffers():
            if 'running_var' in name:
                b.uniform_(0.5, 2.0)
    return model


@pytest.mark.parametrize(
    'name',
    [
        'knn-k200-t0.07_1xb128-joint-50f-kinect25+smplx42_ntu60-xsub.py',
        'knn-k200-t0.07_1xb128-joint-64f-kinect25+smplx42_ntu60-xsub.py',
        'knn-k20-t0.07_1xb40-joint-32f-kinect25+smpl24+coco17_demo.py',
    ],
)
def test_knn_config_loads_checkpoints_of_every_pretraining_it_claims(name, tmp_path):
    """tools/test.py's check and load, on checkpoints of freshly built pretraining models.

    NTU: MS-SkeletonCLR, MS-AimCLR, MS-SkeleMixCLR and MS-SkeleMixCLR+ (BatchNorm in its
    neck: other neck keys); demo: the three demo pretrainings (queue 256).
    """
    from mmengine.runner import load_checkpoint

    from msclr_mm.utils.runner import check_checkpoint_matches

    if 'demo' in name:
        claimed = KNN_CLIPS[name]
    else:
        claimed = KNN_CLIPS[name.replace('64f', '50f')] + KNN_CLIPS[name.replace('50f', '64f')]
    assert len(claimed) >= 3
    for i, path in enumerate(claimed):
        pre_cfg = Config.fromfile(path)
        pre_cfg.model.backbone.compile = False
        pretrained = _randomised(_build_model(pre_cfg), seed=i)
        ckpt = tmp_path / f'{osp.basename(path)[:-3]}.pth'
        torch.save(dict(state_dict=pretrained.state_dict(), meta=dict(epoch=300)), ckpt)
        model = _build_model(_cfg(name))
        check_checkpoint_matches(model, str(ckpt))  # raises SystemExit if it does not fit
        load_checkpoint(model, str(ckpt), map_location='cpu', strict=False, logger='silent')
        want = pretrained.backbone.state_dict()
        got = model.backbone.state_dict()
        assert set(got) == set(want), path
        for k in got:
            assert torch.equal(got[k], want[k]), (path, k)


def test_demo_evaluation_feeds_clips_as_the_demo_pretraining():
    """Same clip length and persons as `demo_pretrain.py` (32 frames, one person)."""
    bases = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets')
    pre = Config.fromfile(osp.join(bases, 'demo_pretrain.py'))
    want = _clip_len_and_persons(pre.train_dataloader.dataset)
    assert want == _clip_len_and_persons(pre.val_dataloader.dataset) == (32, 1)
    for base in ('demo_eval.py', 'demo_eval_knn.py'):
        cfg = Config.fromfile(osp.join(bases, base))
        assert cfg.clip_len == pre.clip_len and cfg.num_person == pre.num_person
        assert _fed(cfg) == want, base
    for name in NAMES:
        if 'demo' in name:
            assert _fed(_cfg(name)) == want, name


def test_finetune_encoder_step_is_the_mean_cross_entropys_heads_their_own():
    """Summed losses + the fine-tune configs' paramwise lr / decay: one SGD step gives the
    encoder the update of the mean cross-entropy at the config's lr and wd, and each head the
    update of its own cross-entropy at that lr (the single-format recipe for both)."""
    import copy

    from mmaction.structures import ActionDataSample
    from mmengine.optim import build_optim_wrapper

    cfg = _cfg('finetune_1xb64-joint-50f-kinect25+smplx42-70e_ntu60-xsub.py')
    init_default_scope('mmaction')
    formats = ['kinect25', 'smplx42']
    model_cfg = dict(
        type='MultiSkeletonRecognizer',
        backbone=dict(type='UnifiedSTGCN', formats=formats, channels=(8, 8, 16), dropout=0.0),
        cls_head=dict(num_classes=4),
        data_preprocessor=dict(type='BaseDataPreprocessor'),
    )
    torch.manual_seed(0)
    base = _build_model(Config(dict(model=model_cfg)))
    base.init_weights()
    g = torch.Generator().manual_seed(1)
    v = dict(kinect25=25, smplx42=42)
    inputs = {
        f: {f: dict(keypoint=torch.randn(6, 2, 12, v[f], 3, generator=g), index=torch.arange(6))}
        for f in formats
    }
    samples = [ActionDataSample().set_gt_label(i % 4) for i in range(6)]

    def step(model, optimizer, scale):
        model.train()
        losses = model(copy.deepcopy(inputs), samples, mode='loss')
        total, _ = model.parse_losses(losses)
        optimizer.zero_grad()
        (total * scale).backward()
        optimizer.step()

    tuned = copy.deepcopy(base)
    wrapper = build_optim_wrapper(tuned, copy.deepcopy(cfg.optim_wrapper))
    step(tuned, wrapper.optimizer, 1.0)
    opt = cfg.optim_wrapper.optimizer
    plain = dict(lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay, nesterov=True)
    mean = copy.deepcopy(base)  # the encoder's reference: mean cross-entropy, plain SGD
    step(mean, torch.optim.SGD(mean.parameters(), **plain), 1.0 / len(formats))
    own = copy.deepcopy(base)  # the heads' reference: each its own cross-entropy
    step(own, torch.optim.SGD(own.parameters(), **plain), 1.0)
    for (k, a), b in zip(tuned.backbone.named_parameters(), mean.backbone.parameters()):
        torch.testing.assert_close(a, b, msg=k)
    for (k, a), b in zip(tuned.cls_heads.named_parameters(), own.cls_heads.parameters()):
        torch.testing.assert_close(a, b, msg=k)
    assert any(  # the encoder did move: the comparison is not of two unchanged models
        not torch.equal(a, b)
        for a, b in zip(tuned.backbone.parameters(), base.backbone.parameters())
    )


@pytest.mark.slow
def test_demo_knn_config_scores_the_pretrainings_own_knn(tmp_path):
    """tools/test.py with the demo kNN config on a demo pretraining checkpoint (queue 256,
    neck, key encoder) reports the numbers of that pretraining's own kNN validation
    (tools/analysis/knn_eval.py on configs/demo/msaimclr_demo.py): same encoder, clips, bank."""
    import json

    run_python(
        [osp.join(REPO_ROOT, 'tools', 'data', 'make_demo_data.py'), '--out-dir', 'data/demo'],
        cwd=tmp_path,
    )
    pre_cfg = Config.fromfile(osp.join(DEMO_PRETRAIN, 'msaimclr_demo.py'))
    pretrained = _randomised(_build_model(pre_cfg), seed=0)
    ckpt = tmp_path / 'epoch_30.pth'
    torch.save(dict(state_dict=pretrained.state_dict(), meta=dict(epoch=30)), ckpt)
    env = dict(MSCLR_MM_CACHE_DIR=str(tmp_path / 'cache'))
    loader = ['num_workers=0', 'persistent_workers=False']
    knn = [n for n in KNN if 'demo' in n][0]
    test = run_python(
        [
            osp.join(REPO_ROOT, 'tools', 'test.py'),
            osp.join(EVAL, knn),
            str(ckpt),
            '--work-dir',
            str(tmp_path / 'test'),
            '--cfg-options',
            # the pretraining's batch of 64, not the config's 40: oneDNN's convolutions round
            # differently per batch size, enough to flip a near tie between neighbours
            *[f'test_dataloader.{o}' for o in [*loader, 'batch_size=64']],
        ],
        cwd=tmp_path,
        env=env,
    )
    own = run_python(
        [
            osp.join(REPO_ROOT, 'tools', 'analysis', 'knn_eval.py'),
            osp.join(DEMO_PRETRAIN, 'msaimclr_demo.py'),
            str(ckpt),
            '--work-dir',
            str(tmp_path / 'own'),
            '--cfg-options',
            *[f'val_dataloader.{o}' for o in loader],
        ],
        cwd=tmp_path,
        env=env,
    )
    want = json.loads(own.stdout.strip().splitlines()[-1])
    line = [ln for ln in (test.stdout + test.stderr).splitlines() if 'Epoch(test)' in ln][-1]
    got = dict(re.findall(r'(knn/\w+): ([\d.]+)', line))
    assert set(got) == {k for k in want if k.startswith('knn/')}
    for key, value in got.items():
        assert float(value) == pytest.approx(want[key], abs=1e-4), key
