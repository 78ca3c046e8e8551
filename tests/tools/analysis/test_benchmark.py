"""tools/analysis/benchmark.py runs on the CPU and reports what issue 8 asks for."""

import json
import math
import os.path as osp
import re

import pytest

from ...conftest import REPO_ROOT, run_python
from ...models.algorithms.test_step_graph import fake_cuda  # noqa: F401  (a fixture)

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'demo', 'msaimclr_demo.py')


def tiny_args(batch_size=4, pipeline_samples=8):
    """``benchmark.py`` options of the CPU tests: one timed step, no warm-up, no workers."""
    return [
        *('--device', 'cpu', '--iters', '1', '--warmup', '0', '--num-workers', '0'),
        *('--batch-size', str(batch_size), '--pipeline-samples', str(pipeline_samples)),
    ]


def tiny_trunk(queue_len):
    """``--cfg-options`` values of a two-block (8, 16 channels) encoder."""
    return [
        'model.backbone.channels=[8,16]',
        f'model.queue_len={queue_len}',
        'model.neck.in_channels=16',
    ]


@pytest.mark.slow
def test_benchmark_compare_on_cpu(tmp_path):
    run_python(
        [osp.join(REPO_ROOT, 'tools', 'data', 'make_demo_data.py'), '--out-dir', 'data/demo'],
        cwd=tmp_path,
    )
    proc = run_python(
        [
            TOOL,
            CONFIG,
            '--compare',
            *tiny_args(),
            '--cfg-options',
            *tiny_trunk(64),
            'train_dataloader.dataset.pipeline.1.clip_len=12',
        ],
        cwd=tmp_path,
        env={'OMP_NUM_THREADS': '1'},
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for run in ('baseline', 'optimised'):
        figures = report[run]
        assert figures['batch_size'] == 4
        assert figures['model_step_seq_per_s'] > 0 and figures['full_loop_seq_per_s'] > 0
    # the baseline switches everything off; 'config' is the config as written
    assert report['baseline']['optim_wrapper'] == 'OptimWrapper'
    assert report['baseline']['channels_last'] is False and report['baseline']['compile'] is False
    assert report['optimised']['optim_wrapper'] == 'AutocastOptimWrapper'
    assert report['optimised']['compile'] == 'reduce-overhead'  # CUDA only: eager on a CPU
    # the config leaves graph_first out: the backbone's default, 'widening' (3 -> 8 -> 16:
    # both blocks widen), is what ran and what is reported
    assert report['optimised']['graph_first'] is True
    assert report['baseline']['graph_first'] is False
    assert report['seq_per_s'] == report['optimised']['full_loop_seq_per_s']
    assert report['speedup'] > 0 and report['cpu_pipeline_ms_per_sample'] > 0
    assert report['ntu60_2formats_epoch_s'] == 80_000 / report['seq_per_s']


def test_benchmark_refuses_cuda_without_gpu():
    import torch

    if torch.cuda.is_available():
        return
    proc = run_python([TOOL, CONFIG, '--device', 'cuda'], check=False)
    assert proc.returncode != 0 and 'no CUDA device' in proc.stderr


@pytest.mark.slow
def test_benchmark_variants_on_synthetic_data(tmp_path):
    """The fast path on a CPU: bf16 autocast off, channels-last, compiled trunk, balanced."""
    proc = run_python(
        [
            TOOL,
            CONFIG,
            '--variants',
            'baseline',
            'cl+bal+compile+fuse+dense=10+gf+cudnn',
            *('--synthetic', '24', '--synthetic-dir', str(tmp_path / 'synthetic')),
            *tiny_args(batch_size=6, pipeline_samples=4),
            '--skip-loop',
            '--profile',
            *('--json-out', str(tmp_path / 'report.json'), '--compile-backend', 'eager'),
            '--cfg-options',
            *tiny_trunk(48),
        ],
        cwd=tmp_path,
        env={'OMP_NUM_THREADS': '1'},
    )
    report = json.loads((tmp_path / 'report.json').read_text())
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == report
    fast = report['variants']['cl+bal+compile+fuse+dense=10+gf+cudnn']
    assert fast['channels_last'] is True and fast['compile'] == "{'backend': 'eager'}"
    assert fast['fuse_groups'] is True and report['variants']['baseline']['fuse_groups'] is False
    assert fast['cuda_graph_step'] is False
    assert fast['cudnn_benchmark'] is True
    # per-block bits: the first block dense, the second (widening) graph-first
    assert (
        fast['dense_gcn'] == [True, False] and report['variants']['baseline']['dense_gcn'] is False
    )
    assert fast['graph_first'] == 'widening'
    assert report['variants']['baseline']['graph_first'] is False
    assert report['variants']['baseline']['cudnn_benchmark'] is False
    assert fast['model_step_seq_per_s'] > 0
    # the loss of the first and last step on the model step's one batch: it trained
    for figures in report['variants'].values():
        first, last = figures['model_step_loss_first'], figures['model_step_loss_last']
        assert math.isfinite(first) and math.isfinite(last) and first != last
        assert figures['model_step_steps'] == 2  # the first step, no warm-up, one timed
    profile = fast['profile']
    assert profile['steps'] == 5 and profile['wall_ms_per_step'] > 0
    assert 0 < len(profile['top']) <= 25
    assert {'name', 'calls_per_step', 'self_ms_per_step'} <= set(profile['top'][0])
    assert any('convolution' in e['name'] for e in profile['top'])
    assert set(report['speedup_over_baseline']) == {'cl+bal+compile+fuse+dense=10+gf+cudnn'}
    assert (tmp_path / 'synthetic' / '24clips' / 'kinect25.pkl').exists()


def test_variant_options_turn_a_config_into_the_variant():
    import subprocess
    import sys

    tool = osp.join(REPO_ROOT, 'tools', 'analysis', 'variant_options.py')
    out = subprocess.run(
        [sys.executable, tool, 'bf16+cl+bal+cg+fuse'], capture_output=True, text=True, check=True
    ).stdout.split()
    assert 'optim_wrapper.enabled=True' in out and 'model.backbone.channels_last=True' in out
    assert 'model.backbone.fuse_groups=True' in out and 'model.backbone.dense_gcn=False' in out
    assert 'model.backbone.graph_first=False' in out
    gs = subprocess.run(
        [sys.executable, tool, 'bf16+cl+bal+compile+gs'], capture_output=True, text=True, check=True
    ).stdout.split()
    assert 'model.cuda_graph_step=True' in gs and 'model.backbone.compile=True' in gs
    gf = subprocess.run(
        [sys.executable, tool, 'bf16+cl+bat+gf'], capture_output=True, text=True, check=True
    ).stdout.split()
    assert 'model.backbone.graph_first=widening' in gf
    nested = subprocess.run([sys.executable, tool, 'cg+gs'], capture_output=True, text=True)
    assert nested.returncode != 0 and 'graphs cannot nest' in nested.stderr
    assert 'model.backbone.compile=reduce-overhead' in out
    assert 'train_dataloader.dataset.pipeline.0.rule=balanced' in out
    bat = subprocess.run(
        [sys.executable, tool, 'bf16+bat'], capture_output=True, text=True, check=True
    ).stdout.split()
    assert 'train_dataloader.dataset.pipeline.0.rule=batch' in bat
    both = subprocess.run([sys.executable, tool, 'bal+bat'], capture_output=True, text=True)
    assert both.returncode != 0 and 'two format rules' in both.stderr
    base = subprocess.run(
        [sys.executable, tool, 'baseline'], capture_output=True, text=True, check=True
    ).stdout.split()
    assert 'optim_wrapper.enabled=False' in base and 'model.backbone.compile=False' in base
    assert 'model.backbone.fuse_groups=False' in base
    assert 'env_cfg.cudnn_benchmark=False' in base and 'env_cfg.cudnn_benchmark=False' in out
    cudnn = subprocess.run(
        [sys.executable, tool, 'bf16+cudnn'], capture_output=True, text=True, check=True
    ).stdout.split()
    assert 'env_cfg.cudnn_benchmark=True' in cudnn


def test_variant_settings_per_block_bits():
    import sys

    sys.path.insert(0, osp.dirname(TOOL))
    from variant_options import variant_options, variant_settings

    settings = variant_settings('bf16+cl+bat+gs+dense=1111111110+gf')
    assert settings['dense_gcn'] == [True] * 9 + [False]
    assert settings['graph_first'] == 'widening' and settings['graph_step'] is True
    assert variant_settings('gf=0011')['graph_first'] == [False, False, True, True]
    assert variant_settings('gf=0011')['dense_gcn'] is False
    # one shell word each, as gpu_suite.sh passes $(variant_options.py ...) unquoted
    options = variant_options('dense=110+gf=001')
    assert 'model.backbone.dense_gcn=[True,True,False]' in options
    assert 'model.backbone.graph_first=[False,False,True]' in options
    for bad, message in (
        ('cl=01', "only ['dense', 'gf'] take per-block bits"),
        ('dense=', 'one 0 or 1 per block'),
        ('dense=012', 'one 0 or 1 per block'),
        ('dense+dense=01', 'named more than once'),
        ('gf=01+gf=10', 'named more than once'),
        ('bf16+turbo', 'unknown switches'),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            variant_settings(bad)


def test_warm_up_lasts_until_every_batch_shape_replays(fake_cuda):  # noqa: F811
    """With the whole-step graph, no timed step is an eager warm-up step or a capture.

    Four batch shapes (the 'batch' rule's format pairs) drawn so that one has been seen
    once only after the fixed warm-up of 12 steps.
    """
    import itertools
    import sys

    import torch

    from msclr_mm.models.algorithms import StepGraph

    from ...models.algorithms.test_step_graph import Step, batch

    sys.path.insert(0, osp.dirname(TOOL))
    from benchmark import time_steps

    def run(graph_for_timing, iters=8):
        graph, fake_step = StepGraph(warmup=2), Step(fake_cuda)
        first = [4, 4, 4, 5, 6, 5, 6, 5, 6, 7, 4, 4]
        sizes = itertools.chain(first, itertools.cycle([5, 6, 4, 7]))
        events = []  # per step: 1 if it was an eager step or a capture, 0 for a replay

        def step(b):
            before = graph.eager_steps + graph.captures
            out = graph.step(b, fake_step, torch.device('cpu'))
            events.append(graph.eager_steps + graph.captures - before)
            return out

        counts = {}
        timing = graph if graph_for_timing else None
        time_steps(step, (batch(1, n) for n in sizes), 'cpu', iters, 12, timing, counts)
        assert len(events) == counts['warmup_steps'] + iters
        assert set(counts.pop('last')) == {'loss', 'mean'}  # the last step's log_vars
        return graph, counts, events[counts['warmup_steps'] :]

    graph, counts, timed = run(True)
    # shape 7: eager at steps 10 and 16, captured at 20; 12 replays in a row after that
    assert counts == dict(warmup_steps=32, timed_eager_steps=0, timed_captures=0)
    assert graph.captures == 4 and graph.eager_steps == 8 and timed == [0] * 8
    # a fixed warm-up times shape 7's second eager step (step 16) and its capture (20)
    graph, counts, timed = run(False)
    assert counts == dict(warmup_steps=12) and timed == [0, 0, 0, 1, 0, 0, 0, 1]

    # a signature that never settles (a new shape every step): 10 x warmup more at most
    graph, fake_step = StepGraph(warmup=2), Step(fake_cuda)
    counts = {}
    time_steps(
        lambda b: graph.step(b, fake_step, torch.device('cpu')),
        (batch(1, n) for n in itertools.count(1)),
        'cpu',
        5,
        3,
        graph,
        counts,
    )
    assert counts.pop('last') is not None
    assert counts == dict(warmup_steps=33, timed_eager_steps=5, timed_captures=0)


def test_kernel_categories():
    import sys

    sys.path.insert(0, osp.dirname(TOOL))
    from benchmark import kernel_category

    assert (
        kernel_category('sm90_xmma_fprop_implicit_gemm_bf16bf16_nhwckrsc') == 'convolution (cuDNN)'
    )
    assert kernel_category('sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n') == 'matmul (cuBLAS/CUTLASS)'
    assert kernel_category('nvjet_hsh_128x64_64x4_1x2_h_bz_coopA_NNT') == 'matmul (cuBLAS/CUTLASS)'
    assert (
        kernel_category('triton_per_fused_native_batch_norm_backward_3')
        == 'triton (inductor-fused)'
    )
    assert (
        kernel_category('void cudnn::bn_fw_tr_1C11_singleread_spec<__nv_bfloat16>') == 'batch norm'
    )
    assert kernel_category('Memcpy HtoD (Pinned -> Device)') == 'copy / fill'
    assert (
        kernel_category('void at::native::vectorized_elementwise_kernel<4, AddFunctor>')
        == 'elementwise'
    )
    assert kernel_category('some_kernel') == 'other'


def test_a_failing_variant_loses_neither_the_others_nor_the_partial_report(tmp_path, monkeypatch):
    """One variant's error (a GPU OOM, a compile failure) is reported, the rest still run."""
    import sys

    sys.path.insert(0, osp.dirname(TOOL))
    import benchmark

    written = []

    def measure(cfg, args, variant):
        if variant == 'cl':
            raise RuntimeError('CUDA out of memory (simulated)')
        written.append(json.loads((tmp_path / 'r.json').read_text()) if written else None)
        return dict(variant=variant, full_loop_seq_per_s=10.0, model_step_seq_per_s=20.0)

    monkeypatch.setattr(benchmark, 'measure', measure)
    monkeypatch.setattr(benchmark, 'measure_pipeline', lambda cfg, n: 0.5)
    argv = [CONFIG, '--device', 'cpu', '--json-out', str(tmp_path / 'r.json')]
    with pytest.raises(SystemExit, match=r'variant\(s\) failed: cl'):
        benchmark.main([*argv, '--variants', 'baseline', 'cl', 'bal'])
    # after the first variant the file already held its figures, marked incomplete
    assert written[1]['complete'] is False and list(written[1]['variants']) == ['baseline']
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['complete'] is True and list(report['variants']) == ['baseline', 'bal']
    assert report['failed'] == {'cl': 'RuntimeError: CUDA out of memory (simulated)'}
    assert report['seq_per_s'] == 10.0 and report['speedup_over_baseline'] == {'bal': 1.0}
    assert not (tmp_path / 'r.json.tmp').exists()
    # the last variant failing: no seq_per_s to report, still the others' figures
    with pytest.raises(SystemExit):
        benchmark.main([*argv, '--variants', 'baseline', 'cl'])
    report = json.loads((tmp_path / 'r.json').read_text())
    assert 'seq_per_s' not in report and list(report['variants']) == ['baseline']
    # a single variant's error propagates as it is
    with pytest.raises(RuntimeError, match='simulated'):
        benchmark.main([*argv, '--variants', 'cl'])


@pytest.mark.parametrize('replaced', [False, True])
def test_sigterm_writes_what_was_measured_and_names_the_variant_in_flight(
    tmp_path, monkeypatch, replaced
):
    """A time limit (timeout(1) sends SIGTERM) keeps the finished variants' figures.

    ``replaced``: the DataLoader's SIGCHLD handler turns the TimeLimit into a RuntimeError
    on its way up (a worker terminated by the same signal): still a stop, not a failure.
    """
    import os
    import signal
    import sys

    sys.path.insert(0, osp.dirname(TOOL))
    import benchmark

    def measure(cfg, args, variant):
        if variant == 'cl':
            try:
                os.kill(os.getpid(), signal.SIGTERM)  # the handler raises in this thread
            except benchmark.TimeLimit:
                if replaced:
                    raise RuntimeError('DataLoader worker (pid 1) is killed by signal') from None
                raise
            raise AssertionError('SIGTERM did not stop the variant')
        return dict(variant=variant, full_loop_seq_per_s=10.0, model_step_seq_per_s=20.0)

    def exit_(status):
        raise SystemExit(f'os._exit({status})')

    monkeypatch.setattr(benchmark, 'measure', measure)
    monkeypatch.setattr(benchmark.os, '_exit', exit_)
    previous = signal.getsignal(signal.SIGTERM)
    argv = [CONFIG, '--device', 'cpu', '--json-out', str(tmp_path / 'r.json')]
    with pytest.raises(SystemExit, match=r'os\._exit\(124\)'):
        benchmark.main([*argv, '--variants', 'baseline', 'bal', 'cl', 'bat'])
    assert signal.getsignal(signal.SIGTERM) is previous  # pytest's own handler is back
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['complete'] is False and report['stopped'] == 'cl'
    assert list(report['variants']) == ['baseline', 'bal']
    assert report['failed']['cl'].startswith('stopped by SIGTERM after ')
    assert report['speedup_over_baseline'] == {'bal': 1.0}


def test_a_failing_profiler_keeps_the_variants_figures(tmp_path, monkeypatch):
    """The profile comes after the timing: its failure is reported, the figures stand."""
    import sys

    sys.path.insert(0, osp.dirname(TOOL))
    import benchmark

    def profile_steps(step, batch, device):
        raise RuntimeError('CUPTI cannot trace this graph (simulated)')

    monkeypatch.setattr(benchmark, 'profile_steps', profile_steps)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    benchmark.main(
        [
            CONFIG,
            *('--variants', 'bal', '--skip-loop', '--profile'),
            *('--synthetic', '12', '--synthetic-dir', str(tmp_path / 'synthetic')),
            *tiny_args(pipeline_samples=2),
            *('--json-out', str(tmp_path / 'r.json')),
            '--cfg-options',
            *tiny_trunk(16),
        ]
    )
    figures = json.loads((tmp_path / 'r.json').read_text())['variants']['bal']
    assert figures['model_step_seq_per_s'] > 0 and 'profile' not in figures
    assert figures['profile_error'] == 'RuntimeError: CUPTI cannot trace this graph (simulated)'


def test_each_variant_starts_with_the_last_ones_model_freed(tmp_path, monkeypatch):
    """A compiled trunk keeps its model in a reference cycle: freed before the next variant."""
    import gc
    import sys
    import weakref

    import torch

    from msclr_mm.models.backbones import UnifiedSTGCN

    sys.path.insert(0, osp.dirname(TOOL))
    import benchmark

    alive = []

    def measure(cfg, args, variant):
        alive.append([r() is not None for r in models])  # the earlier variants' models
        net = UnifiedSTGCN(
            formats=['kinect25'], channels=[8], strides=[1], compile=dict(backend='eager')
        ).train()
        net(torch.randn(2, 1, 8, 25, 3), 'kinect25').sum().backward()
        models.append(weakref.ref(net))
        if variant == 'cl':
            raise RuntimeError('CUDA out of memory (simulated)')
        return dict(variant=variant, full_loop_seq_per_s=10.0, model_step_seq_per_s=20.0)

    models = []
    monkeypatch.setattr(benchmark, 'measure', measure)
    monkeypatch.setattr(benchmark, 'measure_pipeline', lambda cfg, n: 0.5)
    argv = [CONFIG, '--device', 'cpu', '--json-out', str(tmp_path / 'r.json')]
    gc.disable()  # only the tool's own collection may free the cycles
    try:
        with pytest.raises(SystemExit, match='failed: cl'):
            benchmark.main([*argv, '--variants', 'baseline', 'cl', 'bal'])
    finally:
        gc.enable()
    assert alive == [[], [False], [False, False]]
