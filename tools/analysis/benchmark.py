"""Measure the training throughput of a config: model step, full loop, CPU pipeline.

Builds the config's model, optimiser wrapper and training dataloader exactly as
``tools/train.py`` would, then reports sequences (clips in one format) per second for

(a) ``model_step``: ``model.train_step`` (data preprocessor with the GPU augmentations,
    forward, backward, optimiser step, queue and EMA updates) on one real batch kept on
    the device, repeated;
(b) ``full_loop``: the same step fed by the config's real DataLoader (workers, pinned
    memory, collate, host-to-device copies);
(c) ``cpu_pipeline``: the dataset's ``__getitem__`` plus collate alone, on one core, in ms
    per sample (and samples/s per core);

plus peak GPU memory. Settings are *variants* of the config, several per run so that
ratios come from one process on one machine:

- ``baseline``: eager float32, contiguous (NCHW) layout, no compile: the optimisations off;
- ``config``: the config as written (its optimiser wrapper, layout and compile settings);
- any ``+``-joined set of ``bf16`` (``AutocastOptimWrapper``), ``cl`` (channels-last trunk),
  ``compile`` (``torch.compile`` of the trunk, dynamic batch), ``cg`` (compiled with CUDA
  graphs: ``mode='reduce-overhead'``, static shapes), ``bal`` (the ``'balanced'`` format
  rule: fixed group shapes), ``bat`` (the ``'batch'`` format rule: one format per view per
  batch, as the MS-CLR reference; one trunk pass per view), ``fuse``
  (``UnifiedSTGCN(fuse_groups=True)``: one trunk pass for all groups of an encoder),
  ``dense`` (``UnifiedSTGCN(dense_gcn=True)``: each graph convolution as one dense GEMM),
  ``gf`` (``UnifiedSTGCN(graph_first='widening')``: in the widening blocks the adjacency
  product before the 1x1 convolution, a narrower intermediate), ``gs``
  (``cuda_graph_step=True``: the whole step as one CUDA graph; combine with ``compile``, not
  ``cg``), ``cudnn`` (``torch.backends.cudnn.benchmark``: ``env_cfg.cudnn_benchmark=True``),
  ``fp32``, ``nchw``, e.g. ``bf16+cl+bal+cg``; unnamed switches are off (the format rule is
  then ``'random'``). ``dense`` and ``gf`` also take one 0 or 1 per block,
  ``dense=1111111110`` (every block of ten dense but the last), ``gf=0000000001``.

With ``gs`` on a GPU the warm-up lasts until every batch signature replays (see
:func:`time_steps`; ``step_graph`` in the report says whether any timed step did not).

``--baseline`` is ``--variants baseline``; ``--compare`` is ``--variants baseline config``.
``--synthetic N`` writes (once) and uses N synthetic clips in every format of the train
set (``tools/analysis/synthetic_skeletons.py``), e.g. 40000 for an NTU-60-x-sub-sized
epoch. ``--profile`` prints the torch profiler's top operators for each variant's step
and adds a summary to the report (``profile``: GPU time per step by kernel category and
the top kernels; see :func:`profile_steps`).
The last output line is JSON with a ``seq_per_s`` key (the full loop, else the model step,
of the last variant). With several variants, one that fails (out of memory, a compile
error) is reported under ``failed`` with its error, the others still run, and the exit
status is 1; ``--json-out`` is rewritten after every variant (``complete: false`` until
the end), so a run cut short by a time limit keeps what it measured. On SIGTERM (what
``timeout(1)`` sends) during a variant, the report is written at once with that variant
under ``failed`` and ``stopped``, and the exit status is 124.

Examples:
    python tools/analysis/benchmark.py configs/demo/msaimclr_demo.py --device cpu --iters 5
    python tools/analysis/benchmark.py CONFIG --device cuda --synthetic 40000 \
        --variants baseline bf16 bf16+cl bf16+cl+compile
"""

import argparse
import contextlib
import copy
import gc
import json
import os
import os.path as osp
import signal
import sys
import time
import traceback
import types

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import msclr_mm  # noqa: E402,F401

