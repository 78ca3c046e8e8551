"""The speed switches of UnifiedSTGCN compute the same function as the plain path."""

import copy
import pickle

import pytest
import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.backbones import UnifiedSTGCN
from msclr_mm.models.backbones.unified_stgcn import STGCNBlock, _SharedLeftBmm


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize('C', [3, 40])
def test_shared_left_bmm_gradients_in_double(C):
    """Both routes of the adjacency's gradient (einsum for C=3, per-row products for 40)."""
    a = torch.randn(5, 12, dtype=torch.double, requires_grad=True)
    y = torch.randn(7, 12, C, dtype=torch.double, requires_grad=True)
    assert _SharedLeftBmm.products_route(5, 12, C) == (C == 40)
    assert torch.autograd.gradcheck(_SharedLeftBmm.apply, (a, y))
    torch.testing.assert_close(_SharedLeftBmm.apply(a, y), a @ y)


@pytest.mark.parametrize('C, copies', [(8, True), (64, False)])
def test_shared_left_bmm_wide_rows_copy_nothing(C, copies):
    """The backward of a wide product (64 channels) makes no copy of its operands."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Copies(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.names = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__
            if name in ('clone', 'contiguous', 'copy_', '_unsafe_view'):
                self.names.append(name)
            return func(*args, **(kwargs or {}))

    a = torch.randn(25, 75, requires_grad=True)
    y = torch.randn(200, 75, C, requires_grad=True)
    out = _SharedLeftBmm.apply(a, y)
    recorder = Copies()
    with recorder:
        out.backward(torch.randn_like(out))
    assert bool(recorder.names) == copies, recorder.names


@pytest.mark.parametrize('C', [8, 64])
def test_shared_left_bmm_bf16_gradient_of_a_in_its_dtype(C):
    """bf16 operands (autocast): the gradient of the float32 ``a`` comes back float32 and
    close to the float64 one; the per-row route accumulates the rows in float32."""
    torch.manual_seed(0)
    a = torch.randn(25, 75, requires_grad=True)
    y = torch.randn(600, 75, C).bfloat16().requires_grad_()
    g = torch.randn(600, 25, C).bfloat16()
    (_SharedLeftBmm.apply(a, y) * g).float().sum().backward()
    want = torch.einsum('bwc,bjc->wj', g.double(), y.detach().double())
    assert a.grad.dtype == torch.float32
    assert rel(a.grad.double(), want) < 1e-2


def test_block_channels_last_equals_nchw_forward_and_backward():
    torch.manual_seed(0)
    block = STGCNBlock(16, 32, 3, stride=2).double()
    x = torch.randn(6, 16, 20, 25, dtype=torch.double, requires_grad=True)
    A = torch.randn(3, 25, 25, dtype=torch.double, requires_grad=True)
    y = block(x, A)
    g = torch.randn_like(y)
    gx, gA = torch.autograd.grad((y * g).sum(), [x, A])
    xc = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
    yc = block(xc, A, channels_last=True)
    assert yc.is_contiguous(memory_format=torch.channels_last) and not yc.is_contiguous()
    gxc, gAc = torch.autograd.grad((yc * g).sum(), [xc, A])
    for fast, plain in ((yc, y), (gxc, gx), (gAc, gA)):
        assert rel(fast, plain) < 1e-12


_NARROW_STRIDED_BLOCK = """
import torch
from msclr_mm.models.backbones.unified_stgcn import STGCNBlock
torch.manual_seed(0)
block = STGCNBlock({c_in}, 16, 3, stride=2, dropout=0.0)
A = torch.rand(3, 25, 25)
for _ in range(20):
    x = torch.randn(4, {c_in}, 50, 25, requires_grad=True)
    xc = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
    y, yc = block(x, A), block(xc, A, channels_last=True)
    g = torch.randn_like(y)
    (gx,) = torch.autograd.grad((y * g).sum(), [x])
    (gxc,) = torch.autograd.grad((yc * g).sum(), [xc])
    torch.testing.assert_close(yc, y, rtol=1e-4, atol=1e-4)
    # relative to the gradient's norm: float32 rounding may put a ReLU input on the
    # other side of 0 in one layout, and the BatchNorm backward spreads that element's
    # difference over its channel (0.7 % of the norm seen; 5e-7 otherwise)
    assert ((gxc - gx).norm() / gx.norm()).item() < 3e-2
