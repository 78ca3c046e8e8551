"""Fixes the pinned OpenMMLab stack needs on today's Python and PyTorch.

``msclr_mm/__init__.py`` imports this module before anything else, and :func:`apply`
runs once. Nothing in ``site-packages`` is edited: each fix patches a name at run time, is
idempotent, and is recorded in :data:`APPLIED` (fix name -> what was done) so tests and
bug reports can see which fixes were needed on this machine.

The fixes, numbered as in DESIGN.md § Stack:

1. ``drn``: the mmaction2 1.2.0 wheel lacks ``mmaction/models/localizers/drn`` (upstream
   issue 2714), so ``import mmaction.models`` fails. A placeholder package is installed in
   ``sys.modules``; ``type='DRN'`` then raises an ImportError that explains why.
2. ``importlib_metadata``: mmaction2 imports the backport without declaring it. When it is
   absent, the standard library's ``importlib.metadata`` (same API) stands in.
3. ``multimodal``: with ``transformers`` >= 5 installed, mmaction2's VindLU import fails.
   The multimodal models are switched to mmaction2's own placeholders.
4. ``checkpoints``: torch >= 2.6 loads with ``weights_only=True`` and mmengine 0.10.7
   checkpoints hold ``HistoryBuffer`` and numpy objects. The few classes such checkpoints
   need are allowlisted for the restricted unpickler, ``HistoryBuffer`` stops pickling its
   built-in statistics as ``getattr`` calls (which no safe loader can accept; checkpoints
   written by stock mmengine therefore still need an opt-in), and every checkpoint mmengine loads
   (resume, ``load_from``, ``init_cfg=Pretrained``, ``tools/test.py CKPT``) goes through
   :func:`load_checkpoint_file`, which never unpickles arbitrary objects unless the user
   opts in knowingly (:func:`trusted_checkpoints`, ``--trust-checkpoint`` on the tools, or
   ``MSCLR_MM_TRUST_CHECKPOINTS=1``).
5. ``pkg_resources``: setuptools >= 82 dropped it and mmengine 0.10.7 needs it to resolve
   ``mmaction::`` base configs. ``mmengine.utils.package_utils`` gets ``importlib.metadata``
   versions of the three functions that used it.
6. ``cpu_distributed``: mmengine's PyTorch launcher calls ``torch.cuda.set_device``. On a
   machine without CUDA the process group is created with ``gloo`` instead, so
   ``tools/dist_train.sh`` runs on CPU (see :class:`CPUDistributedDataParallel`).
7. ``atomic_checkpoints``: mmengine writes checkpoints in place, so a run killed while
   saving leaves a truncated file, and an empty or stale ``last_checkpoint`` makes
   ``--resume`` fail. Local writes now go to a temporary file that replaces the target only
   when complete, and ``--resume`` (auto) skips a ``last_checkpoint`` that is empty or names
   a missing or unreadable file, falling back to the newest complete ``epoch_*``/``iter_*``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
import os.path as osp
import pickle
import sys
import types
import warnings
from collections.abc import Iterator
from typing import Any

#: Fix name -> a sentence saying what was done on this machine.
APPLIED: dict[str, str] = {}

#: Environment variable that opts in to full-pickle checkpoint loading.
TRUST_ENV = 'MSCLR_MM_TRUST_CHECKPOINTS'

#: Environment variable naming fixes to leave out (comma-separated fix names, as in
#: :data:`APPLIED`). For diagnosing the stack and for the tests that prove each fix is
#: needed; nobody should set it in normal use.
SKIP_ENV = 'MSCLR_MM_COMPAT_SKIP'

_trust_depth = 0


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds Python objects outside the allowlist and was refused."""


