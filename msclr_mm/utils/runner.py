"""Shared plumbing of ``tools/train.py`` and ``tools/test.py``."""

from __future__ import annotations

import argparse
import os
import os.path as osp
from collections.abc import Callable

from mmengine.config import Config, DictAction

from .. import compat

__all__ = ['DictAction', 'build_runner', 'close_distributed', 'exit_now', 'merge_common_args']


def merge_common_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the flags train and test share: launcher, ``--cfg-options``, work dir.

    On a machine without CUDA a distributed launch uses gloo and the CPU-capable DDP
    wrapper (see :mod:`msclr_mm.compat`), unless the config chose otherwise; a config
    with ``sync_bn`` is refused there, since torch's ``SyncBatchNorm`` needs CUDA.

    Args:
        cfg (Config): The config read from the file.
        args (argparse.Namespace): Parsed flags with ``launcher``, ``cfg_options``,
            ``work_dir`` and ``config``.

    Returns:
        Config: ``cfg``, modified in place.
    """
    import torch

    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.launcher != 'none' and not torch.cuda.is_available():
        if cfg.get('sync_bn', None) is not None:
            raise SystemExit(
                f'{args.config}: sync_bn={cfg.sync_bn!r} needs CUDA: torch.nn.SyncBatchNorm '
                'refuses CPU tensors, so a CPU (gloo) distributed run would fail at its first '
                'step. Leave sync_bn unset on CPU (each process then keeps its own BatchNorm '
                'statistics).'
            )
        env_cfg = cfg.setdefault('env_cfg', {})
        env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        if cfg.get('model_wrapper_cfg', None) is None:
            # as mmengine's own default wrapper, honouring the top-level switch
            cfg.model_wrapper_cfg = dict(
                type='CPUDistributedDataParallel',
                find_unused_parameters=bool(cfg.get('find_unused_parameters', False)),
            )
    return cfg


def build_runner(
    args: argparse.Namespace, merge_args: Callable[[Config, argparse.Namespace], Config]
):
    """Read ``args.config``, merge the flags and build the runner it asks for.

    Args:
        args (argparse.Namespace): Parsed flags; ``trust_checkpoint`` opts in to full
            unpickling of checkpoints for this process and its workers.
        merge_args (callable): ``(cfg, args) -> cfg``, the tool's own flag handling.

    Returns:
        mmengine.runner.Runner: The runner (or the ``runner_type`` the config names).
    """
    from mmaction.registry import RUNNERS
    from mmengine.runner import Runner

    if not osp.isfile(args.config):
        raise SystemExit(f'config file {args.config!r} does not exist')
    if getattr(args, 'trust_checkpoint', False):
        os.environ[compat.TRUST_ENV] = '1'
        print(
            '--trust-checkpoint: checkpoints will be unpickled in full; '
            'only do this for files whose origin you trust.'
        )
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def check_checkpoint_matches(model, checkpoint: str, max_keys: int = 8) -> None:
    """Refuse to test a model that the checkpoint does not fully initialise.

    mmengine's ``load_checkpoint`` (used for ``load_from``) only logs a warning when keys are
    missing or shapes differ, so a checkpoint of another backbone would be "tested" with
    random weights. ``tools/test.py`` calls this first.

    Args:
        model (torch.nn.Module): The runner's model (a DDP wrapper is unwrapped).
        checkpoint (str): The checkpoint file; read with the safe loader.
        max_keys (int): How many key names to list per problem. Defaults to 8.

    Raises:
        SystemExit: Model weights missing from the checkpoint or with another shape; the
            message names the file, the keys (up to ``max_keys``) and their counts.
    """
    from mmengine.model import is_model_wrapper
    from mmengine.runner.checkpoint import _load_checkpoint

    if is_model_wrapper(model):
        model = model.module
    loaded = _load_checkpoint(checkpoint, map_location='cpu')
    state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        raise SystemExit(f'{checkpoint}: holds no state_dict; expected an mmengine checkpoint')
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    want = {k: v for k, v in model.state_dict().items() if not k.startswith('data_preprocessor.')}
    missing = sorted(k for k in want if k not in state)
    mismatched = sorted(
        f'{k} (checkpoint {tuple(state[k].shape)}, model {tuple(want[k].shape)})'
        for k in want
        if k in state and hasattr(state[k], 'shape') and state[k].shape != want[k].shape
    )
    if not missing and not mismatched:
        return

    def listed(keys):
        more = f', ... ({len(keys) - max_keys} more)' if len(keys) > max_keys else ''
        return ', '.join(keys[:max_keys]) + more

    lines = [f'{checkpoint}: does not match the model of the config; expected every weight of it']
    if missing:
        lines.append(f'{len(missing)} of {len(want)} model keys missing: {listed(missing)}')
    if mismatched:
        lines.append(f'{len(mismatched)} keys with another shape: {listed(mismatched)}')
    extra = sorted(k for k in state if k not in want and not k.startswith('data_preprocessor.'))
    if extra:
        lines.append(f'the checkpoint has {len(extra)} keys the model lacks: {listed(extra)}')
    raise SystemExit('\n  '.join(lines))


def close_distributed() -> bool:
    """Wait for every rank, then destroy the default process group (no-op when none).

    A process that exits with its gloo process group alive lets the interpreter tear the
    group's C++ worker threads down during static destruction; with torch 2.13 that aborts a
    rank now and then (``terminate called without an active exception``, SIGABRT) after a
    run that finished, so ``torchrun`` reports the job failed. ``tools/train.py`` and
    ``tools/test.py`` call this after a run that returned normally; the barrier keeps a
    fast rank from destroying the group while a slow one still talks to it.

    Returns:
        bool: True when a gloo group was closed (the caller may then leave with
        :func:`exit_now`, since the abort still happens, rarer, after the group is gone).
    """
    import torch.distributed as torch_dist

    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return False
    gloo = torch_dist.get_backend() == 'gloo'
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    return gloo


def exit_now(code: int = 0) -> None:
    """Flush the logs and standard streams, then end the process without interpreter teardown.

    For the end of a finished gloo run only (``tools/train.py`` / ``tools/test.py`` run as
    scripts): after :func:`close_distributed` a rank still aborted at exit in about 1 of 30
    two-process runs on the development machine (torch 2.13), inside the interpreter's
    teardown, after every checkpoint and log was written. ``os._exit`` skips that teardown;
    the logging handlers and ``sys.stdout`` / ``sys.stderr`` are flushed first.

    Args:
        code (int): Exit status. Defaults to 0.
    """
    import logging
    import sys

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
