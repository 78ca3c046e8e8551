"""StepGraph's bookkeeping (warm-up, capture, static batch, replay, re-capture, fallback).

No GPU here: torch.cuda's graph, stream and synchronisation calls are replaced by fakes
with the same contract. The fake capture runs the step once on the static batch (a real
capture records it without running it) and a replay runs it again there, writing into the
captured outputs as a real replay writes into its static outputs. What a real capture
does with the kernels can only be checked on a GPU (tools/analysis/check_step_graph.py).
"""

import contextlib

import pytest
import torch

from msclr_mm.models.algorithms import StepGraph


class FakeGraph:
    instances = []

    def __init__(self):
        self.fn = None
        self.outputs = None
        self.registered = []
        FakeGraph.instances.append(self)

    def register_generator_state(self, gen):
        self.registered.append(gen)

    def replay(self):
        for dst, src in zip(self.outputs.values(), self.fn().values()):
            dst.copy_(src)


@pytest.fixture
def fake_cuda(monkeypatch):
    FakeGraph.instances = []
    capturing = []

    @contextlib.contextmanager
    def graph(g, capture_error_mode='global'):
        capturing.append(g)
        try:
            yield
        finally:
            capturing.pop()

    class Stream:
        def wait_stream(self, other):
            pass

    monkeypatch.setattr(torch.cuda, 'CUDAGraph', FakeGraph)
    monkeypatch.setattr(torch.cuda, 'graph', graph)
    monkeypatch.setattr(torch.cuda, 'Stream', Stream)
    monkeypatch.setattr(torch.cuda, 'stream', lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, 'current_stream', lambda: Stream())
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda device=None: None)
    return capturing


class Step:
    """A stand-in for the model's step: records its inputs, returns a loss from them."""

    def __init__(self, capturing):
        self.capturing = capturing
        self.calls = []

    def __call__(self, data):
        x = data['inputs']['query']['kinect25']['keypoint']
        self.calls.append((x, bool(self.capturing)))
        if self.capturing:  # remember what a replay re-runs, on the static batch
            graph = self.capturing[-1]
            graph.fn = lambda: self.compute(data)
        out = self.compute(data)
        if self.capturing:
            self.capturing[-1].outputs = out
        return out

    @staticmethod
    def compute(data):
        x = data['inputs']['query']['kinect25']['keypoint']
        return dict(loss=x.sum() * 2, mean=x.mean())


def batch(value, n=4):
    x = torch.full((n, 2, 3), float(value))
    return dict(inputs=dict(query=dict(kinect25=dict(keypoint=x, index=torch.arange(n)))),
                data_samples=list(range(n)))  # fmt: skip


def test_warmup_capture_then_replays_of_new_batches(fake_cuda):
    step, graph = Step(fake_cuda), StepGraph(warmup=2)
    cpu = torch.device('cpu')
    # read each step's outputs at once: a replay overwrites the static outputs
    outs = [
        {k: t.item() for k, t in graph.step(batch(v), step, cpu, key=('lr', 0.1)).items()}
        for v in range(1, 7)
    ]
    # two eager warm-up steps, the capture (on a static copy of batch 3), then replays
    assert [captured for _, captured in step.calls] == [False, False, True]
    assert graph.captures == 1 and graph.eager_steps == 2 and graph.replays == 4
    static = step.calls[2][0]
    assert static is not batch(3)['inputs']['query']['kinect25']['keypoint']
    for v, out in zip(range(1, 7), outs):
        assert out == dict(loss=2 * v * 24, mean=v)
    # the static batch now holds the last batch: the replay read it
    assert torch.equal(static, batch(6)['inputs']['query']['kinect25']['keypoint'])


def test_a_new_key_or_shape_captures_again(fake_cuda):
    step, graph = Step(fake_cuda), StepGraph(warmup=1)
    cpu = torch.device('cpu')
    for v in range(3):
        graph.step(batch(v), step, cpu, key=(False,))
    out = graph.step(batch(5), step, cpu, key=(True,))  # mining starts: eager warm-up
    assert graph.captures == 1 and out['loss'].item() == 2 * 5 * 24
    graph.step(batch(6), step, cpu, key=(True,))
    assert graph.captures == 2
    graph.step(batch(7, n=6), step, cpu, key=(True,))  # another batch size: warm-up again
    assert graph.captures == 2
    out = graph.step(batch(8, n=6), step, cpu, key=(True,))
    assert graph.captures == 3 and out['loss'].item() == 2 * 8 * 36