def _importable(name: str) -> bool:
    """Return whether ``name`` can be found (a broken or hidden module counts as absent)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _mmaction_dir() -> str | None:
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


# --------------------------------------------------------------------------- 2
def fix_importlib_metadata() -> None:
    """Alias ``importlib_metadata`` to the standard library when the backport is absent."""
    if 'importlib_metadata' in sys.modules:
        return
    if _importable('importlib_metadata'):
        return
    sys.modules['importlib_metadata'] = importlib.metadata
    APPLIED['importlib_metadata'] = 'aliased importlib_metadata to importlib.metadata'


# --------------------------------------------------------------------------- 1
def fix_missing_drn() -> None:
    """Install a placeholder for ``mmaction.models.localizers.drn`` when the wheel lacks it."""
    root = _mmaction_dir()
    if root is None or osp.isfile(osp.join(root, 'models', 'localizers', 'drn', 'drn.py')):
        return
    pkg_name = 'mmaction.models.localizers.drn'
    if pkg_name in sys.modules:
        return
    message = (
        'DRN is not available: the mmaction2 1.2.0 wheel on PyPI does not ship '
        '`mmaction/models/localizers/drn` (upstream issue 2714). Install mmaction2 from '
        'source if you need DRN; msclr_mm replaced it with this placeholder.'
    )

    class DRN:  # noqa: D101 - a placeholder whose only job is the error below
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(message)

    pkg = types.ModuleType(pkg_name)
    pkg.__path__ = []  # a package, so `from .drn.drn import DRN` resolves
    pkg.__doc__ = message
    mod = types.ModuleType(pkg_name + '.drn')
    mod.DRN = DRN
    mod.__doc__ = message
    pkg.drn = mod
    sys.modules[pkg_name] = pkg
    sys.modules[pkg_name + '.drn'] = mod
    from mmaction.registry import MODELS

    if 'DRN' not in MODELS.module_dict:
        MODELS.register_module(name='DRN', module=DRN)
    APPLIED['drn'] = 'installed a placeholder for mmaction.models.localizers.drn'


# --------------------------------------------------------------------------- 3
def fix_multimodal() -> None:
    """Switch mmaction2's VindLU models to placeholders when ``transformers`` >= 5."""
    if 'mmaction.models' in sys.modules:
        return  # too late to change; the import either worked or failed already
    try:
        version = importlib.metadata.version('transformers')
    except importlib.metadata.PackageNotFoundError:
        return
    major = version.split('.')[0]
    if not major.isdigit() or int(major) < 5:
        return
    dependency = importlib.import_module('mmaction.utils.dependency')
    dependency.WITH_MULTIMODAL = False
    APPLIED['multimodal'] = (
        f'transformers {version} is installed but mmaction2 1.2.0 VindLU needs < 5: '
        'VindLU models are placeholders'
    )


# --------------------------------------------------------------------------- 5
def _distribution_location(package: str) -> str:
    dist = importlib.metadata.distribution(package)
    return str(dist.locate_file(''))


def _top_level_module(package: str) -> str:
    dist = importlib.metadata.distribution(package)
    top_level = dist.read_text('top_level.txt')
    if top_level:
        return top_level.split()[0]
    for file in dist.files or ():
        parts = file.parts
        if len(parts) > 1 and parts[1] == '__init__.py':
            return parts[0]
    raise ValueError(f'can not infer the module name of {package}')


def _is_installed(package: str) -> bool:
    """Return whether ``package`` is installed (``pkg_resources``-free mmengine API)."""
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def _get_installed_path(package: str) -> str:
    """Return the installed folder of ``package`` (``pkg_resources``-free mmengine API)."""
    try:
        location = _distribution_location(package)
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        if spec is None:
            raise
        if spec.origin is None:
            raise RuntimeError(
                f'{package} is a namespace package, which is invalid for `get_install_path`'
            ) from None
        return osp.dirname(spec.origin)
    possible = osp.join(location, package)
    if osp.exists(possible):
        return possible
    return osp.join(location, _top_level_module(package))