NTU60_CLIPS = 40_000  # x-sub training clips, rounded, as in DESIGN.md § Speed


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--variants', nargs='+', default=None, help='see the module doc')
    parser.add_argument('--baseline', action='store_true', help='= --variants baseline')
    parser.add_argument('--compare', action='store_true', help='= --variants baseline config')
    parser.add_argument('--iters', type=int, default=20, help='timed steps per measurement')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first')
    parser.add_argument('--batch-size', type=int, default=None, help='override the batch size')
    parser.add_argument('--num-workers', type=int, default=None, help='override the workers')
    parser.add_argument('--pipeline-samples', type=int, default=200, help='samples timed for (c)')
    parser.add_argument('--skip-loop', action='store_true', help='skip (b)')
    parser.add_argument('--synthetic', type=int, default=None, help='synthetic clips per format')
    parser.add_argument('--synthetic-dir', default='data/synthetic', help='where to write them')
    parser.add_argument('--profile', action='store_true', help='print the top operators')
    parser.add_argument(
        '--compile-backend', default=None, help="torch.compile backend of 'compile' (test: eager)"
    )
    parser.add_argument('--json-out', default=None, help='also write the report to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    args = parser.parse_args(argv)
    if args.variants is None:
        args.variants = (
            ['baseline']
            if args.baseline
            else ['baseline', 'config']
            if args.compare
            else ['config']
        )
    from variant_options import variant_settings

    for v in args.variants:
        if v != 'config':
            try:
                variant_settings(v)
            except ValueError as e:
                parser.error(str(e))
    return args


def variant_config(cfg, variant, compile_backend=None):
    """A copy of ``cfg`` with the variant's switches applied (see the module doc).

    ``compile_backend`` (e.g. ``'eager'``) replaces inductor for the ``compile`` switch.
    """
    cfg = copy.deepcopy(cfg)
    if variant == 'config':
        return cfg
    from variant_options import variant_settings

    settings = variant_settings(variant)
    optimizer = cfg.optim_wrapper.get('optimizer')
    wrapper = dict(optimizer=optimizer)
    for key in ('clip_grad', 'accumulative_counts', 'paramwise_cfg'):
        if key in cfg.optim_wrapper:
            wrapper[key] = cfg.optim_wrapper[key]
    if settings['bf16']:
        wrapper.update(type='AutocastOptimWrapper', dtype='bfloat16')
    else:
        wrapper.update(type='OptimWrapper')
    cfg.optim_wrapper = wrapper
    backbone = cfg.model.backbone
    backbone['channels_last'] = settings['channels_last']
    backbone['compile'] = settings['compile']
    backbone['fuse_groups'] = settings['fuse_groups']
    backbone['dense_gcn'] = settings['dense_gcn']
    backbone['graph_first'] = settings['graph_first']
    cfg.model['cuda_graph_step'] = settings['graph_step']
    cfg.setdefault('env_cfg', {})['cudnn_benchmark'] = settings['cudnn_benchmark']
    if settings['compile'] is True and compile_backend:
        backbone['compile'] = dict(backend=compile_backend)
    for t in cfg.train_dataloader.dataset.get('pipeline', []):
        rule = t.get('rule', 'random')
        if t.get('type') == 'SampleFormatViews' and rule in ('random', 'balanced', 'batch'):
            t['rule'] = settings['rule']
    return cfg


def synthetic_data(cfg, clips, out_dir):
    """Point the train set at ``clips`` synthetic clips per format (written once)."""
    from synthetic_skeletons import write_synthetic

    dataset = cfg.train_dataloader.dataset
    formats = list(dataset.ann_files)
    folder = osp.join(out_dir, f'{clips}clips')
    paths = {f: osp.join(folder, f'{f}.pkl') for f in formats}
    if not all(osp.exists(p) for p in paths.values()):
        start = time.perf_counter()
        paths = write_synthetic(folder, formats, clips, split=dataset.get('split') or 'train')
        print(f'wrote {clips} synthetic clips x {formats} in {time.perf_counter() - start:.0f} s')
    dataset.ann_files = paths
    dataset.cache_dir = osp.join(folder, 'cache')


def load_config(args):
    """``args.config`` with ``--cfg-options`` merged and ``--synthetic`` data swapped in.

    Shared by the tools of this folder (``args`` needs ``config``, ``cfg_options``,
    ``synthetic`` and ``synthetic_dir``).
    """
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.synthetic:
        synthetic_data(cfg, args.synthetic, args.synthetic_dir)
    return cfg


def write_json(report, path):
    """Write ``report`` to ``path`` through a temporary file (never half a file)."""
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, path)


