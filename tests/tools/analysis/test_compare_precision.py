"""tools/analysis/compare_precision.py: the runs' options and the loss-curve arithmetic."""

import argparse
import importlib.util
import json
import os.path as osp

import pytest
from mmengine.config import DictAction

from ...conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location(
    'compare_precision', osp.join(REPO_ROOT, 'tools', 'analysis', 'compare_precision.py')
)
cp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cp)


def parse_options(opts):
    """The dict tools/train.py's --cfg-options (mmengine DictAction) makes of ``opts``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *opts]).cfg_options


def write_scalars(path, records):
    with open(path, 'w') as f:
        for r in records:
            f.write(json.dumps(r) + '\n')


def test_run_options():
    fp32 = parse_options(cp.pretrain_options('fp32', 0, 1))
    bf16 = parse_options(cp.pretrain_options('bf16', 0, 1))
    noise = parse_options(cp.pretrain_options('fp32_seed2', 0, 1))
    for opts in (fp32, bf16, noise):
        assert opts['train_dataloader.dataset.pipeline.0.rule'] == 'balanced'
        assert opts['optim_wrapper.type'] == 'AutocastOptimWrapper'
        assert opts['model.backbone.compile'] is False
        assert opts['default_hooks.logger.interval'] == 1
        assert opts['log_processor.window_size'] == 1
    assert fp32['randomness.seed'] == 0 and bf16['randomness.seed'] == 0
    assert noise['randomness.seed'] == 1
    assert fp32['optim_wrapper.enabled'] is False
    assert fp32['model.backbone.channels_last'] is False
    assert 'optim_wrapper.device_types' not in fp32
    assert {k: v for k, v in noise.items() if k != 'randomness.seed'} == {
        k: v for k, v in fp32.items() if k != 'randomness.seed'
    }
    assert bf16['optim_wrapper.enabled'] is True
    assert bf16['optim_wrapper.device_types'] == ['cpu']  # a list, not the string "['cpu']"
    assert bf16['model.backbone.channels_last'] is True
    # the config's logging kept
    assert not any('logger' in o for o in cp.pretrain_options('fp32', 0, 1, log_interval=0))
    with pytest.raises(ValueError):
        cp.pretrain_options('fp16', 0, 1)


def test_probe_options():
    opts = parse_options(cp.probe_options('w/pretrain/epoch_10.pth', 3))
    assert opts == {
        'model.backbone.init_cfg.checkpoint': 'w/pretrain/epoch_10.pth',
        'randomness.seed': 3,
    }


def test_scalars_curves_and_distance(tmp_path):
    train = [
        {'lr': 0.05, 'loss': loss, 'loss_ddm': 0.1, 'epoch': 1, 'iter': i, 'step': i}
        for i, loss in enumerate([4.0, 3.0, 2.0, 1.0], start=1)
    ]
    val = {'knn/top1': 0.5, 'knn/nn1': 0.4, 'knn/coco17_top1': 0.3, 'step': 1}
    path = tmp_path / 'scalars.json'
    write_scalars(path, [*train, val, {**train[-1], 'loss': 1.5}])  # step 4 logged again
    records = cp.read_scalars(str(path))
    curve = cp.loss_curve(records)
    assert curve == {1: 4.0, 2: 3.0, 3: 2.0, 4: 1.5}
    assert cp.last_metrics(records) == {
        'knn/top1': 0.5,
        'knn/nn1': 0.4,
        'knn/coco17_top1': 0.3,
    }
    assert cp.last_metrics(records[:4]) == {}
    assert cp.tail_mean(curve, 2) == pytest.approx(1.75)

    other = {1: 4.0, 2: 3.5, 3: 1.0, 5: 9.0}  # step 5 not in ref: ignored, step 4 missing
    d = cp.curve_distance(curve, other)
    assert d['steps'] == 3
    assert d['mean_abs'] == pytest.approx(0.5)
    assert d['max_abs'] == pytest.approx(1.0)
    assert d['argmax_step'] == 3
    assert d['rel_mean'] == pytest.approx(0.5 / 3.0)
    assert d['rel_max'] == pytest.approx(1.0 / 3.0)
    assert d['first_abs'] == 0.0
    assert cp.curve_distance(curve, curve)['rel_max'] == 0.0
    with pytest.raises(ValueError):
        cp.curve_distance(curve, {10: 1.0})


def test_test_metrics_and_dumped_config(tmp_path):
    (tmp_path / '20240101_000000').mkdir()
    (tmp_path / '20250101_000000').mkdir()
    with open(tmp_path / '20240101_000000' / '20240101_000000.json', 'w') as f:
        json.dump({'acc/top1': 0.1}, f)
    with open(tmp_path / '20250101_000000' / '20250101_000000.json', 'w') as f:
        json.dump({'acc/top1': 0.8, 'acc/top5': 1.0, 'note': 'x'}, f)
    assert cp.test_metrics(str(tmp_path)) == {'acc/top1': 0.8, 'acc/top5': 1.0}

    (tmp_path / 'p.py').write_text(
        "optim_wrapper = dict(type='AutocastOptimWrapper', enabled=True, device_types=['cpu'])\n"
        'model = dict(backbone=dict(channels_last=True))\n'
    )
    assert cp.dumped_config_value(str(tmp_path), 'configs/p.py', 'optim_wrapper.device_types') == [
        'cpu'
    ]
    assert cp.dumped_config_value(str(tmp_path), 'p.py', 'model.backbone.channels_last') is True
    assert cp.dumped_config_value(str(tmp_path), 'p.py', 'model.neck.x') is None


def test_parse_args_defaults():
    args = cp.parse_args([])
    assert args.runs == ['fp32', 'bf16', 'fp32_seed2']
    assert (args.seed, args.seed2, args.log_interval) == (0, 1, 1)
    assert args.pretrain_config.endswith('configs/demo/msaimclr_demo.py')
    assert osp.isfile(args.pretrain_config) and osp.isfile(args.probe_config)
    with pytest.raises(SystemExit):
        cp.parse_args(['--runs', 'bf16'])
