"""kNN evaluation of a contrastive encoder: a checkpoint, or a seeded random initialisation.

Runs the config's validation (``ValLoop`` over its ``KNNEvalDataset``: the memory-bank split
embedded, the query split classified by a weighted kNN and by 1-NN per skeleton format, see
``KNNMetric``) and prints the metrics; the last line is JSON. Compare a pretrained encoder
with a random one built by the same config and seed:

    python tools/analysis/knn_eval.py configs/demo/msaimclr_demo.py \
        work_dirs/msaimclr_demo/epoch_10.pth
    python tools/analysis/knn_eval.py configs/demo/msaimclr_demo.py --random-init --seed 0

``--save-init PATH`` (with ``--random-init``) also writes that initialisation as a checkpoint
(tensors only, ``{'state_dict': ...}``), so that the linear probes can be trained on the
random encoder a pretraining starts from (the probes' baseline), e.g.
``model.backbone.init_cfg.checkpoint=PATH`` of a probe config.

Checkpoints load weights-only; ``--trust-checkpoint`` opts in to full unpickling.
"""

import argparse
import json
import os
import os.path as osp
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import msclr_mm  # noqa: E402,F401  (applies the stack fixes, registers the plugin)
from msclr_mm.utils.runner import DictAction, build_runner, merge_common_args  # noqa: E402


def parse_args(argv=None):
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: The flags.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('config', help='pretraining config with a kNN val_dataloader')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint to evaluate')
    parser.add_argument(
        '--random-init', action='store_true', help='evaluate a randomly initialised encoder'
    )
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument(
        '--save-init',
        metavar='PATH',
        help='with --random-init: also write the initialised model as a checkpoint',
    )
    parser.add_argument('--work-dir', help='logs go here (default: a temporary folder)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow the checkpoint to unpickle arbitrary Python objects (trusted files only)',
    )
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings'
    )
    # intermixed: `CONFIG --random-init CKPT` still sees CKPT as the checkpoint
    args = parser.parse_intermixed_args(argv)
    if (args.checkpoint is None) == (not args.random_init):
        parser.error('give either a CHECKPOINT or --random-init (exactly one)')
    if args.save_init is not None:
        if not args.random_init:
            parser.error('--save-init needs --random-init')
        if osp.exists(args.save_init):
            parser.error(f'--save-init: {args.save_init!r} exists; not replaced')
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint!r} does not exist')
    args.launcher = 'none'
    os.environ.setdefault('LOCAL_RANK', '0')
    return args


def merge_args(cfg, args):
    """Merge the command line into the config (seed, checkpoint, no training hooks).

    Args:
        cfg (mmengine.Config): The config read from the file.
        args (argparse.Namespace): The flags.

    Returns:
        mmengine.Config: ``cfg``, modified in place.
    """
    if cfg.get('val_dataloader') is None or cfg.get('val_evaluator') is None:
        raise SystemExit(f'{args.config}: no val_dataloader / val_evaluator to run the kNN with')
    cfg.randomness = dict(seed=args.seed)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    # no training here: nothing to checkpoint (save_best would need a training run's state)
    cfg.default_hooks.checkpoint = None
    if args.work_dir is None:
        args.work_dir = tempfile.mkdtemp(prefix='knn_eval_')
    return merge_common_args(cfg, args)


def save_init(model, path, args):
    """Write ``model``'s state as a tensors-only checkpoint, atomically.

    Args:
        model (torch.nn.Module): The initialised model (keys as in a training checkpoint's
            ``state_dict``: ``backbone.``, ``neck.``, ...).
        path (str): Output file; its folder is created.
        args (argparse.Namespace): The flags (config and seed go to ``meta``).
    """
    import torch

    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    meta = dict(config=str(args.config), seed=int(args.seed), source='random-init')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp'
    torch.save(dict(state_dict=state, meta=meta), tmp)
    os.replace(tmp, path)
    print(f'wrote the initialised model to {path}')


def main(argv=None):
    """Entry point: build the runner, load or initialise the encoder, run the kNN.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.

    Returns:
        dict: The metrics (``knn/top1``, ``knn/nn1``, ``knn/<fmt>_top1``, ...).
    """
    args = parse_args(argv)
    runner = build_runner(args, merge_args)
    if args.random_init:
        # the same initialisation a training run with this seed starts from
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        if hasattr(model, 'init_weights'):
            model.init_weights()
        if args.save_init is not None:
            save_init(model, args.save_init, args)
    metrics = runner.val()
    metrics = {k: round(float(v), 4) for k, v in metrics.items()}
    source = 'random-init' if args.random_init else args.checkpoint
    for key, value in sorted(metrics.items()):
        print(f'{key}: {value:.4f}')
    print(json.dumps(dict(config=args.config, encoder=source, seed=args.seed, **metrics)))
    return metrics


if __name__ == '__main__':
    main()