print('ok')
"""


@pytest.mark.parametrize('c_in', [4, 8, 12])
def test_narrow_strided_block_channels_last_on_cpu(c_in):
    """float32, channels-last, a stride-2 block with a narrow input, forward and backward.

    torch 2.13's oneDNN backward of the residual's strided 1x1 convolution corrupts the
    heap for these widths on a CPU (a crash, in a subprocess here so that it cannot take
    pytest down); the block convolves every second frame with stride 1 instead.
    """
    from ...conftest import run_python

    proc = run_python(
        ['-c', _NARROW_STRIDED_BLOCK.format(c_in=c_in)],
        env={'OMP_NUM_THREADS': '1', 'MALLOC_CHECK_': '3'},
    )
    assert proc.stdout.strip().endswith('ok')


def make(**kw):
    torch.manual_seed(0)
    return UnifiedSTGCN(formats=['kinect25', 'coco17'], dropout=0.0, **kw)


@pytest.mark.parametrize('fmt,V', [('kinect25', 25), ('coco17', 17)])
def test_backbone_channels_last_same_features_and_gradients(fmt, V):
    # float64: in float32 the two summation orders differ by ~1e-6, amplified to ~1e-3 in
    # the stem gradients by ten BatchNorms; in float64 any real difference would show
    plain, fast = make(channels_last=False).double(), make(channels_last=True).double()
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(3, 2, 16, V, 3, dtype=torch.double)
    (f1, d1), (f2, d2) = plain(x, fmt, drop=True), fast(x, fmt, drop=True)
    assert rel(f2, f1) < 1e-10 and rel(d2, d1) < 1e-10
    (f1.square().sum() + d1.sum()).backward()
    (f2.square().sum() + d2.sum()).backward()
    for (name, p1), p2 in zip(plain.named_parameters(), fast.parameters()):
        if p1.grad is not None:  # (conv biases before a BatchNorm have zero true gradient)
            torch.testing.assert_close(p2.grad, p1.grad, rtol=1e-7, atol=1e-9, msg=name)


def test_channels_last_default_follows_the_device():
    net = make()
    assert net.channels_last is None  # None: on for CUDA inputs, off on the CPU
    seen = []
    net.blocks[0].register_forward_pre_hook(lambda m, args: seen.append(args[2]))
    net(torch.randn(2, 1, 8, 25, 3), 'kinect25')
    assert seen == [False]


def test_compile_runs_the_trunk_compiled_in_training_only():
    plain = make()
    fast = make(compile=dict(backend='eager'))
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(3, 2, 16, 25, 3)
    torch.testing.assert_close(fast(x, 'kinect25'), plain(x, 'kinect25'))
    assert fast._compiled_trunk is not None
    fast(torch.randn(5, 2, 16, 25, 3), 'kinect25').sum().backward()  # another batch size
    assert fast.blocks[0].gcn_conv.weight.grad is not None
    fresh = make(compile=dict(backend='eager')).eval()
    fresh(x, 'kinect25')
    assert fresh._compiled_trunk is None  # evaluation stays eager


def test_compiled_trunk_is_not_copied_or_pickled():
    net = make(compile=dict(backend='eager'))
    net(torch.randn(2, 1, 8, 25, 3), 'kinect25')
    assert net._compiled_trunk is not None
    assert copy.deepcopy(net)._compiled_trunk is None
    assert pickle.loads(pickle.dumps(net))._compiled_trunk is None


def test_cuda_graph_mode_is_cuda_only_and_static():
    net = make(compile='reduce-overhead')
    assert net.compile == dict(mode='reduce-overhead', dynamic=False)
    net(torch.randn(2, 1, 8, 25, 3), 'kinect25')  # a CPU input runs eager
    assert net._compiled_trunk is None
    assert make(compile='max-autotune').compile == dict(mode='max-autotune', dynamic=None)
    with pytest.raises(TypeError, match='compile must be'):
        make(compile=3)


def test_distributed_runs_compile_without_cuda_graphs(monkeypatch):
    from msclr_mm.models.backbones import unified_stgcn

    seen = []
    monkeypatch.setattr(torch, 'compile', lambda fn, **options: seen.append(options) or fn)
    monkeypatch.setattr(unified_stgcn, 'get_world_size', lambda: 2)
    make(compile='reduce-overhead')._get_compiled_trunk()
    monkeypatch.setattr(unified_stgcn, 'get_world_size', lambda: 1)
    make(compile='reduce-overhead')._get_compiled_trunk()
    assert seen == [dict(dynamic=False), dict(mode='reduce-overhead', dynamic=False)]


# ---------------------------------------------------------------- fuse_groups
def fused_pair(channels_last=False, **kw):
    torch.manual_seed(0)
    plain = UnifiedSTGCN(
        formats=['kinect25', 'smplx42'], dropout=0.0, channels_last=channels_last, **kw
    ).double()
    fused = copy.deepcopy(plain)
    fused.fuse_groups = True
    return plain, fused


def aimclr_groups(n=(4, 4, 4, 4), frames=(20, 20, 20, 20), seed=0):
    """query kinect25 / smplx42, then extreme (with attention drop) kinect25 / smplx42."""
    g = torch.Generator().manual_seed(seed)
    specs = [('kinect25', 25, False), ('smplx42', 42, False), ('kinect25', 25, True)]
    specs.append(('smplx42', 42, True))
    return [
        (torch.randn(k, 2, t, v, 3, generator=g, dtype=torch.double), fmt, drop)
        for k, t, (fmt, v, drop) in zip(n, frames, specs)
    ]


def flat(outs):
    return [t for o in outs for t in (o if isinstance(o, tuple) else (o,))]


def trunk_calls(net):
    calls = []
    net.blocks[0].register_forward_hook(lambda m, args, out: calls.append(args[0].shape))
    return calls


def assert_same_step(plain, fused, groups):
    """Features, gradients and BatchNorm buffers (running statistics too) of both paths
    after one step over ``groups`` in their order."""
    outs = [flat(plain.forward_groups(groups)), flat(fused.forward_groups(groups))]
    assert len(outs[0]) == len(outs[1]) == 6
    for a, b in zip(*outs):
        assert a.shape == b.shape
        assert rel(b, a) < 1e-12
    g = torch.Generator().manual_seed(1)
    weights = [torch.randn(t.shape, generator=g, dtype=t.dtype) for t in outs[0]]
    for out in outs:
        sum((t * w).sum() for t, w in zip(out, weights)).backward()
    for (name, p1), p2 in zip(plain.named_parameters(), fused.parameters()):
        if p1.grad is not None:
            torch.testing.assert_close(p2.grad, p1.grad, rtol=1e-8, atol=1e-9, msg=name)
    for (name, b1), b2 in zip(plain.named_buffers(), fused.buffers()):
        torch.testing.assert_close(b2, b1, rtol=1e-12, atol=1e-12, msg=name)


@pytest.mark.parametrize('channels_last', [False, True])
def test_fused_groups_equal_one_pass_per_group(channels_last):
    plain, fused = fused_pair(channels_last)
    calls = trunk_calls(fused)
    plain_calls = trunk_calls(plain)
    assert_same_step(plain, fused, aimclr_groups())
    # four groups, one trunk pass: 2 x 4 clips x 2 persons rows, 25 + 42 joints
    assert calls == [(16, 3, 20, 67)]
    assert len(plain_calls) == 4


def test_fused_formats_need_equal_rows_else_fuse_per_format():
    plain, fused = fused_pair()
    calls = trunk_calls(fused)
    # kinect25 rows 3 + 3, smplx42 rows 5 + 5: the formats cannot share the rectangle, and
    # packing each format's groups (0, 2 then 1, 3) would update the running statistics in
    # another order than the loop's (an exponential average: a different result), so the
    # alternating groups run one by one, in order
    assert_same_step(plain, fused, aimclr_groups(n=(3, 5, 3, 5)))
    assert calls == [(6, 3, 20, 25), (10, 3, 20, 42), (6, 3, 20, 25), (10, 3, 20, 42)]
    # consecutive groups of one format still share a pass
    groups = aimclr_groups(n=(3, 5, 3, 5))
    groups = [groups[0], groups[2], groups[1], groups[3]]  # kinect25, kinect25, smplx42, ...
    plain_again, fused_again = fused_pair()
    calls = trunk_calls(fused_again)
    assert_same_step(plain_again, fused_again, groups)
    assert calls == [(12, 3, 20, 25), (20, 3, 20, 42)]


def test_fused_groups_of_other_lengths_run_apart():
    plain, fused = fused_pair()
    calls = trunk_calls(fused)
    assert_same_step(plain, fused, aimclr_groups(frames=(20, 20, 16, 16)))
    assert [c[2] for c in calls] == [20, 16]  # packs in the order of their first group
    assert sorted(calls) == [(8, 3, 16, 67), (8, 3, 20, 67)]


def test_fused_groups_in_eval_mode_and_without_fusion_flag():
    plain, fused = fused_pair()
    plain.eval(), fused.eval()
    groups = aimclr_groups()
    with torch.no_grad():
        for a, b in zip(flat(plain.forward_groups(groups)), flat(fused.forward_groups(groups))):
            assert rel(b, a) < 1e-12
    off = UnifiedSTGCN(formats=['kinect25', 'smplx42'])
    calls = trunk_calls(off)
    off.forward_groups([(x.float(), f, d) for x, f, d in aimclr_groups()])
    assert len(calls) == 4  # fuse_groups defaults to False


def test_sync_batchnorm_is_never_fused(monkeypatch):
    _, fused = fused_pair()
    fused = torch.nn.SyncBatchNorm.convert_sync_batchnorm(fused)
    assert fused._has_sync_bn()
    monkeypatch.setattr(UnifiedSTGCN, '_run_fused', lambda *a: pytest.fail('fused'))
    monkeypatch.setattr(UnifiedSTGCN, 'forward', lambda self, x, fmt, drop=False: fmt)
    assert fused.forward_groups(aimclr_groups()) == ['kinect25', 'smplx42'] * 2


@pytest.mark.slow
def test_fused_trunk_compiles():
    plain, fused = fused_pair(compile=dict(backend='eager'))
    fused.fuse_groups = True
    assert_same_step(plain, fused, aimclr_groups())
    assert fused._compiled_fused is not None
    assert copy.deepcopy(fused)._compiled_fused is None


# ------------------------------------- the graph convolution's other routes
def assert_route_is_convolution_then_product(block, route, channels_last):
    """``route(x, A, channels_last)`` equals the 1x1 convolution then the subset product.

    Float64, ``(4, C_in, 7, 25)`` input: the output (shape and layout) and the gradients of
    the input, the adjacency, the weight and the bias (if any).
    """
    x = torch.randn(4, block.gcn_conv.in_channels, 7, 25, dtype=torch.double)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    A = torch.randn(3, 25, 25, dtype=torch.double, requires_grad=True)
    plain = block.graph_product(block.gcn_conv(x), A, channels_last)
    got = route(x, A, channels_last)
    assert got.shape == (4, block.out_channels, 7, 25)
    assert got.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert rel(got, plain) < 1e-12
    g = torch.randn_like(plain)
    params = [x, A, block.gcn_conv.weight]
    params += [block.gcn_conv.bias] if block.gcn_conv.bias is not None else []
    for a, b in zip(
        torch.autograd.grad((plain * g).sum(), params),
        torch.autograd.grad((got * g).sum(), params),
    ):
        assert rel(b, a) < 1e-12


# ---------------------------------------------------------------- dense_gcn
@pytest.mark.parametrize('channels_last', [False, True])
def test_block_dense_graph_conv_equals_convolution_and_product(channels_last):
    torch.manual_seed(0)
    block = STGCNBlock(6, 8, 3).double()
    assert_route_is_convolution_then_product(block, block.dense_graph_conv, channels_last)


@pytest.mark.parametrize('fuse', [False, True])
@pytest.mark.parametrize('channels_last', [False, True])
def test_dense_gcn_same_step_as_the_subset_products(channels_last, fuse):
    plain, _ = fused_pair(channels_last)
    dense = copy.deepcopy(plain)
    dense.dense_gcn, dense.fuse_groups = True, fuse
    assert dense.dense_gcn and not plain.dense_gcn
    assert_same_step(plain, dense, aimclr_groups())


def test_dense_graph_conv_without_a_bias():
    torch.manual_seed(0)
    block = STGCNBlock(4, 6, 3).double()
    block.gcn_conv.bias = None
    x = torch.randn(2, 4, 5, 17, dtype=torch.double)
    A = torch.randn(3, 17, 17, dtype=torch.double)
    plain = block.graph_product(block.gcn_conv(x), A)
    assert rel(block.dense_graph_conv(x, A), plain) < 1e-12


def test_dense_gcn_switch_keeps_the_parameters():
    off, on = make(), make(dense_gcn=True)
    assert on.dense_gcn and all(b.dense_gcn for b in on.blocks) and not off.dense_gcn
    assert list(on.state_dict()) == list(off.state_dict())
    on.load_state_dict(off.state_dict())
    x = torch.randn(2, 2, 12, 17, 3)
    torch.testing.assert_close(on.eval()(x, 'coco17'), off.eval()(x, 'coco17'))


@pytest.mark.parametrize('fuse', [False, True])
def test_dense_gcn_per_block(fuse):
    """One flag per block: those blocks dense, the others not; same step as all plain."""
    plain, _ = fused_pair(True)
    mixed = copy.deepcopy(plain)
    flags = tuple(i % 2 == 0 for i in range(len(plain.blocks)))
    mixed.dense_gcn, mixed.fuse_groups = list(flags), fuse
    assert mixed.dense_gcn == flags and [b.dense_gcn for b in mixed.blocks] == list(flags)
    assert_same_step(plain, mixed, aimclr_groups())
    built = make(dense_gcn=[True] * (len(plain.blocks) - 1) + [False])
    assert (
        built.dense_gcn[:-1] == (True,) * (len(plain.blocks) - 1) and not built.blocks[-1].dense_gcn
    )
    mixed.dense_gcn = [1] * len(plain.blocks)  # a config's 0 / 1 count as bools
    assert mixed.dense_gcn is True
    with pytest.raises(ValueError, match=rf'{len(plain.blocks)} bools \(one per block\)'):
        mixed.dense_gcn = [True, False]
    with pytest.raises(ValueError, match='one per block'):
        make(dense_gcn=['yes'] * len(plain.blocks))


# ---------------------------------------------------------------- graph_first
@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('channels_last', [False, True])
def test_block_graph_first_equals_convolution_then_product(channels_last, bias):
    """The other order: same output and gradients (input, adjacency, weight, bias)."""
    torch.manual_seed(0)
    block = STGCNBlock(6, 10, 3).double()
    if not bias:
        block.gcn_conv.bias = None
    assert_route_is_convolution_then_product(block, block.graph_first_conv, channels_last)


def test_block_graph_first_moves_a_narrower_intermediate():
    """The point of the order: the widest tensor of a widening block is K * C_in wide."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Widest(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.numel = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if isinstance(out, torch.Tensor):  # storage: an expanded view is no tensor
                size = out.untyped_storage().nbytes() // out.element_size()
                self.numel = max(self.numel, size)
            return out

    block = STGCNBlock(8, 32, 3)
    x = torch.randn(2, 8, 6, 25).contiguous(memory_format=torch.channels_last)
    A = torch.rand(3, 25, 25)
    widest = []
    for route in (
        lambda: block.graph_product(block.gcn_conv(x), A, True),
        lambda: block.graph_first_conv(x, A, True),
    ):
        recorder = Widest()
        with recorder, torch.no_grad():
            route()
        widest.append(recorder.numel)
    assert widest == [2 * 6 * 25 * 3 * 32, 2 * 6 * 25 * 32]  # K C_out vs max(K C_in, C_out)


