"""tools/analysis/check_step_graph.py runs; without a GPU the graphed model runs eagerly."""

import os.path as osp

import pytest
import torch

from ...conftest import REPO_ROOT, run_tool_json
from . import NTU60_RECIPE, synthetic_args, tiny_trunk_options

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'check_step_graph.py')
MS_SKELEMIXCLR = osp.join(
    REPO_ROOT,
    'configs',
    'msclr',
    'msskelemixclr_1xb128-joint-64f-kinect25+smplx42-300e_ntu60-xsub.py',
)


@pytest.mark.parametrize(
    'config', [NTU60_RECIPE, MS_SKELEMIXCLR], ids=['msaimclr', 'msskelemixclr']
)
def test_check_step_graph_on_cpu(tmp_path, config):
    if torch.cuda.is_available():
        return
    report = run_tool_json(
        [
            TOOL,
            config,
            '--device',
            'cpu',
            *synthetic_args(tmp_path, clips=16, batch_size=4),
            '--steps',
            '2',
            '--timed',
            '1',
            '--cfg-options',
            *tiny_trunk_options([8, 16], [1, 2]),
        ],
        tmp_path,
    )
    assert report['graph_engaged'] is False and report['captures'] == 0
    # the same seed, batches and eager steps: identical numbers
    assert report['equal_within_rtol'] and max(report['worst_rel_diff'].values()) == 0
    assert report['per_step_loss']['False'] == report['per_step_loss']['True']
    assert report['eager_seq_per_s'] > 0 and report['graph_seq_per_s'] > 0
    assert report['noise_floor'] is False
