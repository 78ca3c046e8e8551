"""Shared plumbing of ``tools/train.py`` and ``tools/test.py``."""

from __future__ import annotations

import argparse
import os
import os.path as osp
from collections.abc import Callable

from mmengine.config import Config, DictAction

from .. import compat

__all__ = ['DictAction', 'build_runner', 'merge_common_args']


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
            cfg.model_wrapper_cfg = dict(type='CPUDistributedDataParallel')
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
