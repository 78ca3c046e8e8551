"""A training step on the accelerator code path never reads a tensor's value on the host.

Each such read (``.item()``, ``bool(t)``, ``nonzero`` and boolean-mask indexing, ...) is a
device-to-host synchronisation on a GPU: the CPU stops launching until the GPU drains.
On a CPU they cost nothing, so the ops take host shortcuts there;
``without_host_shortcuts()`` makes a CPU run what a GPU runs, and a dispatch mode lists
every value-reading operator of the step. SkeleMixCLR draws its mixing region and
partner shift on the device like every other random number of the step.
"""

import traceback

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.optim import OptimWrapper
from torch.utils._python_dispatch import TorchDispatchMode

from msclr_mm.datasets import SampleList
from msclr_mm.models.data_preprocessors import (
    aimclr_extreme_augmentation,
    normal_augmentation,
    without_host_shortcuts,
)

from .helpers import clips, tiny_cfg, view

#: Operators whose result depends on tensor values read by the host.
READS_VALUES = {
    '_local_scalar_dense',
    'item',
    'is_nonzero',
    'nonzero',
    'masked_select',
    'unique',
    '_unique',
    '_unique2',
    'unique_consecutive',
    'unique_dim',
    'equal',
    'allclose',
}

NORMAL = normal_augmentation()
EXTREME = aimclr_extreme_augmentation()


def package_frames():
    """``file:line`` of the msclr_mm frames on the current call stack, outermost first."""
    return [
        f'{f.filename}:{f.lineno}' for f in traceback.extract_stack() if 'msclr_mm' in f.filename
    ]


