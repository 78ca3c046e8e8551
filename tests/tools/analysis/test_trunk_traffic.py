"""tools/analysis/trunk_traffic.py: the trunk's bytes per pass, eager vs inductor-fused."""

import importlib.util
import os.path as osp
import shutil

import pytest

from ...conftest import REPO_ROOT, run_tool_json
from . import NTU60_RECIPE as CONFIG
from . import tiny_trunk_options

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'trunk_traffic.py')


def _module():
    spec = importlib.util.spec_from_file_location('trunk_traffic', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(eager, compiled, flops=0):
    return dict(
        eager=dict(total=eager),
        compiled=dict(total=compiled),
        flops=dict(total=flops),
        kernels=dict(total=1),
    )


def test_step_bytes_averages_the_formats_per_kind():
    results = dict(
        kinect25=dict(train=_row(10, 4), nograd=_row(3, 1)),
        smplx42=dict(train=_row(30, 8), nograd=_row(5, 3)),
    )
    step = _module().step_bytes(results, 2, 1)
    # two training passes and one forward-only pass, each format half the time
    assert step == dict(eager=2 * 20 + 4, compiled=2 * 6 + 2)
    assert _module().step_bytes(results, 1, 0) == dict(eager=20, compiled=6)
    results['kinect25']['train']['flops']['total'] = 100
    assert _module().step_total(results, 'flops', 2, 1) == 2 * 50


@pytest.mark.skipif(
    not (shutil.which('g++') or shutil.which('clang++')),
    reason="inductor's CPU kernels need a C++ compiler",
)
@pytest.mark.slow
def test_eager_and_compiled_bytes_of_a_tiny_trunk(tmp_path):
    """One format, a training pass: inductor counts its graphs, fewer bytes than eager.

    Run twice in one process would find the graphs compiled already; the tool turns
    inductor's caches off so that a second run (this test in CI after a local run) still
    lowers, and counts, every graph.
    """
    report = run_tool_json(
        [
            TOOL,
            CONFIG,
            '--clips',
            '2',
            '--frames',
            '8',
            '--formats',
            'kinect25',
            '--kinds',
            'train',
            '--step-passes',
            '1',
            '0',
            '--bandwidth',
            '1',
            '--cfg-options',
            *tiny_trunk_options([8, 8], [1, 2]),
        ],
        tmp_path,
    )
    assert report['persons'] == 2 and report['frames'] == 8 and report['clips'] == 2
    assert report['dtype'] == 'bf16 autocast' and report['channels_last'] is True
    row = report['passes']['kinect25']['train']
    for way in ('eager', 'compiled'):
        assert row[way]['forward'] > 0 and row[way]['backward'] > 0
        assert row[way]['total'] == row[way]['forward'] + row[way]['backward']
    # fusion is what the compiled trunk is for: it moves fewer bytes than unfused kernels
    assert row['compiled']['total'] < row['eager']['total']
    assert row['ratio'] == pytest.approx(row['eager']['total'] / row['compiled']['total'], 1e-3)
    assert row['flops']['backward'] > row['flops']['forward'] > 0  # eager count
    assert report['step_flops'] == row['flops']['total']
    assert report['step_kernels'] == row['kernels']['total'] > 10  # a few per block at least
    assert report['step_bytes_per_kernel'] == row['compiled']['total'] // row['kernels']['total']
    assert report['step_compute_ms'] == pytest.approx(
        row['flops']['total'] / 989e12 * 1e3, abs=1e-3
    )
    assert report['step_bytes'] == dict(
        eager=row['eager']['total'], compiled=row['compiled']['total']
    )
    assert report['step_memory_ms']['eager'] == pytest.approx(row['eager']['total'] / 1e9, abs=1e-3)
