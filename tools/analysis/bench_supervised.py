"""Supervised full-width ST-GCN training step: ours (``UnifiedSTGCN``) vs mmaction2's ``STGCN``.

Both in mmaction2's ``RecognizerGCN`` with the same ``GCNHead`` (60 classes), the same
batch of random NTU-shaped clips ``(B, 1, M, T, 25, 3)``, SGD, at float32 and under bf16
autocast. Kinds: ``mmaction``; ours ``ours-nchw``, ``ours-cl`` (channels-last),
``ours-cl-compile`` (+ ``torch.compile``), ``ours-cl-dense`` (+ ``dense_gcn``), and any of
the channels-last ones with ``-graph`` appended (see below). Reports
sequences/s of the whole step (forward, loss, backward, optimiser step) and each variant's
ratio to mmaction2's at the same precision. The last output line is JSON.

``--loss gcnhead`` (default) is mmaction2's ``GCNHead.loss``, which also computes top-k
accuracy on the host (numpy) every step; ``--loss plain`` is the cross-entropy alone,
which the ``*-graph`` kinds need (the whole step captured as one CUDA graph and replayed:
nothing may read values on the host). Compare kinds under the same ``--loss``.

Example:
    python tools/analysis/bench_supervised.py --device cuda --batch 64 --frames 100
"""

import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

import msclr_mm  # noqa: E402,F401

FULL_WIDTH = dict(channels=(64,) * 4 + (128,) * 3 + (256,) * 3, dropout=0.0)


KINDS = ('mmaction', 'ours-nchw', 'ours-cl', 'ours-cl-compile', 'ours-cl-dense')


def check_kind(kind):
    """Raise a ValueError for a kind that is not in :data:`KINDS` (``-graph`` allowed)."""
    base = kind[: -len('-graph')] if kind.endswith('-graph') else kind
    if base not in KINDS or (base != kind and not base.startswith('ours-cl')):
        raise ValueError(
            f'unknown kind {kind!r}: use one of {KINDS}, or a channels-last one + "-graph"'
        )


def build(kind, device):
    """``RecognizerGCN`` with mmaction2's ``STGCN`` (``kind='mmaction'``) or ours."""
    check_kind(kind)
    import mmaction.models  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    if kind == 'mmaction':
        backbone = dict(type='STGCN', graph_cfg=dict(layout='nturgb+d', mode='stgcn_spatial'))
    else:
        backbone = dict(
            type='UnifiedSTGCN',
            formats=['kinect25'],
            channels_last=kind != 'ours-nchw',
            compile=kind.startswith('ours-cl-compile'),
            dense_gcn=kind.startswith('ours-cl-dense'),
            **FULL_WIDTH,
        )
    model = MODELS.build(
        dict(
            type='RecognizerGCN',
            backbone=backbone,
            cls_head=dict(type='GCNHead', num_classes=60, in_channels=256),
        )
    )
    return model.to(device).train()


def time_kind(kind, args, dtype):
    """Seconds per training step of one model kind at one precision."""
    from mmaction.structures import ActionDataSample

    torch.manual_seed(0)
    model = build(kind, args.device)
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch, 1, args.persons, args.frames, 25, 3, device=args.device)
    samples = [ActionDataSample().set_gt_label(i % 60) for i in range(args.batch)]
    for s in samples:
        s.gt_label = s.gt_label.to(args.device)

    labels = torch.arange(args.batch, device=args.device) % 60

    def step():
        # the backbone under autocast; GCNHead's loss reads its scores back as numpy for
        # the top-k accuracy, which has no bf16: the (tiny) head runs in float32
        graphed = kind.endswith('-graph')
        with torch.autocast(
            args.device, dtype=dtype, enabled=dtype is not None, cache_enabled=not graphed
        ):
            feats = model.extract_feat(x, stage='backbone')[0]
        if args.loss == 'plain':
            loss = torch.nn.functional.cross_entropy(model.cls_head(feats.float()), labels)
        else:
            losses = model.cls_head.loss(feats.float(), samples)
            loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    if kind.endswith('-graph'):
        step = graphed_step(step, args)

    sync = torch.cuda.synchronize if args.device == 'cuda' else (lambda: None)
    start = time.perf_counter()
    step()
    sync()
    first = time.perf_counter() - start
    for _ in range(args.warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    sync()
    return (time.perf_counter() - start) / args.iters, first


def graphed_step(step, args):
    """``step`` captured as one CUDA graph (after warm-up on a side stream); returns replay."""
    if args.device != 'cuda':
        raise SystemExit('the *-graph kinds need --device cuda')
    if args.loss != 'plain':
        raise SystemExit('the *-graph kinds need --loss plain (GCNHead.loss reads numpy)')
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def main(argv=None):
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--frames', type=int, default=100)
    parser.add_argument('--persons', type=int, default=2)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument(
        '--kinds', nargs='+', default=['mmaction', 'ours-nchw', 'ours-cl', 'ours-cl-compile']
    )
    parser.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'])
    parser.add_argument('--loss', choices=['gcnhead', 'plain'], default='gcnhead')
    args = parser.parse_args(argv)
    for kind in args.kinds:
        try:
            check_kind(kind)
        except ValueError as e:
            parser.error(str(e))
    report = dict(
        device=args.device,
        batch=args.batch,
        frames=args.frames,
        loss=args.loss,
        torch=torch.__version__,
    )
    if args.device == 'cuda':
        report['gpu'] = torch.cuda.get_device_name()
    for precision in args.precisions:
        dtype = None if precision == 'fp32' else torch.bfloat16
        for kind in args.kinds:
            step_s, first = time_kind(kind, args, dtype)
            key = f'{kind}/{precision}'
            report[f'{key}/seq_per_s'] = args.batch / step_s
            report[f'{key}/first_step_s'] = first
            print(f'{key}: {args.batch / step_s:.0f} seq/s (first step {first:.1f} s)', flush=True)
        base = report.get(f'mmaction/{precision}/seq_per_s')
        if base:
            for kind in args.kinds:
                report[f'{kind}/{precision}/ratio_to_mmaction'] = (
                    report[f'{kind}/{precision}/seq_per_s'] / base
                )
    print(json.dumps(report))


if __name__ == '__main__':
    main()
