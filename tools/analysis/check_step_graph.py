"""Check ``cuda_graph_step`` on a GPU: same losses and weights as eager steps, and its speed.

Builds the config's model twice from the same seed (the data preprocessor's augmentation
generator included), feeds both the same batches, runs one with plain eager steps and the
other with ``cuda_graph_step=True`` (warm-up steps, one capture, replays), and compares
every step's logged values and the final weights; then times steps of each on one batch
kept on the device. With the augmentation generator registered with the graph and the
default generator's offsets advanced by each replay, both runs draw the same random
numbers, so any difference beyond floating-point noise (atomics in cuDNN's backward) is a
bug of the captured step. Without a GPU the graphed model runs eager steps and the check
is trivially equal (``graph_engaged: false`` in the report).

Example (the MS-AimCLR NTU-60 recipe on synthetic data, float32, compiled trunk):
    python tools/analysis/check_step_graph.py \
        configs/msclr/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py \
        --synthetic 4000 --steps 12 --variant cl+bal+compile

The last output line is JSON; the exit status is 1 when the runs differ beyond ``--rtol``.
``--noise-floor`` runs both models eagerly: the drift of two eager runs (nondeterministic
kernels), to tell a real mismatch from noise.
"""

import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

import msclr_mm  # noqa: E402,F401


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--variant', default='bal', help='benchmark.py variant, without gs')
    parser.add_argument('--steps', type=int, default=12, help='compared steps')
    parser.add_argument('--timed', type=int, default=30, help='timed steps of each')
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--synthetic', type=int, default=None, help='synthetic clips per format')
    parser.add_argument('--synthetic-dir', default='data/synthetic')
    parser.add_argument('--rtol', type=float, default=1e-3, help='allowed relative difference')
    parser.add_argument(
        '--noise-floor',
        action='store_true',
        help='run both models eagerly: how far two eager runs drift (nondeterministic kernels)',
    )
    parser.add_argument('--json-out', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


def _sync(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def rel_diff(a, b):
    """``|a - b| / max(|a|, |b|, 1e-12)``."""
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def main(argv=None):
    """Entry point."""
    from benchmark import build, emit_report, load_config, variant_config

    args = parse_args(argv)
    cfg = load_config(args)
    runs = {}
    for graph in (False, True):
        vcfg = variant_config(cfg, args.variant + ('+gs' if graph and not args.noise_floor else ''))
        torch.manual_seed(0)
        runs[graph] = build(vcfg, args.device, args.batch_size, 0)
    loader = runs[False][2]
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == args.steps:
            break
    logs = {False: [], True: []}
    for graph, (model, optim_wrapper, _) in runs.items():
        torch.manual_seed(1)  # dropout and anything else on the default generators
        for batch in batches:
            out = model.train_step(batch, optim_wrapper)
            logs[graph].append({k: float(v) for k, v in out.items()})  # before the next replay
    worst = {}
    for key in logs[False][0]:
        worst[key] = max(rel_diff(a[key], b[key]) for a, b in zip(logs[False], logs[True]))
    eager_model, graph_model = runs[False][0], runs[True][0]
    weight_diff = max(
        rel_diff(float(p.double().norm()), float(q.double().norm()))
        for p, q in zip(eager_model.parameters(), graph_model.parameters())
    )
    step_graph = graph_model.step_graph
    report = dict(
        config=args.config,
        device=args.device,
        variant=args.variant,
        noise_floor=args.noise_floor,
        steps=len(batches),
        graph_engaged=bool(step_graph and step_graph.replays),
        captures=step_graph.captures if step_graph else 0,
        replays=step_graph.replays if step_graph else 0,
        worst_rel_diff=worst,
        weight_norm_rel_diff=weight_diff,
        per_step_loss={str(g): [round(s['loss'], 6) for s in logs[g]] for g in (False, True)},
    )
    resident = runs[False][0].data_preprocessor.cast_data(batches[0])
    for graph, (model, optim_wrapper, _) in runs.items():
        for _ in range(3):
            model.train_step(resident, optim_wrapper)
        _sync(args.device)
        start = time.perf_counter()
        for _ in range(args.timed):
            model.train_step(resident, optim_wrapper)
        _sync(args.device)
        step_s = (time.perf_counter() - start) / args.timed
        batch_size = runs[graph][2].batch_size
        report[f'{"graph" if graph else "eager"}_seq_per_s'] = batch_size / step_s
    report['speedup'] = report['graph_seq_per_s'] / report['eager_seq_per_s']
    ok = max([*worst.values(), weight_diff]) <= args.rtol
    report['equal_within_rtol'] = ok
    emit_report(report, args.json_out)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
