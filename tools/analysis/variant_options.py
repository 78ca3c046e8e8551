"""Print the ``--cfg-options`` of a benchmark variant (or of the fastest one in a report).

Example:
    python tools/analysis/variant_options.py bf16+cl+bal+cg
    python tools/analysis/variant_options.py --best work_dirs/gpu_suite/step.json
"""

import argparse
import json


def variant_options(variant):
    """``--cfg-options`` strings that turn a config into ``variant`` (benchmark.py)."""
    switches = set() if variant == 'baseline' else set(variant.split('+'))
    opts = [
        # AutocastOptimWrapper(enabled=False) is a plain OptimWrapper and, unlike a bare
        # type=OptimWrapper, accepts the dtype key the pretraining schedules set
        'optim_wrapper.type=AutocastOptimWrapper',
        f'optim_wrapper.enabled={"bf16" in switches}',
        f'model.backbone.channels_last={"cl" in switches}',
    ]
    if 'cg' in switches:
        opts.append('model.backbone.compile=reduce-overhead')
    else:
        opts.append(f'model.backbone.compile={"compile" in switches}')
    rule = 'balanced' if 'bal' in switches else 'random'
    opts.append(f'train_dataloader.dataset.pipeline.0.rule={rule}')
    return opts


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
