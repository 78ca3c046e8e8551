"""Print the ``--cfg-options`` of a benchmark variant (or of the fastest one in a report).

Example:
    python tools/analysis/variant_options.py bf16+cl+bal+cg
    python tools/analysis/variant_options.py --best work_dirs/gpu_suite/step.json
"""

import argparse
import json

SWITCHES = (
    'bf16',
    'fp32',
    'cl',
    'nchw',
    'compile',
    'cg',
    'bal',
    'bat',
    'fuse',
    'dense',
    'gf',
    'gs',
    'cudnn',
)


def variant_settings(variant):
    """What a benchmark variant sets: the one definition ``benchmark.py`` and this tool share.

    Args:
        variant (str): ``'baseline'`` (everything off) or ``+``-joined :data:`SWITCHES`.

    Returns:
        dict: ``bf16`` (bool), ``channels_last`` (bool), ``compile`` (False, True or
        ``'reduce-overhead'``), ``fuse_groups`` (bool: one trunk pass for the groups of an
        encoder), ``dense_gcn`` (bool: each block's graph convolution as one dense GEMM),
        ``graph_first`` (``'widening'`` or False: the widening blocks' graph convolution
        with the adjacency product first), ``graph_step`` (bool: the whole step as one CUDA
        graph, with the trunk compiled without CUDA graphs of its own), ``cudnn_benchmark``
        (bool: ``torch.backends.cudnn.benchmark``, cuDNN timing its convolution algorithms
        for each new shape instead of choosing them by heuristics;
        ``env_cfg.cudnn_benchmark`` in a config) and ``rule`` (the ``SampleFormatViews``
        rule: ``'balanced'`` with ``bal``, ``'batch'`` with ``bat``, else ``'random'``).

    """
    switches = set() if variant == 'baseline' else set(variant.split('+'))
    unknown = switches - set(SWITCHES)
    if unknown:
        raise ValueError(f'variant {variant!r}: unknown switches {sorted(unknown)}; use {SWITCHES}')
    if {'bal', 'bat'} <= switches:
        raise ValueError(f"variant {variant!r}: 'bal' and 'bat' are two format rules; pick one")
    if {'gs', 'cg'} <= switches:
        raise ValueError(
            f"variant {variant!r}: 'gs' captures the whole step and 'cg' the trunk alone; "
            "graphs cannot nest (use 'gs+compile')"
        )
    return dict(
        bf16='bf16' in switches,
        channels_last='cl' in switches,
        compile='reduce-overhead' if 'cg' in switches else 'compile' in switches,
        fuse_groups='fuse' in switches,
        dense_gcn='dense' in switches,
        graph_first='widening' if 'gf' in switches else False,
        graph_step='gs' in switches,
        cudnn_benchmark='cudnn' in switches,
        rule='balanced' if 'bal' in switches else 'batch' if 'bat' in switches else 'random',
    )


def variant_options(variant):
    """``--cfg-options`` strings that turn a config into ``variant`` (for ``tools/train.py``)."""
    settings = variant_settings(variant)
    return [
        # AutocastOptimWrapper(enabled=False) is a plain OptimWrapper and, unlike a bare
        # type=OptimWrapper, accepts the dtype key the pretraining schedules set
        'optim_wrapper.type=AutocastOptimWrapper',
        f'optim_wrapper.enabled={settings["bf16"]}',
        f'model.backbone.channels_last={settings["channels_last"]}',
        f'model.backbone.compile={settings["compile"]}',
        f'model.backbone.fuse_groups={settings["fuse_groups"]}',
        f'model.backbone.dense_gcn={settings["dense_gcn"]}',
        f'model.backbone.graph_first={settings["graph_first"]}',
        f'model.cuda_graph_step={settings["graph_step"]}',
        f'env_cfg.cudnn_benchmark={settings["cudnn_benchmark"]}',
        f'train_dataloader.dataset.pipeline.0.rule={settings["rule"]}',
    ]


def main():
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('variant', nargs='?')
    parser.add_argument('--best', help='a benchmark.py --json-out report')
    args = parser.parse_args()
    variant = args.variant
    if args.best:
        with open(args.best) as f:
            runs = json.load(f)['variants']
        key = 'full_loop_seq_per_s'
        variant = max(runs, key=lambda v: runs[v].get(key, runs[v]['model_step_seq_per_s']))
    print(' '.join(variant_options(variant)))


if __name__ == '__main__':
    main()
