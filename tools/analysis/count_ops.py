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

``--traffic`` adds, per phase, the bytes the operators move as unfused kernels (each
tensor argument read once, each output written once) and the flops of the matrix products
and convolutions, with the floors they put on a GPU step at a given bandwidth and peak
(``bounds``); ``trunk_traffic.py`` measures the trunk's bytes once inductor has fused it.
A bf16 variant autocasts on the CPU here, as it would on the GPU.

``outside_trunk`` is what stays eager when the trunk is compiled. Variants are those of
``benchmark.py``, always run eagerly here (``compile`` is forced off: a compiled region
is one replay on the GPU, which is what ``outside_trunk`` assumes), and the optimiser
uses its multi-tensor (``foreach``) kernels as it does by default for CUDA tensors.

Example:
    python tools/analysis/count_ops.py \
        configs/msclr/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py \
        --synthetic 64 --batch-size 16 --variants bal bal+fuse
    python tools/analysis/count_ops.py CONFIG --synthetic 512 --batch-size 128 \
        --variants bal bf16+cl+bal bf16+cl+bal+dense --traffic --accelerator-paths

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
from torch.utils.flop_counter import flop_registry as FLOP_FORMULAS  # noqa: E402

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


def tensor_bytes(obj):
    """Bytes of every tensor in ``obj`` (nested lists, tuples, dicts), each counted once.

    A tensor counts ``numel * element_size``, at most its storage's size (an expanded
    view is read from its storage, not once per element of the view).
    """
    from torch.utils._pytree import tree_leaves

    total = 0
    for leaf in tree_leaves(obj):
        if isinstance(leaf, torch.Tensor) and leaf.numel():
            size = leaf.numel() * leaf.element_size()
            try:
                size = min(size, leaf.untyped_storage().nbytes())
            except (RuntimeError, NotImplementedError):  # tensors without storage
                pass
            total += size
    return total


class OpCounter(TorchDispatchMode):
    """Count kernel-launching ATen operators by the phase set on ``self.phase``.

    With ``traffic=True`` also, per phase and per operator: ``bytes``, the bytes an
    unfused kernel moves (every tensor argument read once, every output written once,
    :func:`tensor_bytes`), and ``flops``, the floating-point operations of the
    operators ``torch.utils.flop_counter`` has a formula for (matrix products and
    convolutions, forward and backward; 2 per multiply-add).
    """

    def __init__(self, traffic=False):
        super().__init__()
        self.phase = 'other'
        self.in_trunk = 0
        self.trunk_nodes = set()
        self.counts = Counter()
        self.ops = Counter()
        self.traffic = traffic
        self.bytes = Counter()
        self.flops = Counter()
        self.op_bytes = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
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
            if self.traffic:
                moved = tensor_bytes((args, kwargs)) + tensor_bytes(out)
                self.bytes[phase] += moved
                self.op_bytes[(phase, name)] += moved
                formula = FLOP_FORMULAS.get(func.overloadpacket)
                if formula is not None:
                    self.flops[phase] += formula(*args, **kwargs, out_val=out)
        return out


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


def count_step(model, optim_wrapper, batch, traffic=False):
    """Count the operators of one ``model.train_step(batch, optim_wrapper)``.

    Returns:
        dict: operators per phase (:data:`PHASES`), ``total``, ``outside_trunk``,
        ``trunk_calls`` and the most frequent operators outside the trunk; with
        ``traffic=True`` also ``bytes`` and ``flops`` per phase (and ``total`` /
        ``trunk`` / ``outside_trunk``) and the operators that move the most bytes.
    """
    counter = OpCounter(traffic=traffic)
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
    if traffic:
        for key, counts in (('bytes', counter.bytes), ('flops', counter.flops)):
            per_phase = {p: int(counts.get(p, 0)) for p in PHASES}
            per_phase['total'] = sum(per_phase.values())
            per_phase['trunk'] = per_phase['trunk_forward'] + per_phase['trunk_backward']
            per_phase['outside_trunk'] = per_phase['total'] - per_phase['trunk']
            result[key] = per_phase
        result['top_bytes'] = [
            f'{phase}:{name} {moved / 2**20:.1f} MiB x{counter.ops[(phase, name)]}'
            for (phase, name), moved in counter.op_bytes.most_common(15)
        ]
    return result


