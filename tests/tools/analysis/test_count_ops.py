"""tools/analysis/count_ops.py: operators per training step, by phase; an operator budget."""

import os.path as osp

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
