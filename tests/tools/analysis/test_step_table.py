"""tools/analysis/step_table.py and benchmark.format_table: a report as a Markdown table."""

import json
import os.path as osp

import pytest

from ...conftest import REPO_ROOT, run_python

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'step_table.py')

REPORT = dict(
    config='configs/msclr/x.py',
    gpu='NVIDIA H200',
    torch='2.13.0',
    complete=False,
    variants=dict(
        baseline=dict(
            model_step_seq_per_s=1167.5,
            full_loop_seq_per_s=586.4,
            peak_gpu_mem_gib=6.65,
            first_step_s=2.2,
            model_step_loss_first=9.1234,
            model_step_loss_last=8.5,
            profile=dict(
                device_ms_per_step=40.0,
                device_ms_by_category={'batch norm': 12.5, 'elementwise': 9.0},
            ),
        ),
        **{
            'bf16+cl+bat+gs+gf': dict(
                model_step_seq_per_s=4000.0,
                full_loop_seq_per_s=2345.6,
                first_step_s=0.9,
                step_graph=dict(
                    captures=4,
                    model_step=dict(warmup_steps=24, timed_eager_steps=0, timed_captures=0),
                    full_loop=dict(warmup_steps=31, timed_eager_steps=1, timed_captures=1),
                ),
                profile_error='RuntimeError: CUPTI',
            )
        },
    ),
    failed={'bf16+cl+bat+cg+gf': 'stopped by SIGTERM after 80 s'},
)


def test_format_table():
    import sys

    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis'))
    from benchmark import format_table

    lines = format_table(REPORT).splitlines()
    assert lines[0].startswith('| variant | model step seq/s | full loop seq/s | x baseline')
    assert lines[2] == (
        '| `baseline` | 1,168 | 586 | 1.00 | 6.65 | 2.2 | 9.123 / 8.500 | - '
        '| 40.0 (batch norm 12.5) |'
    )
    # the full loop's timed steps that were not replays; no memory or loss: '-'
    assert lines[3] == (
        '| `bf16+cl+bat+gs+gf` | 4,000 | 2,346 | 4.00 | - | 0.9 | - / - | 1 / 1 | profile failed |'
    )
    assert lines[-1] == '`bf16+cl+bat+cg+gf`: stopped by SIGTERM after 80 s'


def test_step_table_cli(tmp_path):
    path = tmp_path / 'step.json'
    path.write_text(json.dumps(REPORT))
    out = run_python([TOOL, str(path)]).stdout
    assert out.startswith(f'{path}: configs/msclr/x.py, NVIDIA H200, 2.13.0 (incomplete)\n')
    assert '| `bf16+cl+bat+gs+gf` | 4,000 |' in out
    bad = tmp_path / 'bad.json'
    bad.write_text('{}')
    proc = run_python([TOOL, str(bad)], check=False)
    assert proc.returncode == 2 and 'not a benchmark.py report' in proc.stderr


@pytest.mark.parametrize('report', [dict(variants={}), dict(variants={'x': {}})])
def test_format_table_of_little(report):
    import sys

    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis'))
    from benchmark import format_table

    assert len(format_table(report).splitlines()) == 2 + len(report['variants'])
