"""`bash tools/demo.sh`, the main job, end to end with a tiny encoder and one epoch."""

import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, run_python

DEMO = osp.join(REPO_ROOT, 'tools', 'demo.sh')
FORMATS = ('kinect25', 'smpl24', 'coco17')
# One epoch everywhere, a 2-block encoder, 20-frame clips, a 16-clip training set.
TINY = [
    '--no-validate',
    '--cfg-options',
    'train_cfg.max_epochs=1',
    'train_dataloader.batch_size=8',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.indices=16',
    'train_dataloader.dataset.pipeline.1.clip_len=20',
    'model.backbone.channels=[8,16]',
]
TINY_ENV = dict(
    STREAMS='joint motion',
    PRETRAIN_OPTIONS='model.neck.in_channels=16 model.queue_len=64',
    PROBE_OPTIONS='model.backbone.frozen_stages=2 test_dataloader.dataset.pipeline.1.clip_len=20 '
    'test_dataloader.num_workers=0 test_dataloader.persistent_workers=False',
)


def _demo(cwd, args, extra_env=None):
    env = dict(os.environ)
    env.update(
        PYTHON=sys.executable,
        PYTHONPATH=REPO_ROOT,
        MSCLR_MM_CACHE_DIR=str(cwd / 'cache'),
        PYTHONUNBUFFERED='1',
        **(extra_env or {}),
    )
    return subprocess.run(
        ['bash', DEMO, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


def _rows(stdout):
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 6 and cells[0] in ('joint', 'motion', 'fusion'):
            rows[(cells[0], cells[1])] = float(cells[2])
    return rows


@pytest.mark.slow
def test_demo_runs_end_to_end_and_reruns_safely(tmp_path):
    run_python(
        [
            osp.join(REPO_ROOT, 'tools', 'data', 'make_demo_data.py'),
            '--out-dir',
            'data/demo',
            '--subjects',
            '7',
            '--reps',
            '1',
        ],
        cwd=tmp_path,
    )
    data_before = {f: (tmp_path / 'data' / 'demo' / f'{f}.pkl').read_bytes() for f in FORMATS}
    proc = _demo(tmp_path, TINY, TINY_ENV)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for announce in (
        'data: data/demo',
        'pretrain MS-AimCLR',
        'linear probe, joint stream',
        'test, motion stream',
        'report: each format, the ensemble, the fusion',
    ):
        assert announce in out, announce
    assert 'Epoch(train)' in out and 'Epoch(test)' in out  # mmengine progress is shown
    rows = _rows(out)
    want = {(s, f) for s in ('joint', 'motion', 'fusion') for f in (*FORMATS, 'ensemble')}
    assert set(rows) == want, sorted(rows)
    assert all(0.0 <= v <= 100.0 for v in rows.values())
    work = tmp_path / 'work_dirs' / 'demo'
    assert (work / 'dumps' / 'joint.pkl').is_file() and (work / 'dumps' / 'motion.pkl').is_file()
    assert (work / 'report' / 'report.md').read_text().count('| fusion |') == 4
    # the user's data is kept as it was
    for f in FORMATS:
        assert (tmp_path / 'data' / 'demo' / f'{f}.pkl').read_bytes() == data_before[f]

    again = _demo(tmp_path, TINY, TINY_ENV)  # reuses every stage, prints the same table
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'pretrain MS-AimCLR: done earlier' in again.stdout
    assert 'linear probe, motion stream: done earlier' in again.stdout
    assert 'Epoch(train)' not in again.stdout
    assert _rows(again.stdout) == rows


def test_demo_refuses_a_partial_data_folder(tmp_path):
    demo = tmp_path / 'data' / 'demo'
    demo.mkdir(parents=True)
    (demo / 'kinect25.pkl').write_bytes(b'mine')
    proc = _demo(tmp_path, [])
    assert proc.returncode == 1
    assert 'holds only some of' in proc.stderr
    assert (demo / 'kinect25.pkl').read_bytes() == b'mine'
    assert not (demo / 'smpl24.pkl').exists()
    assert not (tmp_path / 'work_dirs' / 'demo' / 'pretrain').exists()


def test_demo_stops_on_a_failed_stage_with_its_status_and_log(tmp_path):
    """A failing stage ends the job with that stage's exit status and its log's last lines."""
    demo = tmp_path / 'data' / 'demo'
    demo.mkdir(parents=True)
    for f in FORMATS:
        (demo / f'{f}.pkl').write_bytes(b'not a pickle')
    proc = _demo(tmp_path, ['--cfg-options', 'train_dataloader.num_workers=0'])
    assert proc.returncode not in (0, None), proc.stdout[-2000:]
    assert '!! failed (exit' in proc.stderr and 'pretrain.log' in proc.stderr
    log = (tmp_path / 'work_dirs' / 'demo' / 'logs' / 'pretrain.log').read_text()
    assert log.strip() and log.strip().splitlines()[-1] in proc.stderr
    assert not (tmp_path / 'work_dirs' / 'demo' / 'pretrain' / 'DONE').exists()
    assert (demo / 'kinect25.pkl').read_bytes() == b'not a pickle'
