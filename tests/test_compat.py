"""Each stack fix in msclr_mm.compat: it works, and the breakage it fixes is real.

The "without the fix" halves run a fresh interpreter with ``MSCLR_MM_COMPAT_SKIP`` naming
the fix, and expect the original failure, so a fix that stops being needed (or stops
working) is noticed.
"""

import os
import os.path as osp
import pickle
import textwrap

import pytest
import torch

import msclr_mm
from msclr_mm import compat

from .conftest import run_python

# A meta-path finder that hides a module, as on a machine without it installed.
HIDE = textwrap.dedent(
    """
    import sys
    class _Hide:
        def __init__(self, names): self.names = names
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in self.names:
                raise ModuleNotFoundError('No module named ' + repr(name))
            return None
    sys.meta_path.insert(0, _Hide({names!r}))
    """
)


def _script(body, hide=()):
    prefix = HIDE.replace('{names!r}', repr(set(hide))) if hide else ''
    return prefix + textwrap.dedent(body)


IMPORT_MODELS = """
import msclr_mm
import mmaction.models
from mmaction.registry import MODELS
print('STGCN' in MODELS.module_dict)
"""


def test_package_imports_compat_first():
    assert msclr_mm.compat is compat
    assert compat.apply() is compat.APPLIED


def test_unknown_skip_name_is_an_error():
    proc = run_python(['-c', 'import msclr_mm'], env={compat.SKIP_ENV: 'nonsense'}, check=False)
    assert proc.returncode != 0
    assert 'unknown fixes' in proc.stderr and 'nonsense' in proc.stderr


# ---------------------------------------------------------------- 1: drn placeholder
def test_mmaction_models_import_and_drn_placeholder():
    proc = run_python(
        [
            '-c',
            _script(
                IMPORT_MODELS
                + """
try:
    MODELS.build(dict(type='DRN'))
except ImportError as err:
    print('DRN-ERROR', err)
"""
            ),
        ]
    )
    assert 'True' in proc.stdout
    if 'drn' in compat.APPLIED:
        assert 'DRN-ERROR' in proc.stdout and '2714' in proc.stdout


def test_without_drn_fix_mmaction_models_fails():
    if 'drn' not in compat.APPLIED:
        pytest.skip('this mmaction2 install ships drn; the fix is not needed here')
    proc = run_python(['-c', IMPORT_MODELS], env={compat.SKIP_ENV: 'drn'}, check=False)
    assert proc.returncode != 0
    assert 'drn' in proc.stderr


# ---------------------------------------------------------------- 2: importlib_metadata
def test_works_without_importlib_metadata_backport():
    proc = run_python(['-c', _script(IMPORT_MODELS, hide=['importlib_metadata'])])
    assert 'True' in proc.stdout


def test_without_importlib_metadata_fix_import_fails():
    proc = run_python(
        ['-c', _script(IMPORT_MODELS, hide=['importlib_metadata'])],
        env={compat.SKIP_ENV: 'importlib_metadata'},
        check=False,
    )
    assert proc.returncode != 0
    assert 'importlib_metadata' in proc.stderr


# ---------------------------------------------------------------- 3: transformers 5
@pytest.fixture
def fake_transformers5(tmp_path):
    """A site folder holding a ``transformers`` 5.0.0 distribution without BEiT."""
    pkg = tmp_path / 'transformers'
    pkg.mkdir()
    (pkg / '__init__.py').write_text("__version__ = '5.0.0'\n")
    info = tmp_path / 'transformers-5.0.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: transformers\nVersion: 5.0.0\n')
    return str(tmp_path)


def test_transformers5_gets_vindlu_placeholders(fake_transformers5):
    body = (
        IMPORT_MODELS
        + """
try:
    MODELS.build(dict(type='VindLUVQA'))
except ImportError as err:
    print('VINDLU-ERROR', err)
"""
    )
    proc = run_python(['-c', body], env={'PYTHONPATH': fake_transformers5})
    assert 'True' in proc.stdout
    assert 'VINDLU-ERROR' in proc.stdout


