"""Count the operators one training step launches, by phase: the CPU side of a GPU step.

A skeleton model this small leaves the GPU waiting on the CPU, which launches one kernel
per operator (README § Speed: the compiled, CUDA-graphed step is still CPU-bound on the
eager remainder). The number of operators is therefore the figure to shrink, and it is
the same on any machine: this tool counts them on the CPU. Every ATen operator that
reaches the dispatcher during one ``model.train_step`` is counted, except the views and
metadata operators that launch no kernel, and attributed to a phase:

- ``preprocess``: the data preprocessor (augmentations, streams, host-to-device copies);
  on the CPU its ops take host shortcuts (only the selected clips computed);
  ``--accelerator-paths`` counts the paths a GPU runs instead;
- ``trunk_forward`` / ``trunk_backward``: inside ``UnifiedSTGCN``'s shared blocks (what
  ``compile='reduce-overhead'`` turns into CUDA-graph replays), forward and the backward
  of the autograd nodes they created;
- ``forward_rest`` / ``backward_rest``: the rest of the forward and loss (stems, pooling,
  neck, losses, queue, EMA) and of the backward (gradient accumulation included);
- ``optimizer``: the optimiser step and ``zero_grad``.

``outside_trunk`` is what stays eager when the trunk is compiled. Variants are those of
``benchmark.py``, always run eagerly here (``compile`` is forced off: a compiled region
is one replay on the GPU, which is what ``outside_trunk`` assumes), and the optimiser
uses its multi-tensor (``foreach``) kernels as it does by default for CUDA tensors.

Example:
    python tools/analysis/count_ops.py \
        configs/msclr/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py \
        --synthetic 64 --batch-size 16 --variants bal bal+fuse

The last output line is JSON.
"""

import argparse
import contextlib
import json
import os.path as osp
import sys
from collections import Counter

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import msclr_mm  # noqa: E402,F401
from msclr_mm.models.backbones import UnifiedSTGCN  # noqa: E402

#: Operators that only make views or read metadata (no kernel launch).
NO_KERNEL = {
    'view',
    '_unsafe_view',
    'alias',
    'as_strided',
    'detach',
    'expand',
    'permute',
    't',
    'transpose',
    'unsqueeze',
    'squeeze',
    'slice',
    'select',
    'split',
    'split_with_sizes',
    'unbind',
    'chunk',
    'narrow',
    'unfold',
    '_reshape_alias',
    'lift_fresh',
    'sym_size',
    'sym_stride',
    'sym_numel',
    'is_same_size',
    'empty',
    'empty_strided',
    'empty_like',
    '_local_scalar_dense',
    'set_',
}
PHASES = (
    'preprocess',
    'trunk_forward',
    'trunk_backward',
    'forward_rest',
    'backward_rest',
    'optimizer',
    'other',
)


class OpCounter(TorchDispatchMode):
    """Count kernel-launching ATen operators by the phase set on ``self.phase``."""

    def __init__(self):
        super().__init__()
        self.phase = 'other'
        self.in_trunk = 0
        self.trunk_nodes = set()
        self.counts = Counter()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name not in NO_KERNEL:
            phase = self.phase
            if self.in_trunk:
                phase = 'trunk_forward'
            elif phase == 'backward':
                node = torch._C._current_autograd_node()
                phase = 'trunk_backward' if node in self.trunk_nodes else 'backward_rest'
            self.counts[phase] += 1
            self.ops[(phase, name)] += 1
        return func(*args, **(kwargs or {}))


def _grad_nodes(tensors):
    return {t.grad_fn for t in tensors if isinstance(t, torch.Tensor) and t.grad_fn is not None}


def _collect(outputs, stop, found):
    """Autograd nodes reachable from ``outputs`` without passing ``stop`` (nor leaves)."""
    stack = list(_grad_nodes(outputs))
    while stack:
        node = stack.pop()
        if node is None or node in stop or node in found:
            continue
        if node.name().endswith('AccumulateGrad'):
            continue
        found.add(node)
        stack.extend(n for n, _ in node.next_functions)


def _flatten(obj):
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _flatten(o)]
    return []


