"""Pretraining configs: every file parses with the recipe's values; models build; demos train.

The names encode the recipe (``{algo}_1xb128-{stream}-{frames}f-{formats}-300e_{data}.py``);
the parse test checks each config against its name and DESIGN.md's recipes.
"""

import glob
import os.path as osp
import textwrap

import pytest
from mmengine.config import Config

from ..conftest import REPO_ROOT, run_python

NTU_DIRS = ('msclr', 'skeletonclr', 'aimclr', 'skelemixclr')
NTU_CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for d in NTU_DIRS
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', d, '*.py'))
)
DEMO_CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT) for p in glob.glob(osp.join(REPO_ROOT, 'configs', 'demo', '*.py'))
)
ALGO_TYPES = {
    'skeletonclr': 'SkeletonCLR',
    'aimclr': 'AimCLR',
    'skelemixclr': 'SkeleMixCLR',
    'skelemixclr-plus': 'SkeleMixCLR',
}
SPLITS = {
    'ntu60-xsub': 'xsub',
    'ntu60-xview': 'xview',
    'ntu120-xsub': 'xsub',
    'ntu120-xset': 'xset',
}


def _parse_name(path):
    algo, rest = osp.basename(path)[:-3].split('_1xb128-')
    stream, frames, formats, tail = rest.split('-', 3)
    epochs, data = tail.split('_')
    return algo, stream, int(frames[:-1]), formats.split('+'), epochs, data


def _pipeline_clip_lens(dataset):
    return [t['clip_len'] for t in dataset['pipeline'] if t['type'] == 'SampleSkeletonFrames']


def test_config_set_is_complete():
    # 4 algorithms x 4 benchmarks x 3 streams x (2 MS format pairs + 1 single format)
    assert len(NTU_CONFIGS) == 4 * 4 * 3 * 3
    names = {osp.basename(p) for p in NTU_CONFIGS}
    assert 'msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py' in names
    assert 'msskelemixclr-plus_1xb128-motion-64f-kinect25+kinect25_2d-300e_ntu120-xset.py' in names
    assert 'skeletonclr_1xb128-bone-50f-kinect25-300e_ntu60-xview.py' in names
    assert {
        'msaimclr_demo.py',
        'aimclr_demo.py',
        'msskeletonclr_demo.py',
        'msskelemixclr_demo.py',
        'skeletonclr_demo.py',
        'skelemixclr_demo.py',
    } <= {osp.basename(p) for p in DEMO_CONFIGS}


