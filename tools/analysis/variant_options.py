"""Print the ``--cfg-options`` of a benchmark variant (or of the fastest one in a report).

Example:
    python tools/analysis/variant_options.py bf16+cl+bal+cg
    python tools/analysis/variant_options.py bf16+cl+bat+gs+dense=1111111110+gf
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
# switches that also take one 0/1 per block, e.g. 'dense=1111111110'
PER_BLOCK = ('dense', 'gf')


def _parse(variant):
    """The switch names of ``variant`` and the per-block bits some of them carry."""
    names, bits = [], {}
    for token in [] if variant == 'baseline' else variant.split('+'):
        name, sep, value = token.partition('=')
        if sep:
            if name not in PER_BLOCK or not value or set(value) - {'0', '1'}:
                raise ValueError(
                    f'variant {variant!r}: {token!r}: only {sorted(PER_BLOCK)} take per-block '
                    "bits, one 0 or 1 per block, e.g. 'dense=1111111110'"
                )
            bits[name] = [b == '1' for b in value]
        names.append(name)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f'variant {variant!r}: {repeated} named more than once')
    return set(names), bits


def variant_settings(variant):
    """What a benchmark variant sets: the one definition ``benchmark.py`` and this tool share.

    Args:
        variant (str): ``'baseline'`` (everything off) or ``+``-joined :data:`SWITCHES`;
            ``dense`` and ``gf`` also as ``dense=BITS`` / ``gf=BITS``, one ``0`` or ``1``
            per block (``'dense=1111111110'``: every block of ten dense but the last).

    Returns:
        dict: ``bf16`` (bool), ``channels_last`` (bool), ``compile`` (False, True or
        ``'reduce-overhead'``), ``fuse_groups`` (bool: one trunk pass for the groups of an
        encoder), ``dense_gcn`` (bool, or a list of one bool per block: each block's graph
        convolution as one dense GEMM), ``graph_first`` (``'widening'``, False or a list
        of one bool per block: the widening blocks' graph convolution with the adjacency
        product first), ``graph_step`` (bool: the whole step as one CUDA
        graph, with the trunk compiled without CUDA graphs of its own), ``cudnn_benchmark``
        (bool: ``torch.backends.cudnn.benchmark``, cuDNN timing its convolution algorithms
        for each new shape instead of choosing them by heuristics;
        ``env_cfg.cudnn_benchmark`` in a config) and ``rule`` (the ``SampleFormatViews``
        rule: ``'balanced'`` with ``bal``, ``'batch'`` with ``bat``, else ``'random'``).

    """
    switches, bits = _parse(variant)
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
        dense_gcn=bits.get('dense', 'dense' in switches),
        graph_first=bits.get('gf', 'widening' if 'gf' in switches else False),
        graph_step='gs' in switches,
        cudnn_benchmark='cudnn' in switches,
        rule='balanced' if 'bal' in switches else 'batch' if 'bat' in switches else 'random',
    )


def _option(value):
    """A setting as ``--cfg-options`` reads it: a list without spaces (one shell word)."""
    if isinstance(value, list):
        return '[' + ','.join(str(v) for v in value) + ']'
    return value


def variant_options(variant):
    """``--cfg-options`` strings that turn a config into ``variant`` (for ``tools/train.py``)."""
    settings = {k: _option(v) for k, v in variant_settings(variant).items()}
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
    try:
        print(' '.join(variant_options(variant)))
    except ValueError as e:
        parser.error(str(e))


if __name__ == '__main__':
    main()
