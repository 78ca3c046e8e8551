"""tools/analysis/bench_gather.py: float32 vs float16 batches from the training pipeline."""

import os.path as osp

import pytest

from ...conftest import REPO_ROOT, run_tool_json
from . import NTU60_RECIPE as CONFIG
from . import synthetic_args


def test_bench_gather_compares_float32_and_float16_batches(tmp_path):
    tool = osp.join(REPO_ROOT, 'tools', 'analysis', 'bench_gather.py')
    report = run_tool_json(
        [tool, CONFIG, *synthetic_args(tmp_path, clips=8, batch_size=4)[:4], '--batch', '4',
         '--rounds', '2', '--batches', '1'],
        tmp_path,
    )  # fmt: skip
    assert report['batch'] == 4 and len(report['float16_rounds_ms']) == 2
    # the same batch at half the keypoint bytes (the 4 int64 index entries per group stay)
    assert report['float16_batch_bytes'] < 0.6 * report['float32_batch_bytes']
    assert report['ratio'] == pytest.approx(
        report['float32_ms_per_sample'] / report['float16_ms_per_sample']
    )