@pytest.mark.parametrize('path', NTU_CONFIGS)
def test_ntu_config_matches_recipe(path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    algo, stream, frames, formats, epochs, data = _parse_name(path)
    base_algo = algo[2:] if algo.startswith('ms') else algo
    assert (len(formats) > 1) == algo.startswith('ms') == (osp.dirname(path) == 'configs/msclr')
    model = cfg.model
    assert model.type == ALGO_TYPES[base_algo]
    assert list(model.backbone.formats) == formats
    assert model.data_preprocessor.stream == stream
    assert model.queue_len == 32768 and model.momentum == 0.999 and model.feat_dim == 128
    plus = base_algo == 'skelemixclr-plus'
    assert model.head.temperature == (0.2 if plus else 0.07)
    assert model.neck.get('with_bn', False) is plus
    assert frames == (64 if base_algo.startswith('skelemix') else 50)
    assert model.get('num_mixes', 1) == (3 if plus else 1)  # reference swap_params repeat
    # SkeleMixCLR's reference encoder uses the AGCN partition (ntu_rgb_d.Graph 'spatial'),
    # SkeletonCLR's and AimCLR's ST-GCN's
    spatial = base_algo.startswith('skelemix')
    assert model.backbone.get('graph_mode', 'stgcn_spatial') == (
        'spatial' if spatial else 'stgcn_spatial'
    )
    # the reference's weights_init on both query-side modules
    for part in (model.backbone, model.neck):
        assert part.init_cfg == [
            dict(type='Normal', layer=['Conv1d', 'Conv2d', 'Linear'], mean=0.0, std=0.02, bias=0.0),
            dict(type='Normal', layer=['BatchNorm1d', 'BatchNorm2d'], mean=1.0, std=0.02, bias=0.0),
        ]
    if base_algo == 'aimclr':
        assert model.mining_epoch == 150
        # the feeder's _strong_aug: its own crop and shear, then aug_method '12345'
        extreme = model.data_preprocessor.derived_views.query_extreme
        assert extreme.start == 'input' and extreme.source == 'query'
        assert [op.type for op in extreme.ops] == [
            'temporal_crop',
            'shear',
            'flip',
            'rotate',
            'gaussian_noise',
            'gaussian_blur',
            'axis_mask',
        ]
        assert extreme.ops[4].std == 0.023  # 0.01 m on NTU's 0.43 m torso
        assert extreme.ops[2].mirror is False  # the feeder permutes joints only
    else:
        assert 'mining_epoch' not in model
    # schedule: SGD lr 0.1, wd 1e-4, x0.1 at 250 (SkeleMixCLR+: constant), 300 epochs,
    # batch 128, kNN every 50
    assert epochs == '300e' and cfg.train_cfg.max_epochs == 300 and cfg.train_cfg.val_interval == 50
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)
    if plus:
        assert cfg.param_scheduler == []
    else:
        assert [s.milestones for s in cfg.param_scheduler] == [[250]]
        assert cfg.param_scheduler[0].gamma == 0.1
    assert cfg.train_dataloader.batch_size == 128 and cfg.train_dataloader.drop_last
    assert cfg.default_hooks.checkpoint.save_best == 'knn/top1'
    assert cfg.default_hooks.checkpoint.rule == 'greater'
    assert cfg.val_evaluator.type == 'KNNMetric'
    # data: the benchmark's splits and one pickle per format under data/ntu60 or data/ntu120
    split = SPLITS[data]
    root = data.split('-')[0]
    expected_files = {f: f'data/{root}/{f}.pkl' for f in formats}
    train = cfg.train_dataloader.dataset
    val = cfg.val_dataloader.dataset
    assert val.type == 'KNNEvalDataset'
    assert (train.split, val.bank.split, val.query.split) == (
        f'{split}_train',
        f'{split}_train',
        f'{split}_val',
    )
    for ds in (train, val.bank, val.query, cfg.test_dataloader.dataset.query):
        assert dict(ds.ann_files) == expected_files
        assert _pipeline_clip_lens(ds) == [frames]
    assert val.query.test_mode and not train.get('test_mode', False)
    # the GPU speed switches (README § Speed), all no-ops on a CPU
    assert (
        cfg.optim_wrapper.type == 'AutocastOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
    )
    assert model.backbone.compile == 'reduce-overhead' and 'channels_last' not in model.backbone
    # the MS-CLR reference's batches: one query and one key format per batch
    assert train.pipeline[0] == dict(type='SampleFormatViews', rule='batch')
    assert cfg.train_dataloader.pin_memory
    assert model.data_preprocessor.non_blocking and not model.data_preprocessor.move_data_samples


@pytest.mark.parametrize(
    'path',
    [
        'configs/msclr/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py',
        'configs/msclr/msskelemixclr-plus_1xb128-bone-64f-kinect25+kinect25_2d-300e_ntu120-xset.py',
        'configs/skeletonclr/skeletonclr_1xb128-motion-50f-kinect25-300e_ntu60-xview.py',
        'configs/kard/msskeletonclr_kard.py',
    ],
)
def test_model_builds(path):
    from mmaction.registry import MODELS

    import msclr_mm  # noqa: F401

    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == cfg.model.type
    assert list(model.backbone.formats) == list(cfg.model.backbone.formats)
    assert model.data_preprocessor.stream == cfg.model.data_preprocessor.stream
    assert model.head.temperature == cfg.model.head.temperature
    assert model.queue.queue.shape == (cfg.model.feat_dim, cfg.model.queue_len)


def test_kard_config():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'kard', 'msskeletonclr_kard.py'))
    assert list(cfg.model.backbone.formats) == ['openni15', 'openni15_2d']
    ds = cfg.val_dataloader.dataset
    assert (ds.bank.split, ds.query.split) == ('train', 'test')
    assert dict(ds.query.ann_files) == {
        'openni15': 'data/kard/openni15.pkl',
        'openni15_2d': 'data/kard/openni15_2d.pkl',
    }
    assert _pipeline_clip_lens(cfg.train_dataloader.dataset) == _pipeline_clip_lens(ds.bank)


