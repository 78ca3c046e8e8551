"""Bytes the encoder trunk moves per pass: eager kernels vs inductor's fused kernels.

The GPU time left in the MS-AimCLR step is the trunk's (README § Speed). A step of the
NTU-60 recipe launches small, memory-bound kernels, so a lower bound on its GPU time is
the bytes its kernels read and write divided by the device's bandwidth. This tool counts
those bytes for one trunk pass (``UnifiedSTGCN``'s shared blocks; the stems stay eager and
are not counted), per format and kind of pass, two ways, on any machine:

- ``eager``: every operator as its own kernel (``count_ops.OpCounter``: each tensor
  argument read once, each output written once);
- ``compiled``: the trunk as ``torch.compile`` (inductor) fuses it, as inductor's own
  accounting gives it (``GraphLowering.count_bytes``: per generated or library kernel, the
  buffers it reads and writes, each at most once). Inductor fuses for the CPU here; its
  GPU (Triton) fusion is similar in kind, not identical, and the library kernels it calls
  (convolutions, matrix products) are counted as reading their inputs and writing their
  outputs (inductor does not count a ``convolution_backward``'s several outputs).

Kinds of pass: ``train`` (forward with autograd, then backward: the query encoder's
views) and ``nograd`` (forward only: the momentum encoder's). ``step`` adds them as one
MS-AimCLR step under the ``'batch'`` format rule does, averaged over the formats:
``--step-passes 2 1`` (query and extreme views, key view; MS-SkeletonCLR: ``1 1``).

Example (the recipe's shapes: 128 clips x 2 persons per pass, 50 frames, bf16
autocast, channels-last; compiling on a 2-core CPU takes a few minutes):

    python tools/analysis/trunk_traffic.py \
        configs/msclr/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py

The last output line is JSON.
"""

import argparse
import contextlib
import logging
import os.path as osp
import statistics
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import msclr_mm  # noqa: E402,F401

KINDS = ('train', 'nograd')


@contextlib.contextmanager
def inductor_byte_count():
    """Make inductor count the bytes of each graph it compiles; yields a reader.

    Inductor computes ``GraphLowering.count_bytes()`` only when its ``inductor_metrics``
    log is enabled; it is enabled here without printing (no handler, no propagation).
    ``reader()`` returns the bytes counted since the context was entered.
    """
    from torch._inductor import compile_fx, metrics

    log = compile_fx.inductor_metrics_log
    saved = (log.level, log.propagate, list(log.handlers))
    log.setLevel(logging.INFO)
    log.propagate = False
    log.handlers = [logging.NullHandler()]
    start = metrics.num_bytes_accessed
    try:
        yield lambda: metrics.num_bytes_accessed - start
    finally:
        log.setLevel(saved[0])
        log.propagate = saved[1]
        log.handlers = saved[2]


def build_backbone(cfg, compiled, channels_last):
    """The config's ``UnifiedSTGCN`` in training mode, compiled (static shapes) or eager."""
    import mmaction.models  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope(cfg.get('default_scope', 'mmaction'))
    backbone_cfg = dict(cfg.model.backbone)
    backbone_cfg.update(
        channels_last=channels_last,
        compile=dict(dynamic=False) if compiled else False,
        init_cfg=None,
    )
    backbone = MODELS.build(backbone_cfg)
    backbone.train()
    return backbone


def _inputs(backbone, fmt, clips, persons, frames, seed=0):
    spec = backbone.formats[fmt]
    gen = torch.Generator().manual_seed(seed)
    shape = (clips, persons, frames, spec.num_joints, backbone.stems[fmt].in_channels)
    return torch.randn(shape, generator=gen)


def _run_pass(backbone, x, fmt, kind, autocast, before_backward=None):
    """One pass of ``kind`` through ``backbone`` (its trunk compiled or not).

    The forward, and for ``'train'`` the backward of a fixed linear function of the
    features, ``before_backward()`` called in between.
    """
    grad = torch.enable_grad() if kind == 'train' else torch.no_grad()
    with grad, torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        out = backbone(x, fmt)
    if kind == 'train':
        if before_backward is not None:
            before_backward()
        weights = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
        (out.float() * weights).sum().backward()


def eager_bytes(backbone, x, fmt, kind, autocast, breakdown=None, flops=None):
    """Bytes of the trunk's operators, each an unfused kernel: ``(forward, backward)``.

    When ``breakdown`` (a ``Counter``) is given, the bytes are also added to it by
    operator; when ``flops`` (a dict) is given, the pass's flops (products and
    convolutions) are put in it as ``forward`` and ``backward``.
    """
    from count_ops import OpCounter, trunk_tracking

    counter = OpCounter(traffic=True)

    def backward_phase():
        counter.phase = 'backward'

    with trunk_tracking(counter), counter:
        _run_pass(backbone, x, fmt, kind, autocast, backward_phase)
    if breakdown is not None:
        for (phase, name), moved in counter.op_bytes.items():
            if phase.startswith('trunk'):
                breakdown[name] += moved
    if flops is not None:
        flops.update(
            forward=int(counter.flops['trunk_forward']),
            backward=int(counter.flops['trunk_backward']),
        )
    return counter.bytes['trunk_forward'], counter.bytes['trunk_backward']


