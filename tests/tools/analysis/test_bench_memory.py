"""tools/analysis/bench_memory.py measures the workers' memory against the array bytes."""

import json
import math
import os
import os.path as osp

import pytest

from ...conftest import REPO_ROOT, run_python

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'bench_memory.py')


@pytest.mark.slow
def test_bench_memory_tiny(tmp_path):
    data_dir = str(tmp_path / 'data')
    args = [
        TOOL,
        '--clips',
        '200',
        '--frames',
        '20',
        '30',
        '--workers',
        '2',
        '--batch-size',
        '16',
        '--batches',
        '5',
        '--interval',
        '0',
        '--data-dir',
        data_dir,
    ]
    proc = run_python(args, cwd=tmp_path, env={'OMP_NUM_THREADS': '1'})
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in (
        'clips',
        'formats',
        'frames',
        'array_bytes',
        'peak_total_pss_bytes',
        'peak_total_private_bytes',
        'max_rss_bytes',
        'ratio_pss_to_array',
        'processes',
        'workers',
        'batches',
        'seconds',
    ):
        assert key in report, key
    assert report['clips'] == 200 and report['formats'] == ['kinect25', 'smplx42']
    assert report['frames'] == [20, 30] and report['workers'] == 2 and report['batches'] == 5
    assert report['dataset_clips'] == 200 and report['samples'] == 5 * 16
    caches = [
        osp.join(root, 'keypoint.npy')
        for root, _, files in os.walk(osp.join(data_dir, 'cache'))
        if 'keypoint.npy' in files
    ]
    assert len(caches) == 2
    assert report['array_bytes'] == sum(osp.getsize(p) for p in caches) > 0
    assert report['peak_total_pss_bytes'] > 0 and report['peak_total_private_bytes'] > 0
    assert math.isfinite(report['ratio_pss_to_array']) and report['ratio_pss_to_array'] > 0
    assert report['ratio_pss_to_array'] == report['peak_total_pss_bytes'] / report['array_bytes']
    roles = sorted(p['role'] for p in report['processes'])
    assert roles.count('main') == 1 and roles.count('worker') == 2
    assert report['peak_total_pss_bytes'] == sum(p['Pss'] for p in report['processes'])
    assert report['max_rss_bytes'] >= max(p['Rss'] for p in report['processes'])
    assert 'peak total PSS' in proc.stdout

    assert report['gc_freeze'] is False

    # a second run reuses the pickles (and the diagnostic gc.freeze() runs)
    again = run_python(
        args + ['--batches', '1', '--gc-freeze'], cwd=tmp_path, env={'OMP_NUM_THREADS': '1'}
    )
    assert 'exists: not regenerated' in again.stdout
    second = json.loads(again.stdout.strip().splitlines()[-1])
    assert second['batches'] == 1 and second['gc_freeze'] is True