@pytest.mark.parametrize('path', DEMO_CONFIGS)
def test_demo_config(path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    name = osp.basename(path)[: -len('_demo.py')]
    base_algo = name[2:] if name.startswith('ms') else name
    assert cfg.model.type == ALGO_TYPES[base_algo]
    formats = ['kinect25', 'smpl24', 'coco17'] if name.startswith('ms') else ['kinect25']
    assert list(cfg.model.backbone.formats) == formats
    expected = {f: f'data/demo/{f}.pkl' for f in formats}
    for ds in (
        cfg.train_dataloader.dataset,
        cfg.val_dataloader.dataset.bank,
        cfg.val_dataloader.dataset.query,
    ):
        assert dict(ds.ann_files) == expected
    assert cfg.val_dataloader.dataset.query.split == 'xsub_val'
    assert cfg.default_hooks.checkpoint.save_best == 'knn/top1'
    assert cfg.randomness.seed == 0
    # the short-schedule MoCo settings measured on the demo (README "Results")
    model = cfg.model
    assert (model.momentum, model.queue_len, model.exclude_own_keys) == (0.99, 256, True)
    assert model.head.temperature == 0.2 and model.backbone.dropout == 0.0
    assert cfg.train_cfg.max_epochs == 30 and cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.train_dataloader.batch_size == 16
    if base_algo == 'aimclr':
        assert model.mining_epoch == 20


DRIVER = textwrap.dedent(
    """
    import runpy, sys
    train, work = sys.argv[1], sys.argv[2]
    for cfg in sys.argv[3:]:
        name = cfg.split('/')[-1][:-3]
        sys.argv = [train, cfg, '--work-dir', f'{work}/{name}', '--cfg-options',
                    'model.backbone.channels=(8,16)', 'model.neck.in_channels=16',
                    'model.neck.hid_channels=16', 'model.queue_len=64',
                    'default_hooks.logger.interval=1',
                    'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
                    'train_dataloader.persistent_workers=False',
                    'train_dataloader.dataset.indices=8',
                    'train_dataloader.dataset.repeat_per_format=False', 'train_cfg.max_epochs=1',
                    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
                    'val_dataloader.dataset.bank.indices=12',
                    'val_dataloader.dataset.query.indices=6']
        runpy.run_path(train, run_name='__main__')
    """
)


@pytest.mark.slow
def test_demo_configs_train_end_to_end(tmp_path):
    """Each demo config: 2 iterations of batch 4 (8 clips) through tools/train.py with a
    tiny backbone, then kNN on a few clips, all in one interpreter (saves the start-up time
    of one process per config)."""
    run_python(
        [osp.join(REPO_ROOT, 'tools', 'data', 'make_demo_data.py'), '--out-dir', 'data/demo'],
        cwd=tmp_path,
    )
    driver = tmp_path / 'driver.py'
    driver.write_text(DRIVER)
    configs = [osp.join(REPO_ROOT, p) for p in DEMO_CONFIGS]
    run_python(
        [str(driver), osp.join(REPO_ROOT, 'tools', 'train.py'), str(tmp_path / 'work'), *configs],
        cwd=tmp_path,
    )
    for path in DEMO_CONFIGS:
        work = tmp_path / 'work' / osp.basename(path)[:-3]
        assert (work / 'epoch_1.pth').is_file(), path
        logs = glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))
        text = open(logs[0]).read()
        assert '"knn/top1"' in text and '"loss_nce"' in text, path
        assert text.count('"loss_nce"') == 2, path  # logged every iteration: 2 iterations
        assert glob.glob(str(work / 'best_knn_top1_epoch_1.pth')), path


@pytest.mark.parametrize(
    'path', [*NTU_CONFIGS, *DEMO_CONFIGS, osp.join('configs', 'kard', 'msskeletonclr_kard.py')]
)
def test_half_precision_batches_go_only_to_the_skeleton_preprocessor(path):
    """float16 batches (GatherSkeletonViews) are only safe where the preprocessor casts."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    pipelines = [cfg.train_dataloader.dataset.pipeline]
    if cfg.get('val_dataloader'):
        val = cfg.val_dataloader.dataset
        pipelines += [val.bank.pipeline, val.query.pipeline] if 'bank' in val else [val.pipeline]
    dtypes = {t.get('dtype') for p in pipelines for t in p if t['type'] == 'GatherSkeletonViews'}
    assert dtypes == {'float16'}
    assert cfg.model.data_preprocessor.type == 'SkeletonDataPreprocessor'