class ValueReads(TorchDispatchMode):
    """Record the value-reading operators dispatched inside the block (and where)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in READS_VALUES:
            self.seen.append((str(func), package_frames()[-2:]))
        return func(*args, **(kwargs or {}))


def build(algo, fuse, dense=False, graph_first=False, **kwargs):
    derived = {}
    if algo == 'AimCLR':
        derived = dict(query_extreme=dict(source='query', start='augmented', ops=EXTREME))
    preprocessor = dict(
        type='SkeletonDataPreprocessor',
        views=dict(query=dict(ops=NORMAL), key=dict(ops=NORMAL)),
        derived_views=derived,
        non_blocking=True,
        move_data_samples=False,
    )
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(algo, data_preprocessor=preprocessor, **kwargs))
    model.backbone.fuse_groups = model.encoder_k.module['backbone'].fuse_groups = fuse
    model.backbone.dense_gcn = model.encoder_k.module['backbone'].dense_gcn = dense
    model.backbone.graph_first = model.encoder_k.module['backbone'].graph_first = graph_first
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, foreach=True)
    return model, OptimWrapper(optimizer)


def batch(n=8):
    """A batch as the workers hand it over: the data samples packed (``compact_samples``)."""
    q_fmt = ['kinect25', 'smpl24'] * (n // 2)
    k_fmt = ['smpl24', 'kinect25'] * (n // 2)
    samples = []
    for i in range(n):
        s = ActionDataSample().set_gt_label(i % 3)
        s.set_metainfo(dict(frame_dir=f'c{i}', sample_idx=i))
        samples.append(s)
    return dict(
        inputs=dict(query=view(clips(n, seed=1), q_fmt), key=view(clips(n, seed=2), k_fmt)),
        data_samples=SampleList.from_content(*SampleList(samples).content()),
    )


class HostCopies:
    """Record ``torch.tensor`` / ``torch.as_tensor`` calls that build a tensor from host data
    for a device: on a GPU each is a copy from pageable memory, which synchronises."""

    def __init__(self, monkeypatch):
        self.seen = []
        for name in ('tensor', 'as_tensor'):
            original = getattr(torch, name)
            monkeypatch.setattr(torch, name, self._wrap(name, original))

    def _wrap(self, name, original):
        def wrapped(data, *args, **kwargs):
            if kwargs.get('device') is not None and not isinstance(data, torch.Tensor):
                where = package_frames()
                if where:
                    self.seen.append((name, where[-1]))
            return original(data, *args, **kwargs)

        return wrapped


class HostConversions:
    """Record ``Tensor.tolist`` / ``numpy`` / ``__array__`` called from msclr_mm: each reads
    the values on the host (a synchronising copy on a GPU, refused inside a CUDA-graph
    capture) without dispatching any operator that :class:`ValueReads` could see."""

    def __init__(self, monkeypatch):
        self.seen = []
        for name in ('tolist', 'numpy', '__array__'):
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._wrap(name, original))

    def _wrap(self, name, original):
        def wrapped(tensor, *args, **kwargs):
            where = package_frames()
            if where:
                self.seen.append((name, where[-1]))
            return original(tensor, *args, **kwargs)

        return wrapped


def host_reads_and_copies(model, optim_wrapper, monkeypatch):
    """The value reads (operators and tensor-to-host conversions) and host-built device
    tensors of a second training step (the first copies the key encoder), on the
    accelerator paths; and its logs. Building the packed data samples (on the host, one
    ``ActionDataSample`` per clip) counts as a read."""
    with without_host_shortcuts():
        model.train_step(batch(), optim_wrapper)
        data = batch()
        reads, copies, converts = (
            ValueReads(),
            HostCopies(monkeypatch),
            HostConversions(monkeypatch),
        )
        with reads:
            logs = model.train_step(data, optim_wrapper)
    monkeypatch.undo()
    built = repr(data['data_samples']).endswith('built)')
    return reads.seen + converts.seen + [('built data samples', '')] * built, copies.seen, logs


@pytest.mark.parametrize('fuse', [False, True])
@pytest.mark.parametrize('algo', ['SkeletonCLR', 'AimCLR', 'SkeleMixCLR'])
def test_training_step_reads_no_value_on_the_host(algo, fuse, monkeypatch):
    reads, copies, logs = host_reads_and_copies(*build(algo, fuse), monkeypatch)
    assert reads == []
    assert copies == []
    assert torch.isfinite(logs['loss'])


def test_the_check_can_fail(monkeypatch):
    """The CPU shortcuts read values: the same step outside the context is caught."""
    model, optim_wrapper = build('AimCLR', False)
    model.train_step(batch(), optim_wrapper)
    reads = ValueReads()
    with reads:
        model.train_step(batch(), optim_wrapper)
    assert 'aten.nonzero.default' in [op for op, _ in reads.seen]
    # a preprocessor that names its samples on every step (as it did until 2026-12-01, for
    # error messages it might raise) reads each group's index with tolist and builds the
    # packed samples: both caught
    pre = type(model.data_preprocessor)
    forward = pre._forward

    def eager_describe(self, data, training=False):
        for groups in data['inputs'].values():
            for fmt_name, group in groups.items():
                self._describe('v', fmt_name, group['index'], data['data_samples'])
        return forward(self, data, training)

    monkeypatch.setattr(pre, '_forward', eager_describe)
    reads, _, _ = host_reads_and_copies(model, optim_wrapper, monkeypatch)
    assert {'tolist', 'built data samples'} <= {op for op, _ in reads}


def _shape_of(x):
    """An operator argument with its tensors replaced by (shape, dtype): what a CUDA graph
    keeps of a capture besides the tensors' addresses."""
    if isinstance(x, torch.Tensor):
        return ('tensor', tuple(x.shape), x.dtype)
    if isinstance(x, (list, tuple)):
        return tuple(_shape_of(v) for v in x)
    if isinstance(x, dict):
        return tuple(sorted((k, _shape_of(v)) for k, v in x.items()))
    if isinstance(x, torch.Generator) or type(x).__name__ == 'ScriptObject':
        return type(x).__name__  # generators, the profiler's record_function handles
    return x  # numbers, dtypes, devices, layouts: baked into the captured kernels