def _fmt(value, digits=0):
    """A figure for the table: thousands separated, ``-`` when absent."""
    if value is None:
        return '-'
    return f'{value:,.{digits}f}'


def format_table(report):
    """A Markdown table of a report's variants (what the README's speed tables show).

    Columns: model step and full loop in seq/s, the full loop (else the model step) over
    the baseline's, peak GPU memory, the first step's seconds (compilation), the first and
    last model-step losses, the whole-step graph's timed eager steps / captures (``-``
    without it), and the profiled GPU ms per step with its largest category. Failed and
    stopped variants follow as lines of their own.

    Args:
        report (dict): ``benchmark.py``'s report (``--json-out``).

    Returns:
        str: The table, one row per measured variant, ending with a newline.
    """
    results = report.get('variants', {})
    base = results.get('baseline', {})
    key = 'full_loop_seq_per_s' if 'full_loop_seq_per_s' in base else 'model_step_seq_per_s'
    lines = [
        '| variant | model step seq/s | full loop seq/s | x baseline | peak GPU GiB '
        '| first step s | loss first / last | timed eager / captures | GPU ms/step (largest) |',
        '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |',
    ]
    for name, r in results.items():
        ratio = r.get(key) / base[key] if base.get(key) and r.get(key) else None
        graph = r.get('step_graph')
        timed = '-'
        if graph:
            loop = graph.get('full_loop') or graph.get('model_step') or {}
            timed = f'{loop.get("timed_eager_steps", "-")} / {loop.get("timed_captures", "-")}'
        profile = r.get('profile') or {}
        device_ms = profile.get('device_ms_per_step')
        categories = profile.get('device_ms_by_category') or {}
        largest = next(iter(categories.items()), None)
        gpu = '-'
        if device_ms is not None:
            gpu = f'{device_ms:.1f}' + (f' ({largest[0]} {largest[1]:.1f})' if largest else '')
        elif 'profile_error' in r:
            gpu = 'profile failed'
        loss = (
            f'{_fmt(r.get("model_step_loss_first"), 3)} / {_fmt(r.get("model_step_loss_last"), 3)}'
        )
        row = [
            f'`{name}`',
            _fmt(r.get('model_step_seq_per_s')),
            _fmt(r.get('full_loop_seq_per_s')),
            _fmt(ratio, 2),
            _fmt(r.get('peak_gpu_mem_gib'), 2),
            _fmt(r.get('first_step_s'), 1),
            loss,
            timed,
            gpu,
        ]
        lines.append('| ' + ' | '.join(row) + ' |')
    for name, why in report.get('failed', {}).items():
        lines.append(f'\n`{name}`: {why}')
    return '\n'.join(lines) + '\n'


def emit_report(report, json_out=None):
    """Write ``report`` to ``json_out`` (if given); print its table, then it as the last line."""
    if json_out:
        write_json(report, json_out)
    if report.get('variants'):
        print(format_table(report))
    print(json.dumps(report))


def build(cfg, device, batch_size=None, num_workers=None):
    """Build model, optimiser wrapper and training dataloader from ``cfg``.

    Returns:
        tuple: ``(model, optim_wrapper, dataloader)``.
    """
    import mmaction.models  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner

    init_default_scope(cfg.get('default_scope', 'mmaction'))
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    if batch_size is not None:
        loader_cfg['batch_size'] = batch_size
    if num_workers is not None:
        loader_cfg['num_workers'] = num_workers
        if num_workers == 0:
            loader_cfg['persistent_workers'] = False
    loader_cfg.setdefault('pin_memory', device == 'cuda')
    dataloader = Runner.build_dataloader(loader_cfg, seed=0)
    model = MODELS.build(cfg.model).to(device)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper, dataloader


