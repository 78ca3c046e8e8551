"""tools/analysis/count_ops.py: operators per training step, by phase; an operator budget."""

import os.path as osp

import pytest

from ...conftest import REPO_ROOT, run_tool_json
from . import NTU60_RECIPE as CONFIG
from . import synthetic_args, tiny_trunk_options

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'count_ops.py')


def test_count_ops_fused_and_plain_within_budget(tmp_path):
    """MS-AimCLR's NTU-60 recipe (tiny batch): the eager remainder stays within budget.

    The GPU step is bound by the CPU launching these operators one by one (README §
    Speed), so their number is what the fast paths keep down. When this test was written:
    585 outside the trunk (308 in the preprocessor) at this size; the full-size recipe
    counted 599, and 869 before the fast paths of 2026-11-30. Then AimCLR's extreme view got
    its own crop and shear, as the reference's (2026-11-30): 646 (368) at this size. A
    change that adds many
    operators to the data preprocessor, the stems, the losses or the optimiser, or that
    breaks a fused path, fails here.
    """
    report = run_tool_json(
        [
            TOOL,
            CONFIG,
            *synthetic_args(tmp_path, clips=16, batch_size=4),
            '--variants',
            'bal',
            'bal+fuse',
            '--time',
            '2',
            '--cfg-options',
            *tiny_trunk_options([8, 8, 16], [1, 2, 1]),
        ],
        tmp_path,
    )
    plain, fused = report['variants']['bal'], report['variants']['bal+fuse']
    # 3 encoder passes x 2 formats apart; fused: query + extreme views in one, keys in one
    assert plain['trunk_calls'] == 6 and fused['trunk_calls'] == 2
    for figures in (plain, fused):
        assert figures['total'] == sum(figures[p] for p in report['phases'])
        assert figures['step_ms'] > 0 and 0 < figures['preprocess_ms'] < figures['step_ms']
        assert figures['optimizer'] <= 10  # multi-tensor SGD, not a loop over parameters
        assert figures['preprocess'] <= 400
        assert figures['outside_trunk'] <= 700
    assert (
        fused['trunk_forward'] + fused['trunk_backward']
        < plain['trunk_forward'] + plain['trunk_backward']
    )


def _count_ops_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location('count_ops', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tensor_bytes_counts_each_tensor_once_and_expanded_views_by_storage():
    import torch

    tensor_bytes = _count_ops_module().tensor_bytes
    a = torch.zeros(4, 3)  # 48 bytes
    b = torch.zeros(5, dtype=torch.bfloat16)  # 10 bytes
    assert tensor_bytes([a, (b, 'text', 3.0), {'x': a[1]}]) == 48 + 10 + 12
    assert tensor_bytes(torch.zeros(1, 3).expand(100, 3)) == 12  # read from its storage
    assert tensor_bytes([torch.zeros(0, 3), None]) == 0


def test_traffic_bytes_flops_and_bounds(tmp_path):
    """--traffic: bf16 autocast halves what the trunk moves, not what it computes.

    The bf16 variant autocasts on the CPU here (the configs' wrapper lists only CUDA), so
    its tensors are half the bytes; the flops (matrix products and convolutions) are the
    same computation either way. The bounds are the bytes and flops at the given rates.
    """
    report = run_tool_json(
        [
            TOOL,
            CONFIG,
            *synthetic_args(tmp_path, clips=16, batch_size=4),
            '--variants',
            'bal',  # both formats in every view: the same computation in both variants
            'bf16+cl+bal',
            '--traffic',
            '--accelerator-paths',
            '--bandwidth',
            '2',
            '--peak-tflops',
            '100',
            '--cfg-options',
            *tiny_trunk_options([8, 8, 16], [1, 2, 1]),
        ],
        tmp_path,
    )
    assert report['traffic'] is True
    fp32, bf16 = report['variants']['bal'], report['variants']['bf16+cl+bal']
    for figures in (fp32, bf16):
        for key in ('bytes', 'flops'):
            part = figures[key]
            assert part['total'] == sum(part[p] for p in report['phases'])
            assert part['trunk'] == part['trunk_forward'] + part['trunk_backward']
            assert part['outside_trunk'] == part['total'] - part['trunk']
        assert figures['flops']['trunk_backward'] > figures['flops']['trunk_forward'] > 0
        bounds = figures['bounds']
        assert bounds['bandwidth_tbps'] == 2 and bounds['peak_tflops'] == 100
        assert bounds['trunk']['memory_ms'] == pytest.approx(
            figures['bytes']['trunk'] / 2e12 * 1e3, abs=1e-3
        )
        assert bounds['total']['compute_ms'] == pytest.approx(
            figures['flops']['total'] / 100e12 * 1e3, abs=1e-3
        )
        assert figures['top_bytes'] and 'MiB' in figures['top_bytes'][0]
    assert bf16['flops']['trunk'] == pytest.approx(fp32['flops']['trunk'], rel=0.01)
    assert bf16['bytes']['trunk'] < 0.75 * fp32['bytes']['trunk']
    assert any(':_to_copy ' in op for op in bf16['top_outside_trunk'])  # autocast's casts
