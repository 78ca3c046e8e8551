"""tools/analysis/compare_runs.py: two finished sets of seeded runs, paired by seed."""

import importlib.util
import json
import os.path as osp
import sys

import pytest

from ...conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis'))
_spec = importlib.util.spec_from_file_location(
    'compare_runs', osp.join(REPO_ROOT, 'tools', 'analysis', 'compare_runs.py')
)
cr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cr)


def fake_run(root, losses, knn, probe, graph_first):
    """A run folder as compare_precision.run_one leaves it (pretrain, probe, test)."""
    for d in ('pretrain', 'probe', 'test'):
        (root / d).mkdir(parents=True)
        (root / d / 'DONE').write_text('1.0\n')
    (root / 'pretrain' / 'last_checkpoint').write_text(str(root / 'pretrain' / 'epoch_2.pth'))
    vis = root / 'pretrain' / '20261202_000000' / 'vis_data'
    vis.mkdir(parents=True)
    rows = [dict(loss=v, step=i) for i, v in enumerate(losses, start=1)]
    rows.append({'knn/top1': knn[0], 'knn/nn1': knn[1], 'step': 2})
    (vis / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    (root / 'pretrain' / 'msaimclr_demo.py').write_text(
        "optim_wrapper = dict(type='OptimWrapper')\n"
        f'model = dict(backbone=dict(graph_first={graph_first!r}))\n'
    )
    (root / 'test' / '20261202_000001').mkdir()
    (root / 'test' / '20261202_000001' / '20261202_000001.json').write_text(
        json.dumps({'acc/top1': probe})
    )


def test_pairs_two_work_dirs(tmp_path, capsys):
    ref, other = tmp_path / 'ref', tmp_path / 'other'
    # seed 0: other 1 point lower in the probe, 2 higher in kNN; seed 1: 3 lower, 0
    fake_run(ref / 'fp32_s0', [4.0, 2.0], (0.60, 0.70), 0.725, False)
    fake_run(ref / 'fp32_s1', [4.0, 3.0], (0.50, 0.60), 0.700, False)
    fake_run(other / 'fp32_s0', [4.0, 2.5], (0.62, 0.70), 0.715, 'widening')
    fake_run(other / 'fp32_s1', [4.0, 3.0], (0.50, 0.60), 0.670, 'widening')
    out = str(tmp_path / 'report.json')
    report = cr.main(
        [str(ref), str(other), '--seeds', '0', '1', '--keys', 'model.backbone.graph_first',
         '--json-out', out, '--tail', '1']
    )  # fmt: skip
    assert report['keys'] == {'model.backbone.graph_first': [False, 'widening']}
    s = report['summary']
    assert s['probe_top1']['diffs'] == pytest.approx([-1.0, -3.0])
    assert s['probe_top1']['mean'] == pytest.approx(-2.0)
    assert s['probe_top1']['verdict'] == 'undecided'  # two seeds: a wide interval
    assert s['knn_top1']['diffs'] == pytest.approx([2.0, 0.0])
    assert 'verdict' not in s['knn_top1']
    # curves: seed 0 differs by 0.5 at step 2 of 2 (mean |d| 0.25 over a mean loss of 3);
    # the reference seeds differ by 1.0 at step 2 (mean |d| 0.5 over a mean loss of 3)
    assert s['other_vs_ref'][0]['rel_mean'] == pytest.approx(0.25 / 3)
    assert s['other_vs_ref'][1]['rel_mean'] == 0.0
    assert s['ref_seed_pairs']['0-1']['rel_mean'] == pytest.approx(0.5 / 3)
    assert s['curve']['other_over_noise']['rel_mean'] == pytest.approx((0.25 / 3 / 2) / (0.5 / 3))
    assert report['runs'][0][1]['loss_last_epoch'] == 2.5
    with open(out) as f:
        assert json.load(f)['summary']['probe_top1']['mean'] == pytest.approx(-2.0)
    printed = capsys.readouterr().out
    assert "model.backbone.graph_first: ref False, other 'widening'" in printed
    assert 'probe_top1: other - ref = -2.00' in printed


def test_refuses_unfinished_runs_and_unpaired_seeds(tmp_path):
    ref, other = tmp_path / 'ref', tmp_path / 'other'
    fake_run(ref / 'fp32_s0', [4.0, 2.0], (0.6, 0.7), 0.7, False)
    fake_run(other / 'fp32_s0', [4.0, 2.0], (0.6, 0.7), 0.7, False)
    (other / 'fp32_s0' / 'test' / 'DONE').unlink()
    with pytest.raises(FileNotFoundError, match=r'fp32_s0/test: not finished'):
        cr.main([str(ref), str(other), '--seeds', '0'])
    with pytest.raises(FileNotFoundError, match=r'fp32_s1/pretrain: not finished'):
        cr.main([str(ref), str(ref), '--seeds', '0', '1'])
    run = cr.read_run(str(ref / 'fp32_s0'), 'configs/demo/msaimclr_demo.py', 'fp32', 0)
    with pytest.raises(ValueError, match='different seeds'):
        cr.compare({0: run}, {1: run}, 1.0)
    # one seed: no noise pair, no ratio
    one = cr.compare({0: run}, {0: run}, 1.0)
    assert one['ref_seed_pairs'] == {} and one['curve']['other_over_noise']['rel_mean'] is None