def _sync(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def _graph_events(graph):
    """Eager steps and captures a :class:`StepGraph` has made so far (replays aside)."""
    return graph.eager_steps + graph.captures


def time_steps(step, batches, device, iters, warmup, graph=None, counts=None):
    """Run ``step(batch)`` ``warmup + iters`` times; return seconds per timed step.

    With ``graph`` (the model's :class:`~msclr_mm.models.algorithms.StepGraph`), the
    warm-up goes on past ``warmup`` steps until ``warmup`` steps in a row were replays
    (no eager step, no capture), at most ``10 * warmup`` more: every batch signature the
    data bring (the ``'batch'`` rule's ``F * F`` format pairs, drawn at random) is then
    captured before the timing, which a fixed warm-up of 12 steps gets for four pairs only
    about one time in eight. ``counts`` (a dict), if given, receives ``warmup_steps`` (all
    untimed steps) and, with ``graph``, the timed steps' ``timed_eager_steps`` and
    ``timed_captures`` (0 and 0 when every timed step was a replay), and ``last`` (what
    the last step returned).
    """
    it = iter(batches)
    for _ in range(warmup):
        step(next(it))
    done = warmup
    if graph is not None:
        calm = 0
        while calm < warmup and done < 11 * warmup:
            before = _graph_events(graph)
            step(next(it))
            done += 1
            calm = calm + 1 if _graph_events(graph) == before else 0
        eager, captures = graph.eager_steps, graph.captures
    _sync(device)
    start = time.perf_counter()
    out = None
    for _ in range(iters):
        out = step(next(it))
    _sync(device)
    seconds = (time.perf_counter() - start) / iters
    if counts is not None:
        counts['warmup_steps'] = done
        counts['last'] = out
        if graph is not None:
            counts['timed_eager_steps'] = graph.eager_steps - eager
            counts['timed_captures'] = graph.captures - captures
    return seconds


def _loss(log_vars):
    """The total loss of a ``train_step``'s logged values, as a float (reads the device)."""
    return float(log_vars['loss']) if log_vars and 'loss' in log_vars else None


def _cycle(loader):
    while True:
        yield from loader


def _repeat(batch):
    while True:
        yield batch


#: Kernel-name patterns of the profile's categories (first match wins; CUDA kernels).
KERNEL_CATEGORIES = (
    ('triton (inductor-fused)', ('triton',)),
    ('batch norm', ('batch_norm', 'batchnorm', 'bn_', 'welford')),
    ('convolution (cuDNN)', ('conv', 'cudnn', 'implicit', 'wgrad', 'dgrad', 'fprop')),
    ('matmul (cuBLAS/CUTLASS)', ('gemm', 'nvjet', 'cutlass', 'cublas', 'matmul', 'gemv')),
    ('reduction', ('reduce',)),
    ('copy / fill', ('copy', 'memcpy', 'memset', 'fill', 'cat', 'transpose')),
    ('elementwise', ('elementwise', 'vectorized', 'unrolled', 'foreach')),
)


def kernel_category(name):
    """The :data:`KERNEL_CATEGORIES` entry a kernel name falls in (``'other'`` if none)."""
    lower = name.lower()
    for category, patterns in KERNEL_CATEGORIES:
        if any(p in lower for p in patterns):
            return category
    return 'other'


def profile_steps(step, batch, device, steps=5, rows=25):
    """Profile ``steps`` steps: print the top operators, return a summary for the report.

    Returns:
        dict: ``steps``; ``wall_ms_per_step`` (under the profiler); ``device_ms_per_step``
        (the kernels' and copies' own GPU time, CUDA only: against the wall time it says
        how idle the GPU is); ``device_ms_by_category`` (:data:`KERNEL_CATEGORIES`);
        ``top``: up to ``rows`` entries (``name``, ``calls_per_step``,
        ``self_ms_per_step``), GPU kernels by their GPU time on CUDA, operators by their
        own CPU time otherwise.
    """
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == 'cuda' else [])
    _sync(device)
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step(batch)
        _sync(device)
    wall = time.perf_counter() - start
    key = 'self_cuda_time_total' if device == 'cuda' else 'self_cpu_time_total'
    events = prof.key_averages()
    print(events.table(sort_by=key, row_limit=rows, max_name_column_width=60))
    summary = dict(steps=steps, wall_ms_per_step=wall / steps * 1e3)
    if device == 'cuda':
        timed_attr = 'self_device_time_total'
        events = [e for e in events if e.device_type == DeviceType.CUDA]  # kernels, copies
        by_category = {}
        for e in events:
            category = kernel_category(e.key)
            by_category[category] = by_category.get(category, 0.0) + e.self_device_time_total
        summary['device_ms_per_step'] = sum(by_category.values()) / steps / 1e3
        summary['device_ms_by_category'] = {
            c: t / steps / 1e3 for c, t in sorted(by_category.items(), key=lambda kv: -kv[1])
        }
    else:
        timed_attr = 'self_cpu_time_total'
    timed = sorted(events, key=lambda e: getattr(e, timed_attr), reverse=True)
    summary['top'] = [
        dict(name=e.key, calls_per_step=e.count / steps,
             self_ms_per_step=getattr(e, timed_attr) / steps / 1e3)
        for e in timed[:rows]
    ]  # fmt: skip
    return summary