def traffic_bounds(figures, bandwidth_tbps, peak_tflops):
    """Lower bounds on a step's GPU time from its bytes and flops (``count_step(traffic=True)``).

    ``memory_ms``: the bytes at ``bandwidth_tbps`` (TB/s), as if every unfused kernel
    read and wrote device memory at the peak rate (caches aside); ``compute_ms``: the
    flops at ``peak_tflops``. Bounds, not predictions: real kernels of these shapes run
    well below both peaks, and a fused (compiled) trunk moves fewer bytes.

    Returns:
        dict: per part (``total``, ``trunk``, ``outside_trunk``) ``memory_ms`` and
        ``compute_ms``, plus the rates used.
    """
    bounds = dict(bandwidth_tbps=bandwidth_tbps, peak_tflops=peak_tflops)
    for part in ('total', 'trunk', 'outside_trunk'):
        bounds[part] = dict(
            memory_ms=round(figures['bytes'][part] / (bandwidth_tbps * 1e12) * 1e3, 3),
            compute_ms=round(figures['flops'][part] / (peak_tflops * 1e12) * 1e3, 3),
        )
    return bounds


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


def add_floor_args(parser):
    """``--bandwidth`` (TB/s) and ``--peak-tflops``: the rates the floors are taken at.

    Defaults: an H100 SXM's 3.35 TB/s (an H200's is 4.8) and the dense bf16 tensor-core
    peak of both, 989 TFLOP/s.
    """
    parser.add_argument(
        '--bandwidth',
        type=float,
        default=3.35,
        metavar='TB/S',
        help='device memory bandwidth for the floors (default: H100 SXM, 3.35; H200: 4.8)',
    )
    parser.add_argument(
        '--peak-tflops',
        type=float,
        default=989.0,
        help='dense bf16 tensor-core peak for the floors (default: H100 / H200 SXM, 989)',
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
    parser.add_argument(
        '--traffic',
        action='store_true',
        help='also the bytes unfused kernels move and the flops, per phase, with bounds',
    )
    add_floor_args(parser)
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
        traffic=args.traffic,
        phases=list(PHASES),
        variants={},
    )
    for variant in args.variants:
        vcfg = variant_config(cfg, variant)
        vcfg.model.backbone['compile'] = False
        # torch's optimisers default to multi-tensor (foreach) kernels for CUDA tensors and
        # to a loop over parameters on the CPU: count what a GPU runs
        vcfg.optim_wrapper.optimizer.setdefault('foreach', True)
        if vcfg.optim_wrapper.get('type') == 'AutocastOptimWrapper':
            # a bf16 variant autocasts here too (the configs' wrapper lists only CUDA):
            # its casts are operators and its tensors half the bytes. CPU autocast's
            # policy is close to CUDA's for convolutions and matrix products.
            vcfg.optim_wrapper['device_types'] = ('cpu',)
        torch.manual_seed(0)
        model, optim_wrapper, loader = build(vcfg, 'cpu', args.batch_size, 0)
        batch = next(iter(loader))
        paths = contextlib.nullcontext()
        if args.accelerator_paths:
            from msclr_mm.models.data_preprocessors import without_host_shortcuts

            paths = without_host_shortcuts()
        with paths:
            model.train_step(batch, optim_wrapper)  # first step: lazy set-up, not counted
            figures = count_step(model, optim_wrapper, batch, traffic=args.traffic)
            if args.traffic:
                figures['bounds'] = traffic_bounds(figures, args.bandwidth, args.peak_tflops)
            if args.time:
                figures.update(time_step(model, optim_wrapper, batch, args.time))
        report['variants'][variant] = figures
        print(json.dumps({variant: figures}))
    emit_report(report, args.json_out)


if __name__ == '__main__':
    main()