@pytest.mark.parametrize('fuse', [False, True])
@pytest.mark.parametrize('channels_last', [False, True])
def test_graph_first_same_step_as_convolution_first(channels_last, fuse):
    plain, _ = fused_pair(channels_last, graph_first=False)
    first = copy.deepcopy(plain)
    first.graph_first, first.fuse_groups = True, fuse
    assert first.graph_first is True and plain.graph_first is False
    assert_same_step(plain, first, aimclr_groups())


def test_graph_first_widening_blocks_and_precedence_of_dense():
    plain, _ = fused_pair(True, graph_first=False)
    assert plain.graph_first is False
    widening = copy.deepcopy(plain)
    widening.graph_first = 'widening'
    expected = tuple(
        c_in < c_out for c_in, c_out in zip((3,) + plain.channels[:-1], plain.channels)
    )
    assert widening.graph_first == expected and expected[0] and expected[-1]
    assert not all(expected)
    # dense_gcn blocks stay dense: with both on, the step is the dense one (and the same)
    widening.dense_gcn = [True] * (len(plain.blocks) - 1) + [False]
    calls = []
    for block in widening.blocks:
        block.graph_first_conv = lambda x, A, cl, f=block.graph_first_conv: (
            calls.append(1) or f(x, A, cl)
        )
    assert_same_step(plain, widening, aimclr_groups())
    assert len(calls) == 4  # the last block only, once per group
    built = make()  # the default
    assert built.graph_first == tuple(b.gcn_conv.in_channels < b.out_channels for b in built.blocks)
    assert make(graph_first='widening').graph_first == built.graph_first
    assert list(built.state_dict()) == list(make(graph_first=False).state_dict())
    with pytest.raises(ValueError, match=r"graph_first must be a bool or 'widening' or 10 bools"):
        make(graph_first='wide')
    with pytest.raises(ValueError, match=r'one per block'):
        widening.graph_first = [True, False]


def test_packs_are_runs_of_consecutive_groups():
    def stemmed(name, rows, frames):
        return (name, torch.zeros(rows, 16, frames, 5), None, False)

    plan = UnifiedSTGCN._plan_packs
    # equal rows per format within a run of one shape: the run is one pack
    assert plan([stemmed('A', 4, 20), stemmed('B', 4, 20)]) == [[0, 1]]
    assert plan([stemmed('A', 4, 20), stemmed('A', 4, 20), stemmed('B', 8, 20)]) == [[0, 1, 2]]
    # unequal rows: cut where the format changes, never across a change of shape
    groups = [stemmed('B', 4, 20), stemmed('A', 4, 20), stemmed('A', 3, 16), stemmed('A', 3, 16)]
    groups += [stemmed('B', 5, 16), stemmed('A', 3, 16)]
    assert plan(groups) == [[0, 1], [2, 3], [4], [5]]
    # groups of one shape that are not consecutive never share a pack
    groups = [stemmed('A', 4, 20), stemmed('A', 4, 16), stemmed('A', 4, 20)]
    assert plan(groups) == [[0], [1], [2]]
