"""Train a model from a config with MMEngine's Runner (mmaction2's ``tools/train.py`` flags).

The plugin is imported before the config is read, so configs with or without
``custom_imports=dict(imports=['msclr_mm'])`` both work.
"""

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import msclr_mm  # noqa: E402,F401  (applies the stack fixes, registers the plugin)
from msclr_mm.utils.runner import (  # noqa: E402
    build_runner,
    close_distributed,
    exit_now,
    merge_common_args,
)


def parse_args(argv=None):
    """Parse the command line (mmaction2's train flags plus ``--trust-checkpoint``)."""
    parser = argparse.ArgumentParser(description='Train a model with msclr_mm + mmaction2')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or (no value) from the latest in the work dir',
    )
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--no-validate', action='store_true', help='do not evaluate during training'
    )
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the real batch size over auto_scale_lr.base_batch_size',
    )
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed', action='store_true', help='different seeds for different ranks'
    )
    parser.add_argument(
        '--deterministic', action='store_true', help='deterministic algorithms (slower)'
    )
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow checkpoints (resume / load_from / Pretrained) to unpickle arbitrary '
        'Python objects. Only for files whose origin you trust.',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=msclr_mm.utils.runner.DictAction,
        help='override config settings, key=value pairs (e.g. train_cfg.max_epochs=1)',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge the command line into the config (mmaction2's priorities)."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise SystemExit(f'--amp does not support the optimizer wrapper {wrapper!r}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    # a flag given on the command line wins over the config's ``randomness`` (mmaction2's
    # train.py would silently keep a config's seed=0 under --seed 1)
    randomness = cfg.get('randomness', None)
    if randomness is None:
        cfg.randomness = dict(
            seed=args.seed, diff_rank_seed=args.diff_rank_seed, deterministic=args.deterministic
        )
    else:
        if args.seed is not None:
            randomness['seed'] = args.seed
        if args.diff_rank_seed:
            randomness['diff_rank_seed'] = True
        if args.deterministic:
            randomness['deterministic'] = True
    return merge_common_args(cfg, args)


def main(argv=None):
    """Entry point: read the config, merge flags, build the runner, train.

    Returns:
        bool: True after a distributed gloo run (its process group closed).
    """
    args = parse_args(argv)
    runner = build_runner(args, merge_args)
    runner.train()
    return close_distributed()


if __name__ == '__main__':
    if main():
        exit_now(0)  # a finished gloo run: skip the teardown that may abort (see exit_now)
