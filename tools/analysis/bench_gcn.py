"""Time the trunk's graph convolution four ways, at the recipe's shapes, forward + backward.

The graph convolution of an ST-GCN block is a 1x1 convolution to ``K * C_out`` channels
followed by the product with the ``K`` adjacency subsets. :class:`UnifiedSTGCN` runs it
as the convolution and then

- ``nchw``: ``einsum`` over a contiguous tensor (permutes copy it), mmaction2's way;
- ``cl``: one strided-batched product with the ``(V, V * K)`` adjacency over a free view
  of the channels-last tensor (:meth:`STGCNBlock.graph_product`, the trunk's route
  whenever it is channels-last, i.e. on CUDA);

and with ``UnifiedSTGCN(dense_gcn=True)``

- ``kron``: both in one dense matrix product (:meth:`STGCNBlock.dense_graph_conv`). With
  channels-last strides the input is a free ``(n * T, V * C_in)`` view, and the
  convolution weight ``W`` (``K`` blocks of ``(C_out, C_in)``) and the adjacency combine
  into one ``(V * C_out, V * C_in)`` matrix ``M[(w, d), (v, c)] = sum_k A[k, v, w]
  W[k, d, c]``: a single well-shaped GEMM instead of a skinny convolution and a batch of
  tiny products, at the price of ``V C_out C_in V`` multiply-adds per row instead of
  ``K C_out (C_in V + V V)`` (3x to 9x more);

and with ``UnifiedSTGCN(graph_first=...)``

- ``first``: the other order, the adjacency product of the channels-last input first
  (``K * C_in`` channels) and then the 1x1 convolution (:meth:`STGCNBlock.graph_first_conv`):
  fewer bytes and multiply-adds where the block widens (``C_in < C_out``), the same work
  in another order elsewhere.

Whether the dense product wins is a question for the GPU (tensor cores, launch-bound small
kernels); on a CPU the extra multiply-adds count. The whole blocks (convolutions,
BatchNorms, residual, channels-last) are timed alongside with each route (``block``,
``block_dense``, ``block_first``), so that the graph convolution's share of the trunk and
the switches' effect on it are visible, and each block alone each way (``blocks``): the
report's ``dense_blocks`` / ``graph_first_blocks`` name the blocks where that route is the
fastest of the three, and ``cfg_options`` the ``--cfg-options`` that set them
(``UnifiedSTGCN(dense_gcn=[...], graph_first=[...])`` take one flag per block). Every
implementation is checked against ``cl`` in float64 first. Shapes: the MS-AimCLR recipe's
trunk (channels 16 ... 256, temporal strides at blocks 4 and 7), one format group of
``batch / len(formats)`` clips x 2 persons. The last output line is JSON.

Example:
    python tools/analysis/bench_gcn.py --device cuda --dtype bf16 --batch 128 --frames 50
"""

import argparse
import itertools
import json
import os.path as osp
import statistics
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from benchmark import time_steps  # noqa: E402

from msclr_mm.models.backbones import UnifiedSTGCN  # noqa: E402
from msclr_mm.skeletons import get_format  # noqa: E402

IMPLEMENTATIONS = ('nchw', 'cl', 'kron', 'first')
BLOCK_KINDS = ('block', 'block_dense', 'block_first')  # the whole block by each route


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--dtype', choices=('fp32', 'bf16'), default='fp32',
                        help='bf16: under autocast, as the configs on CUDA')  # fmt: skip
    parser.add_argument('--batch', type=int, default=128, help='clips per step (all formats)')
    parser.add_argument('--persons', type=int, default=2)
    parser.add_argument('--frames', type=int, default=50)
    parser.add_argument('--formats', nargs='+', default=['kinect25', 'smplx42'])
    parser.add_argument('--channels', type=int, nargs='+', default=None,
                        help="the trunk's block widths (default: UnifiedSTGCN's)")  # fmt: skip
    parser.add_argument('--iters', type=int, default=10, help='timed repeats per round')
    parser.add_argument('--rounds', type=int, default=3, help='interleaved rounds (median)')
    parser.add_argument('--json-out', default=None)
    return parser.parse_args(argv)


