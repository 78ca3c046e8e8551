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
    fp32 = parse_options(cp.pretrain_options('fp32', 0))
    bf16 = parse_options(cp.pretrain_options('bf16', 0))
    fp32_s1 = parse_options(cp.pretrain_options('fp32', 1))
    for opts in (fp32, bf16, fp32_s1):
        # the config's format rule unless one is forced
        assert 'train_dataloader.dataset.pipeline.0.rule' not in opts
        assert opts['optim_wrapper.type'] == 'AutocastOptimWrapper'
        assert opts['model.backbone.compile'] is False
        assert opts['default_hooks.logger.interval'] == 1
        assert opts['log_processor.window_size'] == 1
    assert fp32['randomness.seed'] == 0 and bf16['randomness.seed'] == 0
    assert fp32_s1['randomness.seed'] == 1
    assert fp32['optim_wrapper.enabled'] is False
    assert fp32['model.backbone.channels_last'] is False
    assert 'optim_wrapper.device_types' not in fp32
    assert {k: v for k, v in fp32_s1.items() if k != 'randomness.seed'} == {
        k: v for k, v in fp32.items() if k != 'randomness.seed'
    }
    assert bf16['optim_wrapper.enabled'] is True
    assert bf16['optim_wrapper.device_types'] == ['cpu']  # a list, not the string "['cpu']"
    assert bf16['model.backbone.channels_last'] is True
    forced = parse_options(cp.pretrain_options('bf16', 2, rule='balanced'))
    assert forced['train_dataloader.dataset.pipeline.0.rule'] == 'balanced'
    # the config's logging kept
    assert not any('logger' in o for o in cp.pretrain_options('fp32', 0, log_interval=0))
    with pytest.raises(ValueError, match='fp16'):
        cp.pretrain_options('fp16', 0)
    assert cp.run_name('bf16', 3) == 'bf16_s3'


def test_paired_summary():
    # diffs 1, 2, 3: mean 2, sample std 1, t(0.975, 2) = 4.3027
    p = cp.paired_summary([50.0, 60.0, 70.0], [51.0, 62.0, 73.0], tolerance=1.0)
    assert p['n'] == 3 and p['diffs'] == [1.0, 2.0, 3.0]
    assert p['mean'] == pytest.approx(2.0) and p['std'] == pytest.approx(1.0)
    half = 4.302652729911275 / 3**0.5
    assert p['ci95'] == pytest.approx([2.0 - half, 2.0 + half])
    assert p['ref_mean'] == pytest.approx(60.0) and p['ref_std'] == pytest.approx(10.0)
    assert p['other_mean'] == pytest.approx(62.0)
    assert p['verdict'] == 'undecided'  # the interval straddles +1
    # a tight interval inside the band, one wholly beyond it
    inside = cp.paired_summary([10.0] * 4, [10.1, 10.2, 10.1, 10.2], tolerance=1.0)
    assert inside['verdict'] == 'within'
    beyond = cp.paired_summary([10.0] * 4, [7.9, 8.1, 8.0, 8.0], tolerance=1.0)
    assert beyond['verdict'] == 'outside' and beyond['ci95'][1] < -1.0
    # pairs with a missing side are left out; one pair gives no interval and no decision
    one = cp.paired_summary([1.0, None, 3.0], [2.0, 5.0, None], tolerance=5.0)
    assert one['n'] == 1 and one['std'] is None and one['ci95'] is None
    assert one['verdict'] == 'undecided'
    assert 'verdict' not in cp.paired_summary([1.0, 2.0], [1.0, 2.5])
    with pytest.raises(ValueError, match='no pair'):
        cp.paired_summary([None], [1.0])


def test_summarize():
    def run(curve, probe, knn):
        return dict(curve=curve, probe_top1=probe, knn_top1=knn, knn_nn1=knn)

    runs = {
        'fp32_s0': run({1: 10.0, 2: 8.0}, 0.50, 0.60),
        'bf16_s0': run({1: 10.0, 2: 8.9}, 0.52, 0.61),
        'fp32_s1': run({1: 10.0, 2: 6.0}, 0.70, 0.65),
        'bf16_s1': run({1: 10.0, 2: 6.0}, 0.70, 0.64),
        'fp32_s2': run({1: 11.0, 2: 6.0}, 0.60, 0.62),
    }
    out = cp.summarize(runs, [0, 1, 2], tolerance=1.0)
    assert set(out['bf16_vs_fp32']) == {0, 1}  # seed 2 has no bf16 run
    assert out['bf16_vs_fp32'][0]['max_abs'] == pytest.approx(0.9)
    assert set(out['fp32_seed_pairs']) == {'0-1', '1-2'}
    assert out['fp32_seed_pairs']['0-1']['max_abs'] == pytest.approx(2.0)
    rel = out['curve']['bf16_vs_fp32']['rel_mean']
    assert rel == pytest.approx((0.45 / 9.0 + 0.0) / 2)
    noise = out['curve']['fp32_seed_pairs']['rel_mean']
    assert noise == pytest.approx((1.0 / 9.0 + 0.5 / 8.0) / 2)
    assert out['curve']['bf16_over_noise']['rel_mean'] == pytest.approx(rel / noise)
    probe = out['probe_top1']
    assert probe['seeds'] == [0, 1] and probe['n'] == 2
    assert probe['diffs'] == pytest.approx([2.0, 0.0])  # percentage points
    assert probe['verdict'] == 'undecided'
    assert out['knn_nn1']['diffs'] == pytest.approx([1.0, -1.0])
    assert 'verdict' not in out['knn_top1']
    # fp32 alone: the noise pairs, no paired statistics
    alone = cp.summarize({k: v for k, v in runs.items() if k.startswith('fp32')}, [0, 1, 2], 1.0)
    assert alone['bf16_vs_fp32'] == {} and 'probe_top1' not in alone
    assert 'bf16_over_noise' not in alone['curve']
    assert 'probe_top1' not in alone
    # runs without kNN validation: no kNN statistics, the probe's still
    for r in runs.values():
        r['knn_top1'] = r['knn_nn1'] = None
    no_knn = cp.summarize(runs, [0, 1, 2], tolerance=1.0)
    assert 'knn_top1' not in no_knn and 'knn_nn1' not in no_knn
    assert no_knn['probe_top1']['n'] == 2
    text = cp.format_table(
        dict(
            runs={
                'fp32_s0': dict(
                    rule='batch',
                    optim_wrapper=dict(enabled=False, device_types=None),
                    loss_first=10.0,
                    loss_last_epoch=8.0,
                    knn_top1=0.6,
                    knn_nn1=0.6,
                    probe_top1=0.5,
                )
            },
            summary=out,
        )
    )
    assert 'fp32_s0' in text and 'probe_top1: bf16 - fp32 = +1.00' in text and 'undecided' in text


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
    assert args.precisions == ['fp32', 'bf16'] and args.seeds == [0, 1, 2]
    assert (args.rule, args.tolerance, args.log_interval) == (None, 1.0, 1)
    assert args.pretrain_config.endswith('configs/demo/msaimclr_demo.py')
    assert osp.isfile(args.pretrain_config) and osp.isfile(args.probe_config)
    with pytest.raises(SystemExit):
        cp.parse_args(['--precisions', 'bf16'])
    with pytest.raises(SystemExit):
        cp.parse_args(['--seeds', '1', '1'])
