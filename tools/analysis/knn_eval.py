"""kNN evaluation of a contrastive encoder: a checkpoint, or a seeded random initialisation.

Runs the config's validation (``ValLoop`` over its ``KNNEvalDataset``: the memory-bank split
embedded, the query split classified by a weighted kNN and by 1-NN per skeleton format, see
``KNNMetric``) and prints the metrics; the last line is JSON. Compare a pretrained encoder
with a random one built by the same config and seed:

    python tools/analysis/knn_eval.py configs/demo/msaimclr_demo.py \
        work_dirs/msaimclr_demo/epoch_10.pth
    python tools/analysis/knn_eval.py configs/demo/msaimclr_demo.py --random-init --seed 0

A freshly initialised encoder has never run in training mode, so its BatchNorm layers hold
their initial running statistics (mean 0, variance 1): evaluated as it is, each layer scales
instead of normalising, and with small initial weights (the reference's N(0, 0.02)) the
pooled features shrink by orders of magnitude (a kNN on L2-normalised features is blind to
that; a linear probe behind a BatchNorm is not: its eps swamps them and it stays at
chance). ``--bn-stats N`` (with ``--random-init``) first re-estimates every BatchNorm's
running statistics (a cumulative average) over ``N`` batches of the kNN bank split
(training clips, no labels, no gradient, no weight changes), as a trained encoder's were
estimated in training.

``--save-init PATH`` (with ``--random-init``) also writes that initialisation as a checkpoint
(tensors only, ``{'state_dict': ...}``), so that the linear probes can be trained on the
random encoder a pretraining starts from (the probes' baseline), e.g.
``model.backbone.init_cfg.checkpoint=PATH`` of a probe config.

Checkpoints load weights-only; ``--trust-checkpoint`` opts in to full unpickling. A
checkpoint that does not hold every weight of the config's model with the model's shape
(another backbone width, other formats, another queue length) is refused before anything
runs, as ``tools/test.py`` refuses it (``check_checkpoint_matches``): mmengine's non-strict
load would only warn, and the kNN would score a mostly random encoder.
"""

import argparse
import json
import os
import os.path as osp
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import msclr_mm  # noqa: E402,F401  (applies the stack fixes, registers the plugin)
from msclr_mm.utils.runner import (  # noqa: E402
    DictAction,
    build_runner,
    check_checkpoint_matches,
    merge_common_args,
)


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
        '--bn-stats',
        type=int,
        default=0,
        metavar='N',
        help='with --random-init: re-estimate BatchNorm running statistics over N bank '
        'batches first (default 0: as initialised)',
    )
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
    if args.bn_stats < 0:
        parser.error(f'--bn-stats must be >= 0, got {args.bn_stats}')
    if args.bn_stats and not args.random_init:
        parser.error('--bn-stats needs --random-init (a checkpoint has its own statistics)')
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


def estimate_bn_stats(runner, model, batches):
    """Re-estimate every BatchNorm's running statistics on the kNN bank split.

    The model runs its evaluation forward (``val_step``: preprocessing without
    augmentation, the query backbone) with only its BatchNorm layers in training mode and
    ``momentum=None`` (a cumulative average over the batches seen), without gradients.

    Args:
        runner (mmengine.runner.Runner): Built from the config (its ``val_dataloader``
            dataset must have a ``bank``).
        model (torch.nn.Module): The model (not a wrapper).
        batches (int): Bank batches to use (all of them if fewer).

    Returns:
        int: The number of batches used.
    """
    import copy

    import torch
    from torch.nn.modules.batchnorm import _BatchNorm

    loader_cfg = copy.deepcopy(runner.cfg.val_dataloader)
    bank = loader_cfg['dataset'].get('bank') if isinstance(loader_cfg['dataset'], dict) else None
    if bank is None:
        raise SystemExit('--bn-stats: the val_dataloader dataset has no bank split to use')
    loader_cfg['dataset'] = bank
    loader_cfg['persistent_workers'] = False
    loader = runner.build_dataloader(loader_cfg)
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    used = 0
    with torch.no_grad():
        for batch in loader:
            if used == batches:
                break
            model.val_step(batch)
            used += 1
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
        m.eval()
    print(f'BatchNorm statistics of {len(norms)} layers estimated over {used} bank batches')
    return used


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

    Raises:
        SystemExit: The checkpoint does not fit the config's model (the message names the
            file, the missing keys and those with another shape).
    """
    args = parse_args(argv)
    runner = build_runner(args, merge_args)
    if args.checkpoint is not None:
        # mmengine's load_from only warns on missing keys or other shapes: refuse instead
        check_checkpoint_matches(runner.model, args.checkpoint)
    if args.random_init:
        # the same initialisation a training run with this seed starts from
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        if hasattr(model, 'init_weights'):
            model.init_weights()
        if args.bn_stats:
            estimate_bn_stats(runner, model, args.bn_stats)
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
