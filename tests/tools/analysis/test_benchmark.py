"""tools/analysis/benchmark.py runs on the CPU and reports what issue 8 asks for."""

import json
import os.path as osp

from ...conftest import REPO_ROOT, run_python

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'demo', 'msaimclr_demo.py')


def test_benchmark_compare_on_cpu(tmp_path):
    run_python(
        [osp.join(REPO_ROOT, 'tools', 'data', 'make_demo_data.py'), '--out-dir', 'data/demo'],
        cwd=tmp_path,
    )
    proc = run_python(
        [
            TOOL,
            CONFIG,
            '--device',
            'cpu',
            '--compare',
            '--iters',
            '1',
            '--warmup',
            '0',
            '--batch-size',
            '4',
            '--num-workers',
            '0',
            '--pipeline-samples',
            '8',
            '--cfg-options',
            'model.backbone.channels=[8,16]',
            'model.queue_len=64',
            'model.neck.in_channels=16',
            'train_dataloader.dataset.pipeline.1.clip_len=12',
        ],
        cwd=tmp_path,
        env={'OMP_NUM_THREADS': '1'},
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for run in ('baseline', 'optimised'):
        figures = report[run]
        assert figures['batch_size'] == 4
        assert figures['model_step_seq_per_s'] > 0 and figures['full_loop_seq_per_s'] > 0
    assert report['baseline']['amp'] == 'none'
    assert report['seq_per_s'] == report['optimised']['full_loop_seq_per_s']
    assert report['speedup'] > 0 and report['cpu_pipeline_ms_per_sample'] > 0
    assert report['ntu60_2formats_epoch_s'] == 80_000 / report['seq_per_s']


def test_benchmark_refuses_cuda_without_gpu():
    import torch

    if torch.cuda.is_available():
        return
    proc = run_python([TOOL, CONFIG, '--device', 'cuda'], check=False)
    assert proc.returncode != 0 and 'no CUDA device' in proc.stderr