def test_without_multimodal_fix_transformers5_breaks_import(fake_transformers5):
    proc = run_python(
        ['-c', IMPORT_MODELS],
        env={'PYTHONPATH': fake_transformers5, compat.SKIP_ENV: 'multimodal'},
        check=False,
    )
    assert proc.returncode != 0
    assert 'transformers' in proc.stderr


# ---------------------------------------------------------------- 5: pkg_resources
MMACTION_BASE = """
import msclr_mm
from mmengine.config import Config
cfg = Config.fromfile({path!r})
print('SCOPE', cfg.default_scope)
"""


def test_mmaction_scope_base_configs_resolve_without_pkg_resources(tmp_path):
    config = tmp_path / 'uses_mmaction_base.py'
    config.write_text("_base_ = 'mmaction::_base_/default_runtime.py'\n")
    proc = run_python(
        ['-c', _script(MMACTION_BASE.format(path=str(config)), hide=['pkg_resources'])]
    )
    assert 'SCOPE mmaction' in proc.stdout


def test_without_pkg_resources_fix_mmaction_scope_fails(tmp_path):
    config = tmp_path / 'uses_mmaction_base.py'
    config.write_text("_base_ = 'mmaction::_base_/default_runtime.py'\n")
    proc = run_python(
        ['-c', _script(MMACTION_BASE.format(path=str(config)), hide=['pkg_resources'])],
        env={compat.SKIP_ENV: 'pkg_resources'},
        check=False,
    )
    assert proc.returncode != 0
    assert 'pkg_resources' in proc.stderr


def test_package_helpers_find_installed_packages():
    from mmengine.utils import package_utils

    path = package_utils.get_installed_path('mmaction2')
    assert osp.isfile(osp.join(path, '__init__.py')) and path.endswith('mmaction')
    assert package_utils.is_installed('mmengine')
    assert not package_utils.is_installed('surely_not_a_package_msclr')