def test_prepare_runs_right_before_each_capture(fake_cuda):
    step, graph = Step(fake_cuda), StepGraph(warmup=1)
    cpu = torch.device('cpu')
    seen = []
    prepare = lambda: seen.append((len(step.calls), graph.captures))  # noqa: E731
    for v in range(4):
        graph.step(batch(v), step, cpu, key=(v >= 2,), prepare=prepare)
    # after each warm-up step and before the capture's own step
    assert seen == [(1, 0), (3, 1)] and graph.captures == 2


def _sgd_run(materialise_at, dampening=0.0):
    """Three SGD steps; the second parameter gets its first gradient at step 2."""
    from msclr_mm.models.algorithms import materialise_optimizer_state

    a = torch.nn.Parameter(torch.ones(3))
    b = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([a, b], lr=0.1, momentum=0.9, dampening=dampening)
    problems = []
    for i in range(3):
        if i == materialise_at:
            problems = materialise_optimizer_state(opt)
            assert opt.state[b].get('momentum_buffer') is not None or problems
        opt.zero_grad()
        loss = (a * (i + 1)).sum() + ((b * (i + 2)).sum() if i >= 1 else 0.0)
        loss.backward()
        opt.step()
    return a.detach().clone(), b.detach().clone(), problems


def test_materialised_momentum_buffers_give_the_same_steps():
    plain = _sgd_run(materialise_at=None)
    for when in (0, 1):  # before b's first gradient, as a capture would need
        made = _sgd_run(materialise_at=when)
        assert made[2] == []
        torch.testing.assert_close(made[0], plain[0], rtol=0, atol=0)
        torch.testing.assert_close(made[1], plain[1], rtol=0, atol=0)
    # dampening: a zero buffer would change the first step, so it is only reported
    assert 'dampening' in _sgd_run(materialise_at=0, dampening=0.1)[2][0]


def test_materialise_reports_other_optimisers_without_state():
    from msclr_mm.models.algorithms import materialise_optimizer_state

    p = torch.nn.Parameter(torch.ones(2))
    assert 'Adam, 1 parameters' in materialise_optimizer_state(torch.optim.Adam([p]))[0]


def test_alternating_shapes_keep_their_graphs_until_the_key_changes(fake_cuda):
    """The 'batch' format rule: a few batch shapes in turn, each captured once."""
    step, graph = Step(fake_cuda), StepGraph(warmup=1)
    cpu = torch.device('cpu')
    sizes = [4, 6, 4, 6, 4, 6, 6, 4]
    outs = [graph.step(batch(v, n=n), step, cpu, key=(0.1,))['loss'].item() for v, n in enumerate(sizes)]  # fmt: skip
    # each shape: one warm-up step, one capture, then replays of its own graph
    assert graph.captures == 2 and graph.eager_steps == 2 and graph.replays == 6
    assert outs == [2 * v * n * 6 for v, n in enumerate(sizes)]
    graph.step(batch(1, n=4), step, cpu, key=(0.01,))  # a new lr: the graphs are dropped
    assert graph.eager_steps == 3 and len(graph._graphs) == 0