def fix_pkg_resources() -> None:
    """Give mmengine's package helpers ``importlib.metadata`` bodies if needed."""
    if _importable('pkg_resources'):
        return
    package_utils = importlib.import_module('mmengine.utils.package_utils')
    replacements = {
        'is_installed': _is_installed,
        'get_installed_path': _get_installed_path,
        'package2module': _top_level_module,
    }
    # mmengine binds these names with `from ... import` in several modules.
    for module_name in (
        'mmengine.utils.package_utils',
        'mmengine.utils',
        'mmengine.config.config',
        'mmengine.config.utils',
        'mmengine.hub.hub',
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, func in replacements.items():
            if hasattr(module, name):
                setattr(module, name, func)
    del package_utils
    APPLIED['pkg_resources'] = (
        'pkg_resources is absent: mmengine package helpers use importlib.metadata'
    )


# --------------------------------------------------------------------------- 4
def _safe_globals() -> list[Any]:
    """Classes and functions an mmengine checkpoint needs beyond tensors and containers."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    allowed: list[Any] = [HistoryBuffer, np.ndarray, np.dtype]
    # numpy 2 keeps it in numpy._core; numpy 1.x in numpy.core (its numpy._core is partial).
    multiarray = getattr(getattr(np, '_core', None), 'multiarray', None) or np.core.multiarray
    allowed += [multiarray._reconstruct, multiarray.scalar]
    # numpy >= 1.25 pickles dtypes as instances of the classes in numpy.dtypes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType')]
    return allowed


def checkpoints_trusted() -> bool:
    """Return whether full-pickle checkpoint loading was opted into.

    Returns:
        bool: True inside :func:`trusted_checkpoints` or when the environment variable
        ``MSCLR_MM_TRUST_CHECKPOINTS`` is ``1``. Defaults to False.
    """
    return _trust_depth > 0 or os.environ.get(TRUST_ENV, '') == '1'


@contextlib.contextmanager
def trusted_checkpoints() -> Iterator[None]:
    """Allow checkpoints to unpickle arbitrary Python objects inside this block.

    Only for files whose origin you trust: unpickling a checkpoint can run any code.

    Example:
        >>> with trusted_checkpoints():
        ...     runner.load_checkpoint('old_research_code.pth')
    """
    global _trust_depth
    _trust_depth += 1
    try:
        yield
    finally:
        _trust_depth -= 1


def load_checkpoint_file(filename: Any, map_location: Any = None) -> Any:
    """Load a checkpoint with ``torch.load``, refusing arbitrary pickled objects.

    Args:
        filename (str | os.PathLike | file-like): The checkpoint.
        map_location: As in :func:`torch.load`. Defaults to None.

    Returns:
        The unpickled checkpoint (usually a dict with ``state_dict`` and ``meta``).

    Raises:
        UnsafeCheckpointError: The file holds an object outside the allowlist (tensors,
            containers, numbers, strings, numpy arrays, mmengine ``HistoryBuffer``) and the
            user did not opt in with :func:`trusted_checkpoints`, ``--trust-checkpoint`` or
            ``MSCLR_MM_TRUST_CHECKPOINTS=1``.
    """
    import torch

    name = filename if isinstance(filename, (str, os.PathLike)) else '<file object>'
    if checkpoints_trusted():
        warnings.warn(
            f'Loading {name} as a full pickle (trusted checkpoints are enabled): '
            'this can run arbitrary code.',
            stacklevel=2,
        )
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        detail = str(err).strip().splitlines()
        reason = next(
            (line for line in detail if 'GLOBAL' in line or 'Unsupported' in line),
            detail[0] if detail else '',
        )
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {name}: it contains Python objects that are not '
            f'plain tensors, containers or numbers ({reason.strip()}). Unpickling such a file '
            'can run arbitrary code, so msclr_mm loads checkpoints in weights-only mode. '
            'If you trust where this file comes from, opt in knowingly: pass '
            '--trust-checkpoint to tools/train.py or tools/test.py, set '
            f'{TRUST_ENV}=1, or wrap the call in `with msclr_mm.compat.trusted_checkpoints():`.'
        ) from None


_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getstate(self: Any) -> dict:
    """Pickle state of an mmengine ``HistoryBuffer`` without the built-in methods.

    mmengine 0.10.7 pickles ``HistoryBuffer.min`` etc. as ``getattr(HistoryBuffer, 'min')``,
    and ``getattr`` can never be allowlisted safely. ``__setstate__`` restores the four
    defaults anyway, so only user-registered statistics are kept (those still need a
    trusted load).
    """
    state = {k: v for k, v in self.__dict__.items() if k != 'statistics_methods'}
    custom = {k: v for k, v in self._statistics_methods.items() if k not in _DEFAULT_STATISTICS}
    if custom:
        state['statistics_methods'] = custom
    return state


def _load_from_local(filename: str, map_location: Any = None) -> Any:
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return load_checkpoint_file(filename, map_location=map_location)


def fix_checkpoint_loading() -> None:
    """Allowlist mmengine checkpoint classes and route local loads through the safe loader."""
    import torch
    from mmengine.runner.checkpoint import CheckpointLoader

    if not hasattr(torch.serialization, 'add_safe_globals'):
        raise ImportError(
            f'msclr_mm needs torch >= 2.4 for safe checkpoint loading; found {torch.__version__}'
        )
    from mmengine.logging.history_buffer import HistoryBuffer

    HistoryBuffer.__getstate__ = _history_buffer_getstate
    torch.serialization.add_safe_globals(_safe_globals())
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)
    APPLIED['checkpoints'] = (
        'checkpoints load weights-only with HistoryBuffer and numpy allowlisted; '
        f'full pickle only when opted in ({TRUST_ENV}=1 or trusted_checkpoints())'
    )


# --------------------------------------------------------------------------- 6
def _init_dist_pytorch_cpu_aware(backend: str, init_backend: str = 'torch', **kwargs: Any) -> None:
    """Run mmengine's PyTorch-launcher init, with a gloo fallback on machines without CUDA."""
    import torch
    import torch.distributed as torch_dist

    if torch.cuda.is_available():
        return _ORIGINAL_INIT_DIST_PYTORCH(backend, init_backend=init_backend, **kwargs)
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs,
    )


