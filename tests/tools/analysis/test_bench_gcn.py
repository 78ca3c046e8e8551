"""tools/analysis/bench_gcn.py: the graph convolution three ways, checked and timed."""

import json
import os.path as osp
import sys

import pytest
import torch

from ...conftest import REPO_ROOT, run_python

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'bench_gcn.py')
sys.path.insert(0, osp.dirname(TOOL))


def test_kron_graph_convolution_equals_the_trunk_route():
    from bench_gcn import IMPLEMENTATIONS, gcn

    from msclr_mm.models.backbones import UnifiedSTGCN

    torch.manual_seed(0)
    net = UnifiedSTGCN(formats=['smpl24'], channels=(8, 12)).double()
    A = net.stems['smpl24'].A.double() * torch.rand(3, 24, 24, dtype=torch.float64)
    block = net.blocks[1]
    x = torch.randn(3, 8, 5, 24, dtype=torch.float64).to(memory_format=torch.channels_last)
    outputs = {}
    for impl in IMPLEMENTATIONS:
        xi = x.clone().requires_grad_()
        y = gcn(impl, block, xi, A)
        assert y.shape == (3, 12, 5, 24)
        (y * torch.arange(y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        outputs[impl] = (y.detach(), xi.grad, block.gcn_conv.weight.grad.clone())
        block.zero_grad()
    for impl in IMPLEMENTATIONS:
        for got, ref in zip(outputs[impl], outputs['cl']):
            torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)
    # and a wrong adjacency is caught
    with pytest.raises(AssertionError):
        torch.testing.assert_close(gcn('kron', block, x, A.transpose(1, 2)), outputs['cl'][0])


def test_bench_gcn_runs_and_reports(tmp_path):
    proc = run_python(
        [
            TOOL,
            '--device', 'cpu', '--batch', '4', '--frames', '8', '--channels', '8', '16',
            '--iters', '1', '--rounds', '1', '--formats', 'kinect25', 'coco17',
            '--json-out', str(tmp_path / 'gcn.json'),
        ],
        cwd=tmp_path,
        env={'OMP_NUM_THREADS': '1'},
    )  # fmt: skip
    report = json.loads((tmp_path / 'gcn.json').read_text())
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == report
    assert report['rows_per_format'] == 4 and set(report['formats']) == {'kinect25', 'coco17'}
    for figures in report['formats'].values():
        for key in ('nchw_ms', 'cl_ms', 'kron_ms', 'first_ms', 'block_ms', 'block_dense_ms'):
            assert figures[key] > 0
        assert 0 < figures['cl_share_of_block']
        blocks = figures['blocks']
        assert [(b['c_in'], b['c_out'], b['frames']) for b in blocks] == [(3, 8, 8), (8, 16, 8)]
        assert all(
            b[k] > 0 for b in blocks for k in ('block_ms', 'block_dense_ms', 'block_first_ms')
        )
    assert len(report['dense_blocks']) == len(report['graph_first_blocks']) == 2
    assert not any(map(all, zip(report['dense_blocks'], report['graph_first_blocks'])))
    assert report['dense_gcn_option'].startswith('model.backbone.dense_gcn=[')
    assert report['cfg_options'] == (
        report['dense_gcn_option'] + ' ' + report['graph_first_option']
    )


def test_per_block_choice_sums_the_formats():
    from bench_gcn import per_block_choice

    def blocks(*times):
        keys = ('block_ms', 'block_dense_ms', 'block_first_ms')
        return dict(blocks=[dict(zip(keys, t)) for t in times])

    # block 0: dense wins in both formats; block 1: dense wins in one, loses more in the
    # other; block 2: graph-first wins summed over both
    choice = per_block_choice(
        dict(a=blocks((4, 1, 5), (2, 1, 2), (6, 9, 4)), b=blocks((4, 2, 5), (2, 5, 2), (6, 3, 7)))
    )
    assert choice['dense_blocks'] == [True, False, False]
    assert choice['graph_first_blocks'] == [False, False, True]
    assert choice['blocks_ms'] == dict(plain=24, dense=21, first=25, chosen=18)
    assert choice['cfg_options'] == (
        'model.backbone.dense_gcn=[True,False,False] model.backbone.graph_first=[False,False,True]'
    )
    # a report of before graph_first: plain or dense
    old = per_block_choice(dict(a=dict(blocks=[dict(block_ms=4, block_dense_ms=1)])))
    assert old['dense_blocks'] == [True] and old['graph_first_blocks'] == [False]