def kernel_kind(node):
    """What an inductor scheduler node is, for the byte breakdown.

    ``library:<op>`` for a kernel inductor calls rather than generates (convolutions,
    matrix products; named by the op), else a generated kernel: ``generated:reduction``
    when it reduces (BatchNorm statistics and their gradients, bias and weight-gradient
    sums), ``generated:cast`` when it only converts dtypes (autocast's weight casts),
    ``generated:pointwise`` otherwise (normalisation, ReLU, dropout, residual adds, ...).
    """
    from torch._inductor.scheduler import ExternKernelSchedulerNode

    if isinstance(node, ExternKernelSchedulerNode):
        kernel = node.node
        op = getattr(kernel, 'op_overload', None)
        if hasattr(op, 'overloadpacket'):
            return 'library:' + op.overloadpacket.__name__  # e.g. convolution_backward
        name = getattr(kernel, 'python_kernel_name', None) or type(kernel).__name__
        return 'library:' + str(name).split('.')[-1]  # extern_kernels.bmm -> bmm
    origins = {
        str(getattr(origin, 'target', origin)).split('.')[1]
        for part in node.get_nodes()
        for origin in part.node.get_origins()
        if str(getattr(origin, 'target', origin)).count('.') >= 1
    }
    if origins & {'var_mean', 'sum', 'mean', 'native_batch_norm'}:
        return 'generated:reduction'
    if origins <= {'convert_element_type'}:
        return 'generated:cast'
    return 'generated:pointwise'


def compiled_bytes(backbone, x, fmt, kind, autocast, breakdown=None, kernels=None):
    """Bytes inductor counts for the graphs it compiles for this pass: ``(forward, backward)``.

    Each (format, kind) compiles its own graphs (static shapes), so the counts of one call
    are that pass's graphs; the backward graph is compiled at the first backward. When
    ``breakdown`` (a ``Counter``) is given, the bytes are also added to it by
    :func:`kernel_kind`; when ``kernels`` (a dict) is given, its ``total`` is set to the
    number of kernels the graphs launch (scheduler nodes that move bytes).
    """
    from torch._inductor import metrics

    first = len(metrics.nodes_num_elem)
    forward = []
    with inductor_byte_count() as counted:
        _run_pass(backbone, x, fmt, kind, autocast, lambda: forward.append(counted()))
        forward = forward[0] if forward else counted()
        backward = counted() - forward
    nodes = metrics.nodes_num_elem[first:]  # (node, bytes // 4), one per kernel
    if breakdown is not None:
        for node, quarter in nodes:
            breakdown[kernel_kind(node)] += 4 * quarter
    if kernels is not None:
        kernels['total'] = sum(1 for _, quarter in nodes if quarter)
    if forward == 0:
        raise RuntimeError(
            f'trunk_traffic: inductor compiled nothing for {fmt}/{kind} '
            '(the trunk ran eager, or an earlier call compiled this pass)'
        )
    return forward, backward


def measure(cfg, clips, persons, frames, autocast, channels_last, formats=None, kinds=KINDS):
    """Bytes per trunk pass, eager and compiled, per format and kind.

    Returns:
        tuple: ``results``, ``{format: {kind: {'eager': {'forward', 'backward', 'total'},
        'compiled': ..., 'ratio': eager / compiled, 'flops': {'forward', 'backward',
        'total'}, 'kernels': {'total'}}}}`` (bytes, flops and inductor's kernels), and
        ``breakdown``,
        ``{'eager': Counter by operator, 'compiled': Counter by kernel_kind}`` summed over
        every pass measured.
    """
    from collections import Counter

    # inductor counts the bytes while it lowers a graph: a graph loaded from its caches
    # (an earlier run of the same shapes) would count nothing
    torch._inductor.config.fx_graph_cache = False
    torch._functorch.config.enable_autograd_cache = False
    eager = build_backbone(cfg, compiled=False, channels_last=channels_last)
    compiled = build_backbone(cfg, compiled=True, channels_last=channels_last)
    compiled.load_state_dict(eager.state_dict())
    results = {}
    breakdown = dict(eager=Counter(), compiled=Counter())
    for fmt in formats or list(eager.formats):
        x = _inputs(eager, fmt, clips, persons, frames)
        results[fmt] = {}
        for kind in kinds:
            row = {}
            for name, fn, model in (
                ('eager', eager_bytes, eager),
                ('compiled', compiled_bytes, compiled),
            ):
                model.zero_grad(set_to_none=True)
                extra = dict(flops={}) if name == 'eager' else dict(kernels={})
                fwd, bwd = fn(model, x, fmt, kind, autocast, breakdown[name], **extra)
                row[name] = dict(forward=int(fwd), backward=int(bwd), total=int(fwd + bwd))
                if name == 'eager':
                    row['flops'] = dict(extra['flops'], total=sum(extra['flops'].values()))
                else:
                    row['kernels'] = extra['kernels']
            row['ratio'] = round(row['eager']['total'] / row['compiled']['total'], 3)
            results[fmt][kind] = row
            eager_gb, compiled_gb = (row[w]['total'] / 1e9 for w in ('eager', 'compiled'))
            print(
                f'{fmt:>10} {kind:>7}: eager {eager_gb:7.2f} GB, '
                f'compiled {compiled_gb:7.2f} GB ({row["ratio"]}x)'
            )
    return results, breakdown


