"""tools/analysis/bench_loader.py: the training process's cost of receiving a batch."""

import json
import os.path as osp

from ...conftest import REPO_ROOT, run_python

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'bench_loader.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'demo', 'msaimclr_demo.py')


def test_bench_loader_reports_all_forms(tmp_path):
    proc = run_python(
        [
            TOOL,
            CONFIG,
            '--synthetic',
            '24',
            '--synthetic-dir',
            str(tmp_path / 'synthetic'),
            '--batch-size',
            '8',
            '--num-workers',
            '1',
            '--batches',
            '1',
            '--rounds',
            '1',
            '--json-out',
            str(tmp_path / 'loader.json'),
        ],
        cwd=tmp_path,
        env={'OMP_NUM_THREADS': '1'},
    )
    report = json.loads((tmp_path / 'loader.json').read_text())
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == report
    assert report['batch_size'] == 8 and report['num_workers'] == 1
    for form in ('one_buffer', 'sample_list', 'list'):
        assert report[form]['main_cpu_ms_per_batch'] > 0
        assert report[form]['wall_ms_per_batch'] > 0
    # the compact form is what crosses the process boundary: far fewer bytes
    assert (
        report['sample_list']['pickled_samples_bytes'] * 2 < report['list']['pickled_samples_bytes']
    )
    # the default collate sends every tensor of the batch in one shared-memory segment
    assert report['one_buffer']['tensors_per_batch'] >= 4
    assert report['one_buffer']['storages_per_batch'] == 1
    assert report['sample_list']['storages_per_batch'] == report['sample_list']['tensors_per_batch']
    assert report['main_cpu_ratio_list_over_one_buffer'] > 0
