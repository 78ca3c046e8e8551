"""Test a checkpoint with MMEngine's Runner (mmaction2's ``tools/test.py`` flags).

Checkpoints load weights-only; ``--trust-checkpoint`` opts in to full unpickling.
"""

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import msclr_mm  # noqa: E402,F401  (applies the stack fixes, registers the plugin)
from msclr_mm.utils.runner import (  # noqa: E402
    build_runner,
    check_checkpoint_matches,
    close_distributed,
    exit_now,
    merge_common_args,
)


def parse_args(argv=None):
    """Parse the command line (mmaction2's test flags plus ``--trust-checkpoint``)."""
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--dump', type=str, help='dump the predictions to this .pkl for offline evaluation'
    )
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow the checkpoint to unpickle arbitrary Python objects (trusted files only)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=msclr_mm.utils.runner.DictAction,
        help='override config settings, key=value pairs',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.dump is not None and not args.dump.endswith(('.pkl', '.pickle')):
        parser.error(f'--dump must name a .pkl or .pickle file, got {args.dump!r}')
    if not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint!r} does not exist')
    return args


def merge_args(cfg, args):
    """Merge the command line into the config."""
    if args.dump is not None:
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, (list, tuple)):
            cfg.test_evaluator = [*evaluators, dump_metric]
        else:
            cfg.test_evaluator = [evaluators, dump_metric]
    cfg.load_from = args.checkpoint
    return merge_common_args(cfg, args)


def run(argv=None):
    """Read the config, merge flags, build the runner, test, close a process group.

    Returns:
        tuple: ``(metrics, closed_gloo)``: the evaluator's dict, and True after a
        distributed gloo run (its process group closed).
    """
    args = parse_args(argv)
    runner = build_runner(args, merge_args)
    check_checkpoint_matches(runner.model, args.checkpoint)
    metrics = runner.test()
    return metrics, close_distributed()


def main(argv=None):
    """Entry point for library callers: :func:`run`'s metrics; the process keeps running."""
    return run(argv)[0]


if __name__ == '__main__':
    if run()[1]:
        exit_now(0)  # a finished gloo run: skip the teardown that may abort (see exit_now)