def gcn(impl, block, x, A):
    """The block's graph convolution (``gcn_conv`` and the subset product), ``(n, C_out, T, V)``.

    Args:
        impl (str): One of :data:`IMPLEMENTATIONS`.
        block (STGCNBlock): The block.
        x (torch.Tensor): ``(n, C_in, T, V)``, channels-last for ``cl``, ``kron`` and
            ``first``.
        A (torch.Tensor): ``(K, V, V)``.

    """
    if impl == 'kron':
        return block.dense_graph_conv(x, A, channels_last=True)
    if impl == 'first':
        return block.graph_first_conv(x, A, channels_last=True)
    return block.graph_product(block.gcn_conv(x), A, channels_last=impl == 'cl')


def trunk_shapes(net, n, frames):
    """``(block, C_in, T)`` of each block's input."""
    shapes, c_in, t = [], net.in_channels, frames
    for block in net.blocks:
        shapes.append((block, c_in, t))
        c_in = block.out_channels
        t = (t - 1) // block.tcn_conv.stride[0] + 1
    return shapes


def check(net, A):
    """Every implementation equals ``cl`` in float64 (forward and input gradient)."""
    net = net.double()
    shapes = trunk_shapes(net, 2, 6)
    for block, c_in, _ in shapes[:2] + shapes[-1:]:
        x = torch.randn(2, c_in, 6, A.shape[-1], dtype=torch.float64)
        x = x.to(memory_format=torch.channels_last)
        results = {}
        for impl in IMPLEMENTATIONS:
            xi = x.clone().requires_grad_()
            y = gcn(impl, block, xi, A.double())
            y.square().sum().backward()
            results[impl] = (y.detach(), xi.grad)
        for impl in IMPLEMENTATIONS:
            for got, ref in zip(results[impl], results['cl']):
                torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)
    net.float()


def make_step(kind, inputs, A, device, bf16):
    """Forward and backward of every block's graph convolution (or of the whole blocks).

    Args:
        kind (str): One of :data:`IMPLEMENTATIONS` or :data:`BLOCK_KINDS`: ``'block'``
            (the whole block), ``'block_dense'`` (with ``dense_gcn``), ``'block_first'``
            (with ``graph_first``).
        inputs (list): ``(block, x_channels_last, x_contiguous)`` per block.
        A (torch.Tensor): ``(K, V, V)``.
        device (str): The device (for autocast).
        bf16 (bool): Run under bf16 autocast.

    Returns:
        Callable: ``step(batch=None)`` (the argument ignored, as ``time_steps`` passes one).

    """

    def step(_batch=None):
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            for block, x_cl, x_nchw in inputs:
                x = x_nchw if kind == 'nchw' else x_cl
                if kind in BLOCK_KINDS:
                    block.dense_gcn = kind == 'block_dense'
                    block.graph_first = kind == 'block_first'
                    y = block(x, A, channels_last=True)
                else:
                    y = gcn(kind, block, x, A)
                y.float().sum().backward()

    return step


