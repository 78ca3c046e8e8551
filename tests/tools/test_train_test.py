"""End to end: tools/train.py, tools/test.py, --resume and dist_train.sh on the smoke config.

Everything runs in a temporary folder (the config reads ``data/smoke/...`` relative to the
working directory), on CPU, in about a minute.
"""

import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch

from ..conftest import REPO_ROOT, run_python

CONFIG = osp.join(REPO_ROOT, 'configs', 'smoke', 'stgcn_smoke.py')
TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
TEST = osp.join(REPO_ROOT, 'tools', 'test.py')


def _scalars(work_dir):
    """The rows of mmengine's scalars.json log in ``work_dir``."""
    rows = []
    for root, _, files in os.walk(work_dir):
        if 'scalars.json' in files:
            with open(osp.join(root, 'scalars.json')) as f:
                rows += [json.loads(line) for line in f if line.strip()]
    return rows


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Write the smoke data and train the smoke config once for this module."""
    root = tmp_path_factory.mktemp('smoke')
    run_python([osp.join(REPO_ROOT, 'tools', 'data', 'make_smoke_data.py')], cwd=root)
    work_dir = root / 'work'
    proc = run_python([TRAIN, CONFIG, '--work-dir', str(work_dir)], cwd=root)
    return root, work_dir, proc


@pytest.mark.slow
def test_train_checkpoints_and_learns(trained):
    _, work_dir, _ = trained
    for epoch in (10, 15, 20):
        assert (work_dir / f'epoch_{epoch}.pth').is_file()
    assert not (work_dir / 'epoch_5.pth').exists()  # max_keep_ckpts=3 in _base_
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('epoch_20.pth')
    val = [row['acc/top1'] for row in _scalars(work_dir) if 'acc/top1' in row]
    assert len(val) == 4
    # Three classes: chance is 1/3. The smoke data is easy; a working stack learns it.
    assert val[-1] >= 0.8, val


def test_checkpoint_holds_only_allowlisted_objects(trained):
    _, work_dir, _ = trained
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(work_dir / 'epoch_20.pth')
    allowed = {
        'numpy.ndarray',
        'numpy._core.multiarray._reconstruct',
        'numpy.core.multiarray._reconstruct',
        'numpy._core.multiarray.scalar',
        'numpy.core.multiarray.scalar',
        'numpy.dtype',
        'mmengine.logging.history_buffer.HistoryBuffer',
    }
    extra = {
        name for name in unsafe if name not in allowed and not name.startswith('numpy.dtypes.')
    }
    assert not extra, extra


def test_test_tool_reports_accuracy_and_dumps(trained):
    root, work_dir, _ = trained
    dump = root / 'preds.pkl'
    proc = run_python(
        [
            TEST,
            CONFIG,
            str(work_dir / 'epoch_20.pth'),
            '--work-dir',
            str(root / 'test'),
            '--dump',
            str(dump),
        ],
        cwd=root,
    )
    assert 'acc/top1' in proc.stdout + proc.stderr
    with open(dump, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 12  # 4 validation clips x 3 classes


def test_resume_continues_from_the_checkpoint(trained, tmp_path):
    root, work_dir, _ = trained
    proc = run_python(
        [
            TRAIN,
            CONFIG,
            '--work-dir',
            str(tmp_path / 'resumed'),
            '--resume',
            str(work_dir / 'epoch_15.pth'),
        ],
        cwd=root,
    )
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 15' in log
    assert 'Epoch(train) [16]' in log and 'Epoch(train) [1][' not in log
    assert (tmp_path / 'resumed' / 'epoch_20.pth').is_file()


def test_resume_auto_picks_the_latest(trained, tmp_path):
    root, work_dir, _ = trained
    proc = run_python(
        [
            TRAIN,
            CONFIG,
            '--work-dir',
            str(work_dir),
            '--resume',
            '--cfg-options',
            'train_cfg.max_epochs=21',
        ],
        cwd=root,
    )
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 20' in log and 'Epoch(train) [21]' in log


def test_config_without_custom_imports(trained, tmp_path):
    root, _, _ = trained
    config = tmp_path / 'plain.py'
    config.write_text(
        f'_base_ = [{CONFIG!r}]\ncustom_imports = dict(imports=[], allow_failed_imports=False)\n'
        'train_cfg = dict(max_epochs=1)\n'
    )
    run_python([TRAIN, str(config), '--work-dir', str(tmp_path / 'plain')], cwd=root)
    assert (tmp_path / 'plain' / 'epoch_1.pth').is_file()


def test_test_tool_refuses_hostile_checkpoint(trained, tmp_path):
    root, _, _ = trained
    marker = tmp_path / 'PWNED'

    class Payload:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))

    hostile = tmp_path / 'hostile.pth'
    torch.save({'state_dict': {}, 'meta': Payload()}, hostile)
    proc = run_python(
        [TEST, CONFIG, str(hostile), '--work-dir', str(tmp_path / 't')], cwd=root, check=False
    )
    assert proc.returncode != 0
    assert 'Refused to load checkpoint' in proc.stderr and '--trust-checkpoint' in proc.stderr
    assert not marker.exists()


def test_test_tool_rejects_bad_arguments(tmp_path):
    proc = run_python([TEST, CONFIG, str(tmp_path / 'missing.pth')], check=False)
    assert proc.returncode == 2 and 'does not exist' in proc.stderr
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    proc = run_python([TEST, CONFIG, str(ckpt), '--dump', 'out.json'], check=False)
    assert proc.returncode == 2 and '.pkl' in proc.stderr
    proc = run_python([TRAIN, str(tmp_path / 'nope.py')], check=False)
    assert proc.returncode != 0 and 'does not exist' in proc.stderr


def test_dist_train_two_cpu_processes(trained, tmp_path):
    root, _, _ = trained
    env = dict(os.environ, PORT='29611', PYTHONUNBUFFERED='1', PYTHON=sys.executable)
    proc = subprocess.run(
        [
            'bash',
            osp.join(REPO_ROOT, 'tools', 'dist_train.sh'),
            CONFIG,
            '2',
            '--work-dir',
            str(tmp_path / 'dist'),
            '--cfg-options',
            'train_cfg.max_epochs=2',
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    assert (tmp_path / 'dist' / 'epoch_2.pth').is_file()