def test_gives_up_after_max_captures(fake_cuda, caplog):
    step, graph = Step(fake_cuda), StepGraph(warmup=1, max_captures=2)
    cpu = torch.device('cpu')
    for i in range(8):  # the key changes every second step
        graph.step(batch(i), step, cpu, key=(i // 2,))
    assert graph.captures == 2 and graph._gave_up
    replays = graph.replays
    out = graph.step(batch(9), step, cpu, key=(9,))
    assert graph.replays == replays and out['loss'].item() == 2 * 9 * 24


def test_generators_are_registered_or_refused(fake_cuda, monkeypatch):
    step, graph = Step(fake_cuda), StepGraph(warmup=1)
    gen = torch.Generator()
    cpu = torch.device('cpu')
    graph.step(batch(1), step, cpu, generators=[gen])
    graph.step(batch(2), step, cpu, generators=[gen])
    assert FakeGraph.instances[-1].registered == [gen]
    monkeypatch.delattr(FakeGraph, 'register_generator_state')
    fresh = StepGraph(warmup=1)
    fresh.step(batch(1), step, cpu, generators=[gen])
    with pytest.raises(RuntimeError, match='register_generator_state'):
        fresh.step(batch(2), step, cpu, generators=[gen])


def test_bad_warmup():
    with pytest.raises(ValueError, match='warmup must be >= 1'):
        StepGraph(warmup=0)


# ---------------------------------------------------------------- BaseMoCo(cuda_graph_step)
def test_algorithms_refuse_what_a_captured_step_cannot_do(monkeypatch):
    from types import SimpleNamespace

    from msclr_mm.models.algorithms import base_moco

    from .helpers import build

    # SkeleMixCLR draws its mixing on the device (since 2026-12-01): capturable
    assert build('SkeleMixCLR', cuda_graph_step=True).step_graph is not None
    # an algorithm that declares an obstacle is refused with it
    from msclr_mm.models.algorithms import SkeletonCLR

    class HostDrawn(SkeletonCLR):
        step_graph_obstacle = 'it draws on the host'

    monkeypatch.setitem(base_moco.MODELS._module_dict, 'HostDrawn', HostDrawn)
    with pytest.raises(ValueError, match='HostDrawn cannot use cuda_graph_step: it draws on'):
        build('HostDrawn', cuda_graph_step=True)
    with pytest.raises(ValueError, match='exclude_own_keys'):
        build('SkeletonCLR', cuda_graph_step=True, exclude_own_keys=True)
    model = build('AimCLR', cuda_graph_step=dict(warmup=3))
    assert model.step_graph.warmup == 3 and model.graph_key() == (False,)
    wrapper = SimpleNamespace(_accumulative_counts=1)
    model._check_step_graph(wrapper)  # fine as built
    with pytest.raises(RuntimeError, match='accumulative_counts=1'):
        model._check_step_graph(SimpleNamespace(_accumulative_counts=2))
    # a GradScaler (AmpOptimWrapper's loss_scaler; that wrapper cannot be built without a
    # GPU) and mmengine's clip_grad read values on the host
    from mmengine.optim import OptimWrapper

    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    model._check_step_graph(OptimWrapper(sgd))
    with pytest.raises(RuntimeError, match='GradScaler'):
        model._check_step_graph(SimpleNamespace(loss_scaler=torch.amp.GradScaler('cpu')))
    with pytest.raises(RuntimeError, match='clip_grad'):
        model._check_step_graph(OptimWrapper(sgd, clip_grad=dict(max_norm=1.0)))
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.momentum = None
    with pytest.raises(RuntimeError, match=r'BatchNorm\(momentum=None\)'):
        model._check_step_graph(wrapper)
    bn.momentum = 0.1
    model.backbone.compile = dict(mode='reduce-overhead', dynamic=False)
    with pytest.raises(RuntimeError, match='use model.backbone.compile=True'):
        model._check_step_graph(wrapper)
    model.backbone.compile = False
    # a preprocessor that moves the data samples copies every label from the host in the step
    pre = dict(type='SkeletonDataPreprocessor')
    moving = build('SkeletonCLR', cuda_graph_step=True, data_preprocessor=pre)
    assert moving.data_preprocessor.move_data_samples  # the class default
    with pytest.raises(RuntimeError, match='move_data_samples=False'):
        moving._check_step_graph(wrapper)
    pre['move_data_samples'] = False
    build('SkeletonCLR', cuda_graph_step=True, data_preprocessor=pre)._check_step_graph(wrapper)
    monkeypatch.setattr(base_moco, 'get_world_size', lambda: 2)
    with pytest.raises(RuntimeError, match='single-process only'):
        model._check_step_graph(wrapper)


def test_on_a_cpu_the_step_is_the_plain_step():
    from mmengine.optim import OptimWrapper

    from .helpers import build, clips, view

    inputs = {
        'query': view(clips(4, seed=1), ['kinect25', 'smpl24'] * 2),
        'key': view(clips(4, seed=2), ['smpl24', 'kinect25'] * 2),
    }
    logs = []
    for graph_step in (False, True):
        model = build('SkeletonCLR', cuda_graph_step=graph_step)
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
        logs.append(model.train_step(dict(inputs=inputs, data_samples=None), wrapper))
    assert logs[0].keys() == logs[1].keys()
    for key in logs[0]:
        assert torch.equal(logs[0][key], logs[1][key])