_ORIGINAL_INIT_DIST_PYTORCH: Any = None


def _register_cpu_ddp() -> None:
    from mmengine.model import MMDistributedDataParallel
    from mmengine.registry import MODEL_WRAPPERS

    if 'CPUDistributedDataParallel' in MODEL_WRAPPERS.module_dict:
        return

    @MODEL_WRAPPERS.register_module()
    class CPUDistributedDataParallel(MMDistributedDataParallel):
        """``MMDistributedDataParallel`` for CPU processes (gloo): no ``device_ids``.

        mmengine's ``Runner.wrap_model`` always passes ``device_ids=[LOCAL_RANK]``, which
        DDP rejects for a CPU module. ``tools/train.py`` selects this wrapper when it runs
        distributed on a machine without CUDA.
        """

        def __init__(self, module: Any, device_ids: Any = None, **kwargs: Any) -> None:
            super().__init__(module=module, device_ids=None, **kwargs)

    globals()['CPUDistributedDataParallel'] = CPUDistributedDataParallel


def fix_cpu_distributed() -> None:
    """Let ``launcher='pytorch'`` start a gloo process group when CUDA is absent."""
    global _ORIGINAL_INIT_DIST_PYTORCH
    dist_utils = importlib.import_module('mmengine.dist.utils')
    if dist_utils._init_dist_pytorch is _init_dist_pytorch_cpu_aware:
        return
    _ORIGINAL_INIT_DIST_PYTORCH = dist_utils._init_dist_pytorch
    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu_aware
    _register_cpu_ddp()
    APPLIED['cpu_distributed'] = 'PyTorch launcher falls back to gloo without CUDA'