def _bools(value):
    """A per-block switch (``dense_gcn``, ``graph_first``) as JSON: bool, list or its name."""
    if isinstance(value, str):  # graph_first='widening'
        return value
    return bool(value) if isinstance(value, (bool, int)) else [bool(v) for v in value]


def _block_switch(backbone_cfg, model, name):
    """A per-block switch as the config sets it, else as the built backbone has it.

    A config that leaves the switch out gets the backbone's default (``graph_first``'s is
    ``'widening'``, not False); a backbone without the switch (mmaction2's) reports False.
    """
    if name in backbone_cfg:
        return _bools(backbone_cfg[name])
    return _bools(getattr(getattr(model, 'backbone', None), name, False))


def measure(cfg, args, variant):
    """Measure (a) and (b) for one variant; return a dict of figures."""
    device = args.device
    cfg = variant_config(cfg, variant, args.compile_backend)
    # as mmengine's Runner.setup_env does for env_cfg.cudnn_benchmark
    torch.backends.cudnn.benchmark = bool(cfg.get('env_cfg', {}).get('cudnn_benchmark', False))
    torch.manual_seed(0)  # the same initial weights (and device draws) in every variant
    model, optim_wrapper, dataloader = build(cfg, device, args.batch_size, args.num_workers)

    def step(batch):
        return model.train_step(batch, optim_wrapper)

    batch_size = dataloader.batch_size
    first = next(iter(dataloader))
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    resident = model.data_preprocessor.cast_data(first)
    start = time.perf_counter()
    first_loss = _loss(step(resident))  # the first step compiles, when compile is on
    _sync(device)
    first_step_s = time.perf_counter() - start
    # the whole-step graph on a GPU: warm up until every batch signature replays
    graph = getattr(model, 'step_graph', None) if device == 'cuda' else None
    step_counts, loop_counts = {}, {}
    step_s = time_steps(
        step, _repeat(resident), device, args.iters, args.warmup, graph, step_counts
    )
    backbone = cfg.model.backbone
    compile_cfg = backbone.get('compile', False)
    result = dict(
        variant=variant,
        optim_wrapper=cfg.optim_wrapper.get('type', 'OptimWrapper'),
        channels_last=backbone.get('channels_last'),
        compile=compile_cfg if isinstance(compile_cfg, (bool, str)) else str(compile_cfg),
        fuse_groups=bool(backbone.get('fuse_groups', False)),
        dense_gcn=_block_switch(backbone, model, 'dense_gcn'),
        graph_first=_block_switch(backbone, model, 'graph_first'),
        cuda_graph_step=bool(cfg.model.get('cuda_graph_step', False)),
        cudnn_benchmark=torch.backends.cudnn.benchmark,
        batch_size=batch_size,
        first_step_s=first_step_s,
        model_step_seq_per_s=batch_size / step_s,
        model_step_ms=step_s * 1e3,
        # the loss of the first and the last step on that one batch, from the same initial
        # weights in every variant: variants of one format rule start alike and should end
        # alike; a step that does not train (a graph replaying stale weights) stands out
        model_step_loss_first=first_loss,
        model_step_loss_last=_loss(step_counts.pop('last')),
        model_step_steps=1 + step_counts['warmup_steps'] + args.iters,
    )
    if not args.skip_loop:
        loop_s = time_steps(
            step, _cycle(dataloader), device, args.iters, args.warmup, graph, loop_counts
        )
        result.update(full_loop_seq_per_s=batch_size / loop_s, full_loop_ms=loop_s * 1e3)
        loop_counts.pop('last')
    if graph is not None:  # did every timed step replay a captured graph?
        result['step_graph'] = dict(
            captures=graph.captures,
            model_step=step_counts,
            full_loop=loop_counts,
        )
    if device == 'cuda':
        result['peak_gpu_mem_gib'] = torch.cuda.max_memory_allocated() / 2**30
    if args.profile:
        print(f'--- profile of {variant} ---')
        try:  # the timed figures above stand even if the profiler fails (graph replays)
            result['profile'] = profile_steps(step, resident, device)
        except Exception as e:  # noqa: BLE001
            result['profile_error'] = f'{type(e).__name__}: {e}'
            print(f'profile of {variant} failed: {result["profile_error"]}')
    return result