def per_block_choice(formats):
    """The per-block route (plain, ``dense_gcn``, ``graph_first``) the per-block times favour.

    The trunk is shared by the formats, so each block takes the route whose time summed
    over the formats is the least (each format weighed as one trunk pass of
    ``rows_per_format`` rows, as the recipe's ``'balanced'`` batches); the plain route on
    a tie. Reports without ``block_first_ms`` (before ``graph_first``) choose between the
    other two.

    Args:
        formats (dict): ``report['formats']``: per format, ``blocks``, a list of dicts with
            ``block_ms``, ``block_dense_ms`` and ``block_first_ms``.

    Returns:
        dict: ``dense_blocks`` and ``graph_first_blocks`` (one bool per block),
        ``blocks_ms`` (the trunk's blocks summed over formats: every block plain,
        ``plain``; every block dense, ``dense``; every block graph-first, ``first``; the
        per-block choice, ``chosen``), ``dense_gcn_option`` and ``graph_first_option``
        (``model.backbone.dense_gcn=[...]``, ``model.backbone.graph_first=[...]``) and
        ``cfg_options`` (both, space-separated: what ``--cfg-options`` takes).
    """
    per_format = [f['blocks'] for f in formats.values()]

    def summed(key):
        return [
            sum(f[i].get(key, float('inf')) for f in per_format) for i in range(len(per_format[0]))
        ]

    routes = dict(plain=summed('block_ms'), dense=summed('block_dense_ms'))
    routes['first'] = summed('block_first_ms')
    best = [min(routes, key=lambda r: routes[r][i]) for i in range(len(routes['plain']))]
    dense = [route == 'dense' for route in best]
    first = [route == 'first' for route in best]
    options = dict(
        dense_gcn_option='model.backbone.dense_gcn=' + str(dense).replace(' ', ''),
        graph_first_option='model.backbone.graph_first=' + str(first).replace(' ', ''),
    )
    blocks_ms = {route: sum(ms) for route, ms in routes.items()}
    blocks_ms['chosen'] = sum(routes[route][i] for i, route in enumerate(best))
    return dict(
        dense_blocks=dense,
        graph_first_blocks=first,
        blocks_ms=blocks_ms,
        **options,
        cfg_options=' '.join(options.values()),
    )


def main(argv=None):
    """Entry point."""
    args = parse_args(argv)
    torch.manual_seed(0)
    device = args.device
    kwargs = {} if args.channels is None else dict(channels=args.channels)
    n = args.batch // len(args.formats) * args.persons
    report = dict(
        device=device,
        torch=torch.__version__,
        dtype=args.dtype,
        rows_per_format=n,
        frames=args.frames,
        gpu=torch.cuda.get_device_name() if device == 'cuda' else None,
        formats={},
    )
    for name in args.formats:
        fmt = get_format(name)
        net = UnifiedSTGCN(formats=[name], dropout=0.0, **kwargs)
        A = net.stems[name].A.clone()
        check(net, A)
        net = net.to(device).to(memory_format=torch.channels_last).train()
        A = A.to(device)
        inputs = []
        for block, c_in, t in trunk_shapes(net, n, args.frames):
            x = torch.randn(n, c_in, t, fmt.num_joints, device=device)
            x_cl = x.to(memory_format=torch.channels_last).requires_grad_()
            inputs.append((block, x_cl, x.contiguous().requires_grad_()))

        kinds = IMPLEMENTATIONS + BLOCK_KINDS
        # the whole trunk per kind, then each block alone by each route
        steps = {k: make_step(k, inputs, A, device, args.dtype == 'bf16') for k in kinds}
        for i, one in enumerate(inputs):
            for k in BLOCK_KINDS:
                steps[i, k] = make_step(k, [one], A, device, args.dtype == 'bf16')
        times = {k: [] for k in steps}
        for _ in range(args.rounds):
            for k, step in steps.items():
                times[k].append(
                    time_steps(step, itertools.repeat(None), device, args.iters, warmup=1)
                )
        ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        figures = {f'{k}_ms': ms[k] for k in kinds}
        figures['kron_over_cl'] = figures['cl_ms'] / figures['kron_ms']
        figures['cl_share_of_block'] = figures['cl_ms'] / figures['block_ms']
        figures['block_dense_over_block'] = figures['block_ms'] / figures['block_dense_ms']
        figures['block_first_over_block'] = figures['block_ms'] / figures['block_first_ms']
        figures['blocks'] = [
            dict(c_in=c_in, c_out=block.out_channels, frames=t,
                 **{f'{k}_ms': ms[i, k] for k in BLOCK_KINDS})
            for i, (block, c_in, t) in enumerate(trunk_shapes(net, n, args.frames))
        ]  # fmt: skip
        report['formats'][name] = figures
        print(name, json.dumps(figures))
    report.update(per_block_choice(report['formats']))
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump(report, f, indent=1)
    print(json.dumps(report))


if __name__ == '__main__':
    main()