# --------------------------------------------------------------------------- 7
def atomic_write(data: bytes, filepath: str | os.PathLike) -> None:
    """Write ``data`` to ``filepath`` so readers see the old file or the whole new one.

    Args:
        data (bytes): The content.
        filepath (str | os.PathLike): The target; its folder is created if needed.
    """
    filepath = os.fspath(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(filepath)}.tmp-{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _is_complete_checkpoint(path: str) -> bool:
    """Return whether ``path`` is a readable torch zip checkpoint (cheap: the zip index)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith('data.pkl') for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def find_latest_checkpoint(path: str) -> str | None:
    """Return the checkpoint ``--resume`` (auto) should use in work dir ``path``.

    Args:
        path (str): The work dir.

    Returns:
        str | None: The file named by ``last_checkpoint`` when it exists and is complete,
        else the newest complete ``epoch_*.pth`` / ``iter_*.pth`` in ``path``, else None.
    """
    import glob
    import re

    from mmengine.logging import print_log

    save_file = osp.join(path, 'last_checkpoint')
    named = ''
    if osp.exists(save_file):
        with open(save_file) as f:
            named = f.read().strip()
    if named and _is_complete_checkpoint(named):
        return named
    candidates = []
    for file in glob.glob(osp.join(path, '*.pth')):
        match = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(file))
        if match and _is_complete_checkpoint(file):
            candidates.append((int(match.group(2)), osp.getmtime(file), file))
    if named or candidates:
        print_log(
            f'last_checkpoint in {path} names {named or "nothing"!r}, which is missing or '
            'incomplete; resuming from the newest complete checkpoint instead.'
            if candidates
            else f'no complete checkpoint found in {path}',
            logger='current',
        )
    return max(candidates)[2] if candidates else None


def fix_atomic_checkpoints() -> None:
    """Make local checkpoint writes atomic and ``--resume`` skip incomplete checkpoints."""
    from mmengine.fileio.backends import local_backend

    def put(self: Any, obj: bytes, filepath: str | os.PathLike) -> None:
        atomic_write(obj, filepath)

    def put_text(self: Any, obj: str, filepath: str | os.PathLike, encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), filepath)

    local_backend.LocalBackend.put = put
    local_backend.LocalBackend.put_text = put_text
    for module_name in (
        'mmengine.runner.checkpoint',
        'mmengine.runner',
        'mmengine.runner.runner',
        'mmengine.runner._flexible_runner',
    ):
        module = importlib.import_module(module_name)
        if hasattr(module, 'find_latest_checkpoint'):
            module.find_latest_checkpoint = find_latest_checkpoint
    APPLIED['atomic_checkpoints'] = (
        'local checkpoint writes are atomic; auto-resume skips incomplete checkpoints'
    )


_applied = False


def apply() -> dict[str, str]:
    """Apply every fix once (idempotent).

    Returns:
        dict[str, str]: :data:`APPLIED`, the fixes this machine needed.
    """
    global _applied
    if not _applied:
        skip = {name.strip() for name in os.environ.get(SKIP_ENV, '').split(',') if name.strip()}
        fixes = {
            'importlib_metadata': fix_importlib_metadata,
            'drn': fix_missing_drn,
            'multimodal': fix_multimodal,
            'pkg_resources': fix_pkg_resources,
            'checkpoints': fix_checkpoint_loading,
            'cpu_distributed': fix_cpu_distributed,
            'atomic_checkpoints': fix_atomic_checkpoints,
        }
        unknown = skip - set(fixes)
        if unknown:
            raise ValueError(
                f'{SKIP_ENV} names unknown fixes {sorted(unknown)}; known: {sorted(fixes)}'
            )
        for name, fix in fixes.items():
            if name not in skip:
                fix()
        _applied = True
    return APPLIED


apply()
