"""synthetic_skeletons.py writes joinable multi-format data; bench_supervised.py runs."""

import json
import os.path as osp
import pickle
import sys

import pytest

from ...conftest import REPO_ROOT, run_python

ANALYSIS = osp.join(REPO_ROOT, 'tools', 'analysis')


def test_synthetic_formats_share_clips_and_load(tmp_path):
    sys.path.insert(0, ANALYSIS)
    try:
        from synthetic_skeletons import write_synthetic
    finally:
        sys.path.remove(ANALYSIS)
    from msclr_mm.datasets import MultiSkeletonDataset

    paths = write_synthetic(str(tmp_path), ['kinect25', 'coco17'], 12, frames=(20, 30))
    data = {f: pickle.load(open(p, 'rb')) for f, p in paths.items()}
    k, c = data['kinect25']['annotations'], data['coco17']['annotations']
    assert [a['frame_dir'] for a in k] == [a['frame_dir'] for a in c]
    assert [a['total_frames'] for a in k] == [a['keypoint'].shape[1] for a in c]
    assert all(20 <= a['total_frames'] <= 30 for a in k)
    assert (
        c[0]['keypoint'].shape[-1] == 2
        and c[0]['keypoint_score'].shape == c[0]['keypoint'].shape[:-1]
    )
    assert k[0]['keypoint'].shape[-2:] == (25, 3) and k[0]['keypoint'].std() > 0
    ds = MultiSkeletonDataset(paths, split='xsub_train', cache_dir=str(tmp_path / 'cache'))
    assert len(ds) == 24  # 12 clips x 2 formats per epoch


def test_bench_supervised_reports_ratios_on_cpu():
    proc = run_python(
        [
            osp.join(ANALYSIS, 'bench_supervised.py'),
            '--device', 'cpu', '--batch', '2', '--frames', '8', '--iters', '1',
            '--warmup', '0', '--precisions', 'fp32', '--kinds', 'mmaction', 'ours-cl',
            'ours-cl-dense',
        ],
        env={'OMP_NUM_THREADS': '1'},
    )  # fmt: skip
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report['mmaction/fp32/ratio_to_mmaction'] == 1.0
    assert report['ours-cl/fp32/seq_per_s'] > 0 and report['ours-cl/fp32/ratio_to_mmaction'] > 0
    assert report['ours-cl-dense/fp32/ratio_to_mmaction'] > 0


@pytest.mark.slow
def test_bench_supervised_plain_loss_and_graph_kinds_on_cpu():
    args = [osp.join(ANALYSIS, 'bench_supervised.py'), '--device', 'cpu', '--batch', '2',
            '--frames', '8', '--iters', '1', '--warmup', '0', '--precisions', 'fp32']  # fmt: skip
    proc = run_python(
        [*args, '--kinds', 'ours-cl', '--loss', 'plain'], env={'OMP_NUM_THREADS': '1'}
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report['loss'] == 'plain' and report['ours-cl/fp32/seq_per_s'] > 0
    refused = run_python([*args, '--kinds', 'ours-cl-graph'], check=False)
    assert refused.returncode != 0 and 'need --device cuda' in refused.stderr
    unknown = run_python([*args, '--kinds', 'ours-nchw-graph'], check=False)
    assert unknown.returncode != 0 and "unknown kind 'ours-nchw-graph'" in unknown.stderr