class TimeLimit(BaseException):
    """SIGTERM arrived (``timeout(1)``, a scheduler's limit): stop, keeping what was measured.

    A ``BaseException``, so that the per-variant ``except Exception`` does not take it for
    one variant's failure and go on to the next.
    """


@contextlib.contextmanager
def _sigterm_raises():
    """Within the block, SIGTERM raises :class:`TimeLimit` in the main thread.

    Yields an object whose ``signal`` attribute is the signal's name once it arrived (None
    before): the :class:`TimeLimit` raised can be replaced on its way up by another
    exception, e.g. by the DataLoader's SIGCHLD handler reporting a worker that the same
    signal terminated. The previous handler is restored on leaving. DataLoader workers
    forked inside the block inherit the handler; in them it falls back to SIGTERM's
    default (``timeout(1)`` signals the whole process group).
    """
    main = os.getpid()
    stop = types.SimpleNamespace(signal=None)

    def handler(signum, frame):
        if os.getpid() != main:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        stop.signal = signal.Signals(signum).name
        raise TimeLimit(stop.signal)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def summarise(report, key, compare=False):
    """Add the ratios to ``report`` from the variants measured so far (in place).

    ``speedup_over_baseline``: ``key`` (``'full_loop_seq_per_s'`` or
    ``'model_step_seq_per_s'``) of each variant over the baseline's; ``baseline`` and
    ``optimised`` (the ``config`` variant) copied to the top level for the readers of
    ``--baseline`` / ``--compare``; ``speedup``: ``config`` over ``baseline`` with ``compare``.
    """
    results = report['variants']
    if 'baseline' in results and len(results) > 1:
        report['speedup_over_baseline'] = {
            v: r[key] / results['baseline'][key] for v, r in results.items() if v != 'baseline'
        }
    for name in ('baseline', 'config'):
        if name in results:
            report['optimised' if name == 'config' else name] = results[name]
    if compare and {'baseline', 'config'} <= set(results):
        report['speedup'] = results['config'][key] / results['baseline'][key]