@contextlib.contextmanager
def trunk_tracking(counter):
    """Mark ops inside ``UnifiedSTGCN._trunk`` / ``_fused_trunk`` and record their nodes."""
    names = ('_trunk', '_fused_trunk')  # the second only where the tree has fuse_groups
    originals = {name: getattr(UnifiedSTGCN, name) for name in names if hasattr(UnifiedSTGCN, name)}
    calls = Counter()

    def wrap(name, fn):
        def tracked(self, *args, **kwargs):
            inputs = _flatten(args)
            counter.in_trunk += 1
            try:
                out = fn(self, *args, **kwargs)
            finally:
                counter.in_trunk -= 1
            _collect(_flatten(out), _grad_nodes(inputs), counter.trunk_nodes)
            calls[name] += 1
            return out

        return tracked

    for name, fn in originals.items():
        setattr(UnifiedSTGCN, name, wrap(name, fn))
    try:
        yield calls
    finally:
        for name, fn in originals.items():
            setattr(UnifiedSTGCN, name, fn)


@contextlib.contextmanager
def _phase(counter, name):
    previous, counter.phase = counter.phase, name
    try:
        yield
    finally:
        counter.phase = previous


def count_step(model, optim_wrapper, batch):
    """Count the operators of one ``model.train_step(batch, optim_wrapper)``."""
    counter = OpCounter()
    patches = []

    def patch(obj, name, phase):
        fn = getattr(obj, name)

        def wrapped(*args, **kwargs):
            with _phase(counter, phase):
                return fn(*args, **kwargs)

        setattr(obj, name, wrapped)
        patches.append((obj, name))

    patch(model.data_preprocessor, 'forward', 'preprocess')
    patch(model, 'loss', 'forward_rest')
    patch(optim_wrapper, 'backward', 'backward')
    patch(optim_wrapper, 'step', 'optimizer')
    patch(optim_wrapper, 'zero_grad', 'optimizer')
    try:
        with trunk_tracking(counter) as calls, counter:
            model.train_step(batch, optim_wrapper)
    finally:
        for obj, name in patches:
            delattr(obj, name)  # back to the class attribute
    result = {p: counter.counts.get(p, 0) for p in PHASES}
    result['total'] = sum(result.values())
    result['outside_trunk'] = result['total'] - result['trunk_forward'] - result['trunk_backward']
    result['trunk_calls'] = sum(calls.values())
    result['top_outside_trunk'] = [
        f'{phase}:{name} x{n}'
        for (phase, name), n in counter.ops.most_common()
        if not phase.startswith('trunk')
    ][:15]
    return result


def time_step(model, optim_wrapper, batch, reps):
    """Median wall ms of ``reps`` whole training steps and of the preprocessor alone.

    Meant for tiny shapes (``--cfg-options``), where a step's time is mostly the CPU's
    Python and dispatch work per operator: what bounds the GPU step.
    """
    import statistics
    import time

    def median_ms(fn):
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
        return statistics.median(times)

    return dict(
        step_ms=median_ms(lambda: model.train_step(batch, optim_wrapper)),
        preprocess_ms=median_ms(lambda: model.data_preprocessor(batch, True)),
    )


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--variants', nargs='+', default=['config'])
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--synthetic', type=int, default=None, help='synthetic clips per format')
    parser.add_argument('--synthetic-dir', default='data/synthetic')
    parser.add_argument(
        '--accelerator-paths',
        action='store_true',
        help='the augmentations take their GPU paths (no host shortcuts), as on a GPU',
    )
    parser.add_argument(
        '--time',
        type=int,
        default=0,
        metavar='REPS',
        help='also report the median ms of REPS steps (use tiny shapes: CPU-side cost)',
    )
    parser.add_argument('--json-out', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point."""
    from benchmark import build, emit_report, load_config, variant_config

    args = parse_args(argv)
    cfg = load_config(args)
    report = dict(
        config=args.config,
        batch_size=args.batch_size,
        accelerator_paths=args.accelerator_paths,
        phases=list(PHASES),
        variants={},
    )
    for variant in args.variants:
        vcfg = variant_config(cfg, variant)
        vcfg.model.backbone['compile'] = False
        # torch's optimisers default to multi-tensor (foreach) kernels for CUDA tensors and
        # to a loop over parameters on the CPU: count what a GPU runs
        vcfg.optim_wrapper.optimizer.setdefault('foreach', True)
        torch.manual_seed(0)
        model, optim_wrapper, loader = build(vcfg, 'cpu', args.batch_size, 0)
        batch = next(iter(loader))
        paths = contextlib.nullcontext()
        if args.accelerator_paths:
            from msclr_mm.models.data_preprocessors import without_host_shortcuts

            paths = without_host_shortcuts()
        with paths:
            model.train_step(batch, optim_wrapper)  # first step: lazy set-up, not counted
            figures = count_step(model, optim_wrapper, batch)
            if args.time:
                figures.update(time_step(model, optim_wrapper, batch, args.time))
        report['variants'][variant] = figures
        print(json.dumps({variant: figures}))
    emit_report(report, args.json_out)


if __name__ == '__main__':
    main()