class OperatorTrace(TorchDispatchMode):
    """Every operator of the block with its non-tensor arguments, in order."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.ops.append((str(func), _shape_of(args), _shape_of(kwargs)))
        return func(*args, **kwargs)


def traced_steps(model, optim_wrapper, steps=3):
    """Operator traces of ``steps`` training steps, each after reseeding the host's random
    generators differently (a replayed graph would repeat the first step's host draws)."""
    import random

    import numpy as np

    traces = []
    with without_host_shortcuts():
        model.train_step(batch(), optim_wrapper)  # the first step copies the key encoder
        for seed in range(steps):
            random.seed(100 + seed)
            np.random.seed(100 + seed)
            data = batch()
            with OperatorTrace() as trace:
                model.train_step(data, optim_wrapper)
            traces.append(trace.ops)
    return traces


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i, x, y
    return (len(a), len(b)) if len(a) != len(b) else None


@pytest.mark.parametrize('fuse', [False, True])
@pytest.mark.parametrize('algo', ['SkeletonCLR', 'AimCLR', 'SkeleMixCLR'])
def test_every_step_launches_the_same_operators_with_the_same_constants(algo, fuse):
    """What ``cuda_graph_step`` relies on: a captured step replays the capture's operators
    with the capture's non-tensor arguments (learning rate, EMA momentum, random numbers
    drawn on the host, step counters, ...), so consecutive steps with one signature must
    dispatch identical operator sequences; only tensor values may differ."""
    model, optim_wrapper = build(algo, fuse)
    traces = traced_steps(model, optim_wrapper)
    assert len(traces[0]) > 200
    for trace in traces[1:]:
        assert first_difference(traces[0], trace) is None


def test_the_trace_check_can_fail(monkeypatch):
    """A mixing shift drawn on the host (as SkeleMixCLR did before 2026-12-01: a captured
    step would replay its first draw forever) makes the steps launch different constants."""
    import random

    from msclr_mm.models.algorithms import SkeleMixCLR

    def host_drawn(self, fmt, n, frames, device=None):
        partner, mask = original(self, fmt, n, frames, device)
        shift = random.randint(1, n - 1)  # a Python number: baked into the launched kernel
        return (torch.arange(n, device=device) + shift) % n, mask

    original = SkeleMixCLR.sample_mix
    monkeypatch.setattr(SkeleMixCLR, 'sample_mix', host_drawn)
    model, optim_wrapper = build('SkeleMixCLR', False)
    traces = traced_steps(model, optim_wrapper, steps=3)
    assert any(first_difference(traces[0], t) is not None for t in traces[1:])


def state_tensors(model, optimizer):
    """Every tensor a training step carries over to the next: parameters, buffers, tensor
    attributes of the modules, optimiser state, by name."""
    found = {}
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, torch.Tensor):
                found[f'{name}.{attr}'] = value
        for attr, value in module.named_parameters(recurse=False):
            found[f'{name}.{attr}'] = value
        for attr, value in module.named_buffers(recurse=False):
            found[f'{name}.{attr}'] = value
    for i, state in enumerate(optimizer.state.values()):
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                found[f'optimizer.{i}.{key}'] = value
    return found


@pytest.mark.parametrize('fuse', [False, True])
@pytest.mark.parametrize('algo', ['SkeletonCLR', 'AimCLR', 'SkeleMixCLR'])
def test_a_step_updates_its_state_in_place(algo, fuse):
    """What a replayed CUDA graph also relies on: the step writes its state (weights, EMA
    encoder, queue and its pointer, momentum buffers, BatchNorm statistics) into the same
    tensors every time. A step that rebinds an attribute to a new tensor (``self.ptr =
    self.ptr + n``) would, replayed, read the capture's old tensor forever."""
    model, optim_wrapper = build(algo, fuse)
    with without_host_shortcuts():
        for _ in range(2):  # the key encoder's copy, the optimiser's momentum buffers
            model.train_step(batch(), optim_wrapper)
        before = state_tensors(model, optim_wrapper.optimizer)
        pointers = {name: t.data_ptr() for name, t in before.items()}
        values = {name: t.detach().clone() for name, t in before.items()}
        model.train_step(batch(), optim_wrapper)
    after = state_tensors(model, optim_wrapper.optimizer)
    assert set(after) == set(before)
    moved = [name for name, t in after.items() if t.data_ptr() != pointers[name]]
    assert moved == []
    changed = {name for name, t in after.items() if not torch.equal(t, values[name])}
    # the state does change, in place
    assert any('queue' in name for name in changed) and any('momentum' in n for n in changed)


@pytest.mark.parametrize('fuse', [False, True])
def test_dense_gcn_step_is_graph_safe(fuse, monkeypatch):
    """``dense_gcn``: no host reads, no host-built tensors, same operators every step."""
    model, optim_wrapper = build('AimCLR', fuse, dense=True)
    assert model.backbone.dense_gcn
    reads, copies, _ = host_reads_and_copies(model, optim_wrapper, monkeypatch)
    assert reads == [] and copies == []
    traces = traced_steps(model, optim_wrapper, steps=2)
    assert first_difference(traces[0], traces[1]) is None
    # the dense route ran: one addmm per block and trunk pass more than the plain step
    plain = traced_steps(*build('AimCLR', fuse), steps=1)[0]
    addmm = [sum('aten.addmm' in op for op, _, _ in t) for t in (traces[0], plain)]
    assert addmm[0] - addmm[1] >= 2 * len(model.backbone.blocks)


@pytest.mark.parametrize('fuse', [False, True])
def test_graph_first_step_is_graph_safe(fuse, monkeypatch):
    """``graph_first``: no host reads, no host-built tensors, same operators every step."""
    model, optim_wrapper = build('AimCLR', fuse, graph_first=True)
    assert model.backbone.graph_first is True
    reads, copies, _ = host_reads_and_copies(model, optim_wrapper, monkeypatch)
    assert reads == [] and copies == []
    traces = traced_steps(model, optim_wrapper, steps=2)
    assert first_difference(traces[0], traces[1]) is None
    # the graph-first route ran: the traces differ from the plain step's
    plain = traced_steps(*build('AimCLR', fuse), steps=1)[0]
    assert first_difference(traces[0], plain) is not None