def shares(counter, top=12):
    """The ``top`` entries of ``counter`` as fractions of its total (the rest as ``other``)."""
    total = sum(counter.values()) or 1
    out = {k: round(v / total, 4) for k, v in counter.most_common(top)}
    rest = total - sum(v for _, v in counter.most_common(top))
    if rest:
        out['other'] = round(rest / total, 4)
    return out


def step_total(results, way, train_passes, nograd_passes):
    """One step's total of ``way`` (``'eager'`` / ``'compiled'`` bytes, ``'flops'``, ``'kernels'``).

    Each pass's format is drawn evenly from the formats measured.
    """
    per_kind = {
        kind: statistics.mean(r[kind][way]['total'] for r in results.values())
        for kind in KINDS
        if all(kind in r for r in results.values())
    }
    return int(train_passes * per_kind.get('train', 0) + nograd_passes * per_kind.get('nograd', 0))


def step_bytes(results, train_passes, nograd_passes):
    """Bytes of one step's trunk passes (:func:`step_total`), eager and compiled.

    Returns:
        dict: ``{'eager': bytes, 'compiled': bytes}``.
    """
    return {
        way: step_total(results, way, train_passes, nograd_passes) for way in ('eager', 'compiled')
    }


def parse_args(argv=None):
    """Parse the command line."""
    from count_ops import add_floor_args

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--clips', type=int, default=128, help='clips per pass (the batch)')
    parser.add_argument('--persons', type=int, default=None, help="default: the config's")
    parser.add_argument('--frames', type=int, default=None, help="default: the config's")
    parser.add_argument('--formats', nargs='+', default=None, help="default: the config's")
    parser.add_argument('--kinds', nargs='+', choices=KINDS, default=list(KINDS))
    parser.add_argument('--fp32', action='store_true', help='no bf16 autocast')
    parser.add_argument('--nchw', action='store_true', help='no channels-last trunk')
    parser.add_argument(
        '--step-passes',
        nargs=2,
        type=int,
        default=(2, 1),
        metavar=('TRAIN', 'NOGRAD'),
        help='trunk passes per step (default 2 1: MS-AimCLR under the batch rule)',
    )
    add_floor_args(parser)
    parser.add_argument('--json-out', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def _pipeline_value(cfg, key, transform):
    for t in cfg.train_dataloader.dataset.get('pipeline', []):
        if t.get('type') == transform and key in t:
            return t[key]
    return None


def main(argv=None):
    """Entry point."""
    from benchmark import emit_report

    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    frames = args.frames or _pipeline_value(cfg, 'clip_len', 'SampleSkeletonFrames') or 50
    persons = args.persons or cfg.train_dataloader.dataset.get('num_person', 2)
    torch.manual_seed(0)
    results, breakdown = measure(
        cfg,
        args.clips,
        persons,
        frames,
        autocast=not args.fp32,
        channels_last=not args.nchw,
        formats=args.formats,
        kinds=args.kinds,
    )
    step = step_bytes(results, *args.step_passes)
    flops = step_total(results, 'flops', *args.step_passes)
    kernels = step_total(results, 'kernels', *args.step_passes)
    report = dict(
        config=args.config,
        clips=args.clips,
        persons=persons,
        frames=frames,
        dtype='float32' if args.fp32 else 'bf16 autocast',
        channels_last=not args.nchw,
        inductor_device='cpu',
        passes=results,
        step_passes=dict(train=args.step_passes[0], nograd=args.step_passes[1]),
        step_bytes=step,
        # every measured pass together, eager by operator, compiled by kind of kernel
        byte_shares={way: shares(counter) for way, counter in breakdown.items()},
        step_memory_ms={
            way: round(b / (args.bandwidth * 1e12) * 1e3, 3) for way, b in step.items()
        },
        bandwidth_tbps=args.bandwidth,
        step_flops=flops,
        # kernels of the fused trunk per step, and the bytes an average one moves
        step_kernels=kernels,
        step_bytes_per_kernel=int(step['compiled'] / max(kernels, 1)),
        step_compute_ms=round(flops / (args.peak_tflops * 1e12) * 1e3, 3),
        peak_tflops=args.peak_tflops,
    )
    emit_report(report, args.json_out)


if __name__ == '__main__':
    main()