def measure_pipeline(cfg, samples):
    """(c): ms per sample of ``__getitem__`` + collate on one core, main process."""
    from mmengine.registry import DATASETS, FUNCTIONS

    torch.set_num_threads(1)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    collate_cfg = cfg.train_dataloader.get('collate_fn', dict(type='pseudo_collate'))
    collate = FUNCTIONS.get(collate_cfg['type'])
    n = min(samples, len(dataset))
    batch = 32
    start = time.perf_counter()
    for begin in range(0, n, batch):
        collate([dataset[i % len(dataset)] for i in range(begin, min(n, begin + batch))])
    return (time.perf_counter() - start) / n * 1e3


def release(device):
    """Free what the last variant left: its model, optimiser state and GPU memory.

    A compiled trunk holds its model in a reference cycle (the compiled bound method), so
    without a collection a compiled variant's model, optimiser state and CUDA-graph memory
    pools would stay allocated into the next variants and count in their peak memory.
    """
    gc.collect()
    if device == 'cuda':
        torch.cuda.empty_cache()


def measure_variants(cfg, args, report, key, stop=None):
    """Measure every variant of ``args.variants`` into ``report['variants']``.

    A variant that raises is recorded under ``report['failed']`` and the others still run
    (a single variant's error propagates). ``args.json_out`` is rewritten after each
    variant. On :class:`TimeLimit`, or any error once ``stop.signal`` is set (``stop``:
    what :func:`_sigterm_raises` yields), the report is written with the variant in flight
    under ``failed`` and ``stopped``, and the process exits with status 124 at once (as
    ``timeout(1)`` does; DataLoader workers and the GPU are left as they are).

    Returns:
        tuple: ``(results, failed)``, the two dicts of ``report``.
    """
    results, failed = report['variants'], report.setdefault('failed', {})
    for variant in args.variants:
        start = time.perf_counter()
        try:
            if results or failed:
                release(args.device)
            figures = measure(cfg, args, variant)
        except (TimeLimit, Exception) as e:
            if not isinstance(e, TimeLimit) and not (stop and stop.signal):
                if len(args.variants) == 1:
                    raise
                # an OOM or compile error must not lose the other variants
                traceback.print_exc()
                failed[variant] = f'{type(e).__name__}: {e}'
                print(f'--- variant {variant} failed: {failed[variant]}', file=sys.stderr)
                continue
            after = time.perf_counter() - start
            failed[variant] = f'stopped by {stop.signal if stop else e} after {after:.0f} s'
            report['stopped'] = variant
            summarise(report, key, args.compare)
            emit_report(report, args.json_out)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(124)
        results[variant] = figures
        print(json.dumps(figures))
        if args.json_out:  # what a run cut short (a time limit) has measured so far
            summarise(report, key, args.compare)
            write_json(report, args.json_out)
    return results, failed


def main(argv=None):
    """Entry point."""
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda asked for, but torch sees no CUDA device')
    cfg = load_config(args)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    report = dict(config=args.config, device=args.device, torch=torch.__version__)
    if args.device == 'cuda':
        report['gpu'] = torch.cuda.get_device_name()
    report['cpu_count'] = os.cpu_count()
    report.update(variants={}, complete=False)
    key = 'model_step_seq_per_s' if args.skip_loop else 'full_loop_seq_per_s'
    with _sigterm_raises() as stop:
        results, failed = measure_variants(cfg, args, report, key, stop)
    summarise(report, key, args.compare)
    ms = measure_pipeline(cfg, args.pipeline_samples)
    torch.set_num_threads(threads)
    report['cpu_pipeline_ms_per_sample'] = ms
    report['cpu_pipeline_samples_per_s_per_core'] = 1e3 / ms
    last = args.variants[-1]
    if last in results:
        report['seq_per_s'] = results[last][key]
        # An NTU-60 x-sub epoch with two formats visits 40,000 clips x 2 formats; computed
        # from the measured seq_per_s (same model and batch), not timed on NTU itself.
        report['ntu60_2formats_epoch_s'] = NTU60_CLIPS * 2 / report['seq_per_s']
    report['cpu_threads'] = threads
    report['complete'] = True
    emit_report(report, args.json_out)
    if failed:
        raise SystemExit(f'benchmark.py: variant(s) failed: {", ".join(failed)}')


if __name__ == '__main__':
    main()