# ---------------------------------------------------------------- 4: checkpoints
class _Payload:
    """Pickles as a call to os.system: what a hostile checkpoint would carry."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def _hostile_checkpoint(tmp_path):
    marker = tmp_path / 'PWNED'
    path = tmp_path / 'hostile.pth'
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'meta': _Payload(marker)}, path)
    return path, marker


def _mmengine_checkpoint(tmp_path):
    """A checkpoint as mmengine's Runner writes it: state dict, meta, message hub."""
    from mmengine.logging import MessageHub

    hub = MessageHub.get_instance('compat_test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_info('epoch', 3)
    path = tmp_path / 'mmengine.pth'
    torch.save(
        {
            'meta': {'epoch': 3, 'iter': 30, 'seed': 0, 'cfg': 'x = 1'},
            'state_dict': {'w': torch.ones(3)},
            'message_hub': hub.state_dict(),
        },
        path,
    )
    return path


def test_mmengine_checkpoint_loads_weights_only(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint

    path = _mmengine_checkpoint(tmp_path)
    assert 'builtins.getattr' not in torch.serialization.get_unsafe_globals_in_checkpoint(path)
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(3))
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert buffer.current() == 1.5 and buffer.mean() == 1.5


def test_without_checkpoint_fix_mmengine_checkpoint_is_refused(tmp_path):
    path = _mmengine_checkpoint(tmp_path)
    body = f"""
import msclr_mm
from mmengine.runner.checkpoint import _load_checkpoint
_load_checkpoint({str(path)!r}, map_location='cpu')
"""
    proc = run_python(['-c', body], env={compat.SKIP_ENV: 'checkpoints'}, check=False)
    assert proc.returncode != 0
    assert 'weights_only' in proc.stderr or 'Unsupported global' in proc.stderr


@pytest.mark.parametrize('entry', ['load_checkpoint', 'runner', 'pretrained'])
def test_hostile_checkpoint_is_refused_with_no_side_effect(tmp_path, entry):
    from mmengine.runner.checkpoint import _load_checkpoint

    path, marker = _hostile_checkpoint(tmp_path)
    with pytest.raises(compat.UnsafeCheckpointError) as info:
        if entry == 'load_checkpoint':
            _load_checkpoint(str(path), map_location='cpu')
        elif entry == 'runner':
            from mmengine.runner.checkpoint import load_checkpoint

            load_checkpoint(torch.nn.Linear(2, 2), str(path))
        else:
            from mmengine.model import BaseModule

            class Net(BaseModule):
                def __init__(self):
                    super().__init__(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
                    self.w = torch.nn.Parameter(torch.zeros(2))

            Net().init_weights()
    message = str(info.value)
    assert str(path) in message
    assert '--trust-checkpoint' in message and compat.TRUST_ENV in message
    assert isinstance(info.value, pickle.UnpicklingError)
    assert not marker.exists()


def test_trusted_opt_in_really_unpickles(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint

    path, marker = _hostile_checkpoint(tmp_path)
    with pytest.warns(UserWarning, match='full pickle'), compat.trusted_checkpoints():
        _load_checkpoint(str(path), map_location='cpu')
    assert marker.exists()
    assert not compat.checkpoints_trusted()


def test_trust_environment_variable(tmp_path, monkeypatch):
    path, marker = _hostile_checkpoint(tmp_path)
    monkeypatch.setenv(compat.TRUST_ENV, '1')
    assert compat.checkpoints_trusted()
    with pytest.warns(UserWarning):
        compat.load_checkpoint_file(str(path))
    assert marker.exists()


# ---------------------------------------------------------------- 6: CPU distributed
def test_cpu_ddp_wrapper_is_registered():
    from mmengine.registry import MODEL_WRAPPERS

    if 'cpu_distributed' not in compat.APPLIED:
        pytest.skip('cpu_distributed fix skipped in this process')
    assert 'CPUDistributedDataParallel' in MODEL_WRAPPERS.module_dict


# ---------------------------------------------------------------- 7: atomic checkpoints
def test_atomic_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    target.write_bytes(b'old complete checkpoint')

    def crash(src, dst):
        raise KeyboardInterrupt('killed before the rename')

    monkeypatch.setattr(compat.os, 'replace', crash)
    with pytest.raises(KeyboardInterrupt):
        compat.atomic_write(b'new half-written', target)
    assert target.read_bytes() == b'old complete checkpoint'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']


def test_mmengine_local_backend_writes_atomically(tmp_path, monkeypatch):
    from mmengine.fileio.backends import LocalBackend

    calls = []
    real = compat.atomic_write
    monkeypatch.setattr(compat, 'atomic_write', lambda d, p: (calls.append(p), real(d, p)))
    LocalBackend().put(b'abc', tmp_path / 'sub' / 'x.pth')
    LocalBackend().put_text('path', tmp_path / 'last')
    assert len(calls) == 2
    assert (tmp_path / 'sub' / 'x.pth').read_bytes() == b'abc'
    assert (tmp_path / 'last').read_text() == 'path'


@pytest.mark.parametrize('last', ['empty', 'truncated', 'missing', 'absent'])
def test_auto_resume_skips_incomplete_checkpoints(tmp_path, last):
    from mmengine.runner import checkpoint as mm_checkpoint

    good = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {}}, good)
    broken = tmp_path / 'epoch_2.pth'
    broken.write_bytes(good.read_bytes()[:40])  # killed mid-save (pre-fix behaviour)
    record = tmp_path / 'last_checkpoint'
    if last == 'empty':
        record.write_text('')
    elif last == 'truncated':
        record.write_text(str(broken))
    elif last == 'missing':
        record.write_text(str(tmp_path / 'epoch_3.pth'))
    assert mm_checkpoint.find_latest_checkpoint(str(tmp_path)) == str(good)


def test_auto_resume_uses_the_named_complete_checkpoint(tmp_path):
    from mmengine.runner import checkpoint as mm_checkpoint

    for epoch in (1, 2):
        torch.save({'state_dict': {}}, tmp_path / f'epoch_{epoch}.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    assert mm_checkpoint.find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_1.pth')
    assert mm_checkpoint.find_latest_checkpoint(str(tmp_path / 'nothing')) is None
