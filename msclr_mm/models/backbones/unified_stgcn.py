"""`UnifiedSTGCN`: one ST-GCN trunk shared by several skeleton formats."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from msclr_mm.skeletons import SkeletonFormat, get_format

from .attention_drop import EnergyAttentionDrop
from .grouped_norm import GroupLayout, grouped_batch_norm, pack_layout

FormatSpec = Union[str, Dict[str, Any], SkeletonFormat]


class _SharedLeftBmm(torch.autograd.Function):
    """``a @ y[b]`` for every ``b``: one matrix shared by a batch of matrices.

    ``torch.matmul(a, y)`` would expand ``a`` over the batch and copy it. Here the forward
    is a strided-batched product with a zero batch stride for ``a`` (no copy). The
    gradient of ``a``, ``sum_{b, c} grad[b, w, c] y[b, j, c]``, takes whichever route
    moves fewer bytes (:meth:`products_route`): one ``(W, B * C) @ (B * C, J)`` product,
    for which ``einsum`` copies both operands into that layout (narrow ``C``), or the
    per-row products ``grad[b] @ y[b]^T`` as one strided-batched product of the tensors
    as they are, summed over ``b`` in ``a``'s dtype (wide ``C``: the ``(B, W, J)``
    products are smaller than the copies).

    Shapes: ``a (W, J)``, ``y (B, J, C)`` -> ``(B, W, C)``. ``a`` is cast to ``y``'s dtype
    (so autocast's bf16 ``y`` gives a bf16 product); its gradient comes back in ``a``'s
    dtype.
    """

    @staticmethod
    def products_route(W: int, J: int, C: int) -> bool:
        """Whether the gradient of ``a`` takes the per-row products (``W J < C (W + J)``).

        ``einsum`` reads ``grad (B, W, C)`` and ``y (B, J, C)``, writes copies of both and
        reads the copies: ``3 B C (W + J)`` elements. The products read both once and write
        and read ``(B, W, J)``: ``B C (W + J) + 2 B W J``.
        """
        return W * J < C * (W + J)

    @staticmethod
    def forward(ctx, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ctx.a_dtype = a.dtype
        a = a.to(y.dtype)
        ctx.save_for_backward(a, y)
        return torch.bmm(a.expand(y.shape[0], -1, -1), y)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        a, y = ctx.saved_tensors
        grad = grad.to(y.dtype)
        grad_y = grad_a = None
        if ctx.needs_input_grad[1]:
            grad_y = torch.bmm(a.t().expand(y.shape[0], -1, -1), grad)
        if ctx.needs_input_grad[0]:
            (W, J), C = a.shape, y.shape[2]
            if _SharedLeftBmm.products_route(W, J, C):
                grad_a = torch.bmm(grad, y.transpose(1, 2)).sum(0, dtype=ctx.a_dtype)
            else:
                grad_a = torch.einsum('bwc,bjc->wj', grad, y)
        return grad_a, grad_y


class STGCNBlock(nn.Module):
    """One ST-GCN block whose graph is passed in at call time.

    Graph convolution (1x1 conv to ``K * out`` channels, product with the ``K`` adjacency
    subsets, BN, ReLU), then temporal convolution (``tcn_kernel x 1`` conv, BN, dropout),
    residual and ReLU. The same parameters as mmaction2's ``STGCNBlock`` with
    ``unit_gcn`` / ``unit_tcn``, minus the adjacency and edge importance, which belong to a
    format.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        num_subsets (int): Number ``K`` of adjacency subsets.
        stride (int): Temporal stride. Defaults to 1.
        tcn_kernel (int): Temporal kernel size (odd). Defaults to 9.
        dropout (float): Dropout after the temporal convolution. Defaults to 0.
        residual (bool): Whether to add a residual branch. Defaults to True.

    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_subsets: int,
        stride: int = 1,
        tcn_kernel: int = 9,
        dropout: float = 0.0,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if tcn_kernel % 2 != 1:
            raise ValueError(f'tcn_kernel must be odd, got {tcn_kernel}')
        self.out_channels = out_channels
        self.num_subsets = num_subsets
        self.dense_gcn = False  # set by UnifiedSTGCN(dense_gcn=)
        self.graph_first = False  # set by UnifiedSTGCN(graph_first=)
        self.gcn_conv = nn.Conv2d(in_channels, out_channels * num_subsets, 1)
        self.gcn_bn = nn.BatchNorm2d(out_channels)
        self.tcn_conv = nn.Conv2d(
            out_channels,
            out_channels,
            (tcn_kernel, 1),
            stride=(stride, 1),
            padding=((tcn_kernel - 1) // 2, 0),
        )
        self.tcn_bn = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(dropout, inplace=False)
        self.relu = nn.ReLU()
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )

    def graph_product(
        self, y: torch.Tensor, A: torch.Tensor, channels_last: bool = False
    ) -> torch.Tensor:
        """The graph product summed over subsets: ``sum_{k, v} y[n, k, c, t, v] A[k, v, w]``.

        Both layouts are one batched matrix product. With ``channels_last`` strides the
        memory holds ``(n, t, v, k, c)``, so the ``(v, k)`` contraction is a product of
        ``A`` laid out ``(W, V * K)`` with a free ``(n * t, V * K, C)`` view of ``y``, and the
        result ``(n * t, W, C)`` is again channels-last: no layout copy at all. The
        contiguous (NCHW) layout goes through ``einsum``, which permutes ``y`` first.

        Args:
            y (torch.Tensor): Output of ``gcn_conv``, ``(n, K * C, T, V)``, channel
                ``k * C + c`` for subset ``k``.
            A (torch.Tensor): ``(K, V, V)``.
            channels_last (bool): Take the channels-last route (correct for any strides,
                fast when ``y`` is channels-last). Defaults to False.

        Returns:
            torch.Tensor: ``(n, C, T, V)``, in ``y``'s memory format.

        """
        n, _, t, v = y.shape
        k, c = self.num_subsets, self.out_channels
        if channels_last:
            y3 = y.permute(0, 2, 3, 1).reshape(n * t, v * k, c)
            a2 = A.permute(2, 1, 0).reshape(v, v * k)  # a2[w, v * K + k] = A[k, v, w]
            return _SharedLeftBmm.apply(a2, y3).view(n, t, v, c).permute(0, 3, 1, 2)
        return torch.einsum('nkctv,kvw->nctw', y.view(n, k, c, t, v), A)

    def dense_graph_conv(
        self, x: torch.Tensor, A: torch.Tensor, channels_last: bool = False
    ) -> torch.Tensor:
        """``gcn_conv`` and :meth:`graph_product` as one dense matrix product.

        The 1x1 convolution's ``K`` weight blocks ``W_k (C_out, C_in)`` and the adjacency
        combine into one ``(V * C_out, V * C_in)`` matrix ``M[(w, d), (v, c)] = sum_k
        A[k, v, w] W_k[d, c]`` (and bias ``b[(w, d)] = sum_k,v A[k, v, w] b_k[d]``), applied
        to ``x`` as ``(n * T, V * C_in)`` rows: a free view of a channels-last ``x``. One
        well-shaped GEMM instead of a skinny convolution and a batch of ``V x V K`` products,
        at ``V C_out C_in V`` multiply-adds per row instead of ``K C_out (C_in V + V V)``
        (3x to 9x more for the default widths). Same result up to rounding; the parameters
        are the same tensors (checkpoints are interchangeable).

        Args:
            x (torch.Tensor): ``(n, C_in, T, V)``.
            A (torch.Tensor): ``(K, V, V)``.
            channels_last (bool): Return the result channels-last (a view of the GEMM's
                output); otherwise contiguous. Defaults to False.

        Returns:
            torch.Tensor: ``(n, C_out, T, V)``.

        """
        n, c_in, t, v = x.shape
        k, c = self.num_subsets, self.out_channels
        W = self.gcn_conv.weight.view(k, c, c_in)
        M = torch.einsum('kvw,kdc->wdvc', A, W).reshape(v * c, v * c_in)
        rows = x.permute(0, 2, 3, 1).reshape(n * t, v * c_in)  # a view when channels-last
        if self.gcn_conv.bias is None:
            y = rows @ M.to(rows.dtype).t()
        else:
            bias = torch.einsum('kvw,kd->wd', A, self.gcn_conv.bias.view(k, c)).reshape(v * c)
            y = torch.addmm(bias.to(rows.dtype), rows, M.to(rows.dtype).t())
        y = y.view(n, t, v, c).permute(0, 3, 1, 2)
        return y if channels_last else y.contiguous()

    def graph_first_conv(
        self, x: torch.Tensor, A: torch.Tensor, channels_last: bool = False
    ) -> torch.Tensor:
        """``gcn_conv`` and :meth:`graph_product` in the other order: the graph first.

        Both are linear, so ``sum_k A_k^T (W_k x + b_k) = W' (A^T x) + b'``: the ``K``
        adjacency subsets first make ``K * C_in`` channels of ``x``, then ``gcn_conv``'s
        weight, laid out ``W'[d, k * C_in + c] = W_k[d, c]``, maps them to ``C_out`` as a
        1x1 convolution, plus the bias ``b'[d, w] = sum_k,v A[k, v, w] b_k[d]`` (a bias per
        joint). The intermediate is ``K * C_in`` channels wide instead of ``K * C_out``: in a
        widening block (``C_in < C_out``; ST-GCN's last, 64 -> 256) it moves that many
        times fewer bytes, and the graph product does ``C_in / C_out`` of the
        multiply-adds (the convolution's are the same). Same parameters, same results up
        to rounding (pyskl's ``unit_gcn(conv_pos='post')`` is this order, with its own
        parameter layout).

        Args:
            x (torch.Tensor): ``(n, C_in, T, V)``.
            A (torch.Tensor): ``(K, V, V)``.
            channels_last (bool): Take the channels-last route (the product on a free
                ``(n * T, V, C_in)`` view of ``x``, its result a channels-last
                ``(n, K * C_in, T, V)`` without a copy); otherwise ``einsum``. Defaults to
                False.

        Returns:
            torch.Tensor: ``(n, C_out, T, V)``, channels-last with ``channels_last``.

        """
        n, c_in, t, v = x.shape
        k, c = self.num_subsets, self.out_channels
        if channels_last:
            rows = x.permute(0, 2, 3, 1).reshape(n * t, v, c_in)  # a view when channels-last
            a2 = A.permute(2, 0, 1).reshape(v * k, v)  # a2[w * K + k, v] = A[k, v, w]
            z = _SharedLeftBmm.apply(a2, rows).view(n, t, v, k * c_in).permute(0, 3, 1, 2)
        else:
            z = torch.einsum('nctv,kvw->nkctw', x, A).reshape(n, k * c_in, t, v)
        weight = self.gcn_conv.weight.view(k, c, c_in).transpose(0, 1)
        y = F.conv2d(z, weight.reshape(c, k * c_in, 1, 1))
        if self.gcn_conv.bias is None:
            return y
        bias = torch.einsum('kvw,kd->dw', A, self.gcn_conv.bias.view(k, c))
        return y + bias.view(1, c, 1, v).to(y.dtype)

    def forward(
        self,
        x: torch.Tensor,
        A: torch.Tensor,
        channels_last: bool = False,
        groups: GroupLayout | None = None,
    ) -> torch.Tensor:
        """Run the block.

        Args:
            x (torch.Tensor): ``(B, C_in, T, V)``.
            A (torch.Tensor): ``(K, V, V)`` adjacency (already weighted by importance).
            channels_last (bool): ``x`` is in channels-last memory format; keep it so.
                Defaults to False.
            groups (GroupLayout, optional): ``x`` packs several groups (see
                :mod:`.grouped_norm`); every BatchNorm then takes statistics per group.
                Defaults to None (one batch).

        Returns:
            torch.Tensor: ``(B, C_out, T', V)``.

        """
        if self.dense_gcn:
            y = self.dense_graph_conv(x, A, channels_last)
        elif self.graph_first:
            y = self.graph_first_conv(x, A, channels_last)
        else:
            y = self.graph_product(self.gcn_conv(x), A, channels_last)
        y = self._norm(self.gcn_bn, y, groups)
        y = self.drop(self._norm(self.tcn_bn, self.tcn_conv(self.relu(y)), groups))
        if isinstance(self.residual, nn.Sequential):
            conv, bn = self.residual
            y = y + self._norm(bn, self._residual_conv(conv, x, channels_last), groups)
        elif self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)

    @staticmethod
    def _residual_conv(conv: nn.Conv2d, x: torch.Tensor, channels_last: bool) -> torch.Tensor:
        """The residual branch's strided 1x1 convolution of ``x (B, C_in, T, V)``.

        On a CPU, with channels-last ``x``, it is computed as the same convolution with
        stride 1 of every ``stride``-th frame (equal: a 1x1 kernel reads only those):
        torch 2.13's oneDNN backward of a channels-last 1x1 convolution with stride
        ``(2, 1)`` corrupts the heap for some narrow inputs (``C_in`` 4, 8 or 12: a
        segmentation fault or ``corrupted size vs. prev_size``; 15, 16, 32 are fine).
        Elsewhere (GPU, NCHW) the strided convolution runs as is.
        """
        stride = conv.stride[0]
        if channels_last and stride > 1 and x.device.type == 'cpu':
            return F.conv2d(x[:, :, ::stride], conv.weight, conv.bias)
        return conv(x)

    @staticmethod
    def _norm(bn: nn.Module, x: torch.Tensor, groups: GroupLayout | None) -> torch.Tensor:
        return bn(x) if groups is None else grouped_batch_norm(x, bn, groups)


class FormatStem(nn.Module):
    """What one skeleton format owns inside :class:`UnifiedSTGCN`.

    Args:
        fmt (SkeletonFormat): The format.
        num_blocks (int): Number of trunk blocks (one edge-importance tensor each).
        graph_mode (str): Adjacency mode passed to :meth:`SkeletonFormat.adjacency`.
        edge_importance (bool): Learn a ``(K, V, V)`` multiplicative importance per block.

    """

    def __init__(
        self, fmt: SkeletonFormat, num_blocks: int, graph_mode: str, edge_importance: bool
    ) -> None:
        super().__init__()
        self.num_joints = fmt.num_joints
        self.in_channels = fmt.in_channels
        self.data_bn = nn.BatchNorm1d(fmt.in_channels * fmt.num_joints)
        A = torch.as_tensor(fmt.adjacency(graph_mode), dtype=torch.float32)
        self.register_buffer('A', A)
        if edge_importance:
            self.importance = nn.ParameterList(
                nn.Parameter(torch.ones_like(A)) for _ in range(num_blocks)
            )
        else:
            self.importance = None

    def graph_inputs(self) -> GraphInputs:
        """``(A, importances)``: what :func:`block_graphs` needs (importances may be None)."""
        return self.A, None if self.importance is None else list(self.importance)

    def forward(self, x: torch.Tensor, channels: int) -> torch.Tensor:
        """Normalise ``(N, M, T, V, C)`` and lay it out as ``(N * M, channels, T, V)``.

        Channels beyond the format's own are zero (the trunk's first convolution then uses
        only its first ``C`` input columns for this format).
        """
        N, M, T, V, C = x.shape
        x = x.permute(0, 1, 3, 4, 2).reshape(N * M, V * C, T)
        x = self.data_bn(x)
        x = x.view(N * M, V, C, T).permute(0, 2, 3, 1)
        if C < channels:
            x = nn.functional.pad(x, (0, 0, 0, 0, 0, channels - C))
        return x.contiguous()


GraphInputs = Tuple[torch.Tensor, Union[List[torch.Tensor], None]]


def block_graphs(formats: Sequence[GraphInputs], num_blocks: int) -> torch.Tensor:
    """Every block's graph for formats laid side by side on the joint axis.

    Format ``j``'s ``(K, V_j, V_j)`` adjacency times its block-``i`` edge importance sits on
    the diagonal of block ``i``'s ``(K, V, V)`` graph, ``V = sum V_j``; joints of different
    formats are never connected. One format gives its weighted graphs. A few operators for
    all blocks at once, inside the (compiled) trunk.

    Args:
        formats (Sequence[tuple[Tensor, list[Tensor] | None]]): ``(A, importances)`` per
            format (:meth:`FormatStem.graph_inputs`), in joint-axis order.
        num_blocks (int): Number of blocks.

    Returns:
        torch.Tensor: ``(num_blocks, K, V, V)``.

    """
    weighted = [
        A.expand(num_blocks, *A.shape) if imp is None else A * torch.stack(imp)
        for A, imp in formats
    ]
    if len(weighted) == 1:
        return weighted[0]
    K = weighted[0].shape[1]
    V = sum(w.shape[-1] for w in weighted)
    out = weighted[0].new_zeros(num_blocks, K, V, V)
    v0 = 0
    for w in weighted:
        v1 = v0 + w.shape[-1]
        out[:, :, v0:v1, v0:v1] = w
        v0 = v1
    return out


@MODELS.register_module()
class UnifiedSTGCN(BaseModule):
    """ST-GCN whose trunk is shared by several skeleton formats.

    The trunk (graph-convolution and temporal-convolution weights, their BatchNorms and
    residual branches) is shared. Each format keeps its own stem: the input BatchNorm over
    ``V * C`` (ST-GCN's ``data_bn``), its adjacency and its learnable edge importance per
    block. A batch holds one format; it is processed only with that format's stem, so the
    trunk's BatchNorm statistics never see padded joints and formats never mix.

    The default is the encoder of SkeletonCLR / AimCLR / SkeleMixCLR / MS-CLR: ST-GCN at a
    quarter width (10 blocks, channels 16x4, 32x3, 64x2, 256; stride 2 at blocks 5 and 8;
    temporal kernel 9; dropout 0.5 in blocks 2-10; ST-GCN spatial partition; learnable edge
    importance), 821,380 parameters for one 25-joint format. mmaction2's full-width
    ``STGCN`` is ``channels=(64,) * 4 + (128,) * 3 + (256,) * 3, dropout=0``; the
    parameter tensors then match mmaction2's one for one.

    Args:
        formats (Sequence[str | dict | SkeletonFormat]): The formats this instance serves:
            registry names, inline dict declarations or formats. Defaults to
            ``('kinect25',)``.
        in_channels (int): Input width of the trunk. A format with fewer channels is
            zero-padded up to it. Defaults to 3.
        channels (Sequence[int]): Output channels per block. Defaults to
            ``(16, 16, 16, 16, 32, 32, 32, 64, 64, 256)``.
        strides (Sequence[int], optional): Temporal stride per block. Defaults to 2 at
            blocks 5 and 8 (1-based) and 1 elsewhere; must have ``len(channels)`` entries.
        tcn_kernel (int): Temporal kernel size. Defaults to 9.
        dropout (float | Sequence[float]): Dropout after each temporal convolution; a float
            applies to every block but the first (as ST-GCN). Defaults to 0.5.
        graph_mode (str): ``'stgcn_spatial'``, ``'spatial'`` or ``'binary'``. Defaults to
            ``'stgcn_spatial'``.
        edge_importance (bool): Learn edge importance per block and format. Defaults to True.
        first_residual (bool): Residual branch in the first block. Defaults to False.
        attention_drop (dict, optional): Arguments of :class:`EnergyAttentionDrop` used by
            ``forward(..., drop=True)``. Defaults to ``dict(keep_prob=0.7)``.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stems (data BN);
            ``k`` the stems and the first ``k`` blocks, with their edge importances.
            Frozen parameters get ``requires_grad=False`` and frozen modules stay in eval
            mode. Defaults to -1.
        norm_eval (bool): Keep every BatchNorm in eval mode in ``train()``. Defaults to
            False.
        channels_last (bool, optional): Run the trunk in channels-last memory format
            (``(n, T, V, C)`` in memory): the 1x1 convolutions become plain GEMMs, BatchNorm
            uses its channels-last kernels and the graph product needs no layout copy (see
            :meth:`STGCNBlock.graph_product`). Same numbers either way. None (default):
            on for CUDA inputs, off on the CPU (no clear gain measured there).
        compile (bool | str | dict): ``torch.compile`` the trunk (the blocks and the
            attention drop; the stems stay eager), compiled on first use with the batch
            dimension dynamic, so varying format-group sizes do not recompile. A string is
            a ``torch.compile`` mode: ``'reduce-overhead'`` adds CUDA graphs, with static
            shapes (use the ``'balanced'`` format rule so group sizes are fixed), and applies
            to CUDA inputs only (CPU inputs run eager) and to single-process runs (with
            several processes the trunk is compiled without CUDA graphs). A dict is passed to
            ``torch.compile`` as is. Only training steps run compiled: evaluation (kNN
            banks, last batches of other sizes) stays eager instead of recompiling.
            Defaults to False.
        fuse_groups (bool): Let :meth:`forward_groups` run several groups (the format
            groups of a view, several views of one encoder) through the trunk in one pass:
            formats side by side on the joint axis with a block-diagonal graph, groups of
            one format stacked on the batch axis, every BatchNorm with statistics per group
            (:func:`~.grouped_norm.grouped_batch_norm`), so the features, gradients and
            running statistics are those of one pass per group. Fewer, larger kernels.
            Formats fuse when every format has the same number of rows (the
            ``'balanced'`` and ``'batch'`` format rules); otherwise only consecutive groups
            of one format fuse (the running statistics must be updated in the groups'
            order). Runs with ``SyncBatchNorm`` are never fused. Defaults to False.
        dense_gcn (bool | Sequence[bool]): Run each block's graph convolution (1x1
            convolution and the product with the ``K`` adjacency subsets) as one dense
            matrix product with a ``(V * C_out, V * C_in)`` weight built from both
            (:meth:`STGCNBlock.dense_graph_conv`): more multiply-adds, one well-shaped GEMM.
            Same parameters, same results up to rounding. One bool for every block, or one
            per block (``len(channels)`` of them; e.g. dense everywhere but the widest
            last block, where the extra multiply-adds are largest). Slower on the CPU
            (``tools/analysis/bench_gcn.py``, which also times each block both ways); for
            GPUs, measure. Defaults to False.
        graph_first (bool | str | Sequence[bool]): Run each block's graph convolution
            with the adjacency product first and the 1x1 convolution second
            (:meth:`STGCNBlock.graph_first_conv`): the intermediate is ``K * C_in``
            channels wide instead of ``K * C_out``, so a widening block moves fewer bytes
            and does fewer multiply-adds; a block of equal widths is the same work in
            another order. ``'widening'``: the blocks with ``C_in < C_out``; or one bool
            for every block, or one per block. Blocks that are ``dense_gcn`` stay dense.
            Same parameters, same results up to rounding (checkpoints load either way).
            Measured on a 2-core CPU: the MS-AimCLR step 1.27x to 1.35x faster, and 5.6 %
            fewer bytes per step as inductor fuses it (README § Speed). Defaults to
            ``'widening'``; ``False`` is the order of mmaction2's ``unit_gcn``.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None
            (PyTorch defaults, as mmaction2's ``STGCN``).

    """

    def __init__(
        self,
        formats: Sequence[FormatSpec] = ('kinect25',),
        in_channels: int = 3,
        channels: Sequence[int] = (16, 16, 16, 16, 32, 32, 32, 64, 64, 256),
        strides: Sequence[int] | None = None,
        tcn_kernel: int = 9,
        dropout: Union[float, Sequence[float]] = 0.5,
        graph_mode: str = 'stgcn_spatial',
        edge_importance: bool = True,
        first_residual: bool = False,
        attention_drop: Dict[str, Any] | None = None,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        channels_last: bool | None = None,
        compile: Union[bool, str, Dict[str, Any]] = False,
        fuse_groups: bool = False,
        dense_gcn: bool | Sequence[bool] = False,
        graph_first: bool | str | Sequence[bool] = 'widening',
        init_cfg: Union[Dict, List[Dict]] | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(formats, (str, dict, SkeletonFormat)):
            formats = [formats]
        if not formats:
            raise ValueError('UnifiedSTGCN needs at least one skeleton format')
        fmts = [get_format(f) for f in formats]
        names = [f.name for f in fmts]
        if len(set(names)) != len(names):
            raise ValueError(f'formats lists a name twice: {names}')
        nb = len(channels)
        if strides is None:
            strides = tuple(2 if i in (4, 7) else 1 for i in range(nb))
        if len(strides) != nb:
            raise ValueError(f'strides has {len(strides)} entries, channels has {nb}')
        if isinstance(dropout, (int, float)):
            dropout = (0.0,) + (float(dropout),) * (nb - 1)
        if len(dropout) != nb:
            raise ValueError(f'dropout has {len(dropout)} entries, channels has {nb}')
        for f in fmts:
            if f.in_channels > in_channels:
                raise ValueError(
                    f"format '{f.name}' has {f.in_channels} channels but the trunk takes "
                    f'in_channels={in_channels}'
                )
        if not -1 <= frozen_stages <= nb:
            raise ValueError(f'frozen_stages must be in [-1, {nb}], got {frozen_stages}')

        self.formats: Dict[str, SkeletonFormat] = {f.name: f for f in fmts}
        self.in_channels = in_channels
        self.channels = tuple(channels)
        self.graph_mode = graph_mode
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.channels_last = channels_last
        if isinstance(compile, str):
            # a torch.compile mode; CUDA graphs ('reduce-overhead') want static shapes
            compile = dict(mode=compile, dynamic=False if 'overhead' in compile else None)
        if not isinstance(compile, (bool, dict)):
            raise TypeError(
                f'compile must be a bool, a torch.compile mode or a dict, got {compile!r}'
            )
        self.compile = compile
        self.fuse_groups = fuse_groups
        self._compiled_trunk = None
        self._compiled_fused = None
        num_subsets = fmts[0].adjacency(graph_mode).shape[0]

        self.stems = nn.ModuleDict(
            {f.name: FormatStem(f, nb, graph_mode, edge_importance) for f in fmts}
        )
        blocks = []
        c_in = in_channels
        for i, (c_out, s, p) in enumerate(zip(channels, strides, dropout)):
            blocks.append(
                STGCNBlock(
                    c_in,
                    c_out,
                    num_subsets,
                    stride=s,
                    tcn_kernel=tcn_kernel,
                    dropout=p,
                    residual=first_residual or i > 0,
                )
            )
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.dense_gcn = dense_gcn
        self.graph_first = graph_first
        self.attention_drop = EnergyAttentionDrop(**(attention_drop or dict(keep_prob=0.7)))
        self._freeze_stages()

    @property
    def dense_gcn(self) -> bool | tuple[bool, ...]:
        """Which blocks run :meth:`STGCNBlock.dense_graph_conv` (settable).

        Returns ``True`` (every block), ``False`` (none) or a tuple of one bool per block
        when they differ. Set it with a bool or a sequence of ``len(self.blocks)`` bools.
        """
        return self._get_block_flags('dense_gcn')

    @dense_gcn.setter
    def dense_gcn(self, value: bool | Sequence[bool]) -> None:
        self._set_block_flags('dense_gcn', value)

    @property
    def graph_first(self) -> bool | tuple[bool, ...]:
        """Which blocks run :meth:`STGCNBlock.graph_first_conv` (settable).

        Returns ``True`` (every block), ``False`` (none) or a tuple of one bool per block
        when they differ. Set it with a bool, ``'widening'`` (the blocks whose input is
        narrower than their output) or a sequence of ``len(self.blocks)`` bools.
        """
        return self._get_block_flags('graph_first')

    @graph_first.setter
    def graph_first(self, value: bool | str | Sequence[bool]) -> None:
        if value == 'widening':
            value = [b.gcn_conv.in_channels < b.out_channels for b in self.blocks]
        self._set_block_flags('graph_first', value)

    def _get_block_flags(self, name: str) -> bool | tuple[bool, ...]:
        flags = tuple(getattr(block, name) for block in self.blocks)
        return flags[0] if len(set(flags)) == 1 else flags

    def _set_block_flags(self, name: str, value: Any) -> None:
        """Set a per-block switch from one bool or ``len(self.blocks)`` bools (0 / 1 too)."""
        if isinstance(value, (bool, int)):
            value = [bool(value)] * len(self.blocks)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            value = list(value)
        ok = isinstance(value, list) and len(value) == len(self.blocks)
        if not ok or not all(isinstance(v, (bool, int)) for v in value):
            extra = " or 'widening'" if name == 'graph_first' else ''
            raise ValueError(
                f'{name} must be a bool{extra} or {len(self.blocks)} bools (one per block), '
                f'got {value!r}'
            )
        for block, flag in zip(self.blocks, value):
            setattr(block, name, bool(flag))

    @property
    def out_channels(self) -> int:
        """int: Channels of the output features."""
        return self.channels[-1]

    def init_weights(self) -> None:
        """Initialise as mmengine does; a ``Pretrained`` ``init_cfg`` must cover every weight.

        mmengine loads ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)``
        non-strictly: weights the checkpoint lacks keep their random initialisation and only
        a warning is logged. For an encoder that is a silently partly random model, e.g. a
        probe on ``kinect25 + smplx42`` from a ``kinect25``-only pretraining, whose
        ``smplx42`` stem would stay random and its classifier still enter the ensemble.

        Raises:
            ValueError: Naming the checkpoint, the prefix and the encoder's weights (up to 8
                and their count) that the checkpoint does not hold, or holds with another
                shape.
        """
        super().init_weights()
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        for cfg in cfgs:
            if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
                self._check_pretrained_covers(cfg['checkpoint'], cfg.get('prefix'))

    def _check_pretrained_covers(self, checkpoint: str, prefix: str | None) -> None:
        from mmengine.runner.checkpoint import _load_checkpoint

        loaded = _load_checkpoint(checkpoint, map_location='cpu')
        state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else {}
        state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
        if prefix:
            state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        bad = []
        for key, value in self.state_dict().items():
            if key not in state:
                bad.append(key)
            elif getattr(state[key], 'shape', value.shape) != value.shape:
                bad.append(
                    f'{key} (checkpoint {tuple(state[key].shape)}, here {tuple(value.shape)})'
                )
        if bad:
            more = f', ... ({len(bad) - 8} more)' if len(bad) > 8 else ''
            raise ValueError(
                f'UnifiedSTGCN: init_cfg Pretrained {checkpoint!r} (prefix {prefix!r}) does not '
                f"hold {len(bad)} of the encoder's {len(self.state_dict())} weights: "
                f'{", ".join(bad[:8])}{more}; expected a checkpoint of this encoder (same '
                f'formats {list(self.formats)}, channels and graph)'
            )

    def resolve_format(self, fmt: FormatSpec | None, num_joints: int) -> str:
        """Name of the format a batch with ``num_joints`` joints is in.

        Args:
            fmt (str | dict | SkeletonFormat, optional): The declared format, or None to
                infer it from ``num_joints``.
            num_joints (int): ``V`` of the batch.

        Returns:
            str: A key of ``self.stems``.

        """
        if fmt is None:
            if len(self.formats) == 1:
                name = next(iter(self.formats))
            else:
                candidates = [n for n, f in self.formats.items() if f.num_joints == num_joints]
                if len(candidates) != 1:
                    raise ValueError(
                        f'cannot infer the skeleton format of a batch with V={num_joints}: '
                        f'candidates {candidates} among {list(self.formats)}; pass fmt='
                    )
                name = candidates[0]
        else:
            name = fmt if isinstance(fmt, str) else get_format(fmt).name
            if name not in self.formats:
                raise KeyError(
                    f"UnifiedSTGCN does not serve format '{name}'; it serves {list(self.formats)}"
                )
        expected = self.formats[name].num_joints
        if num_joints != expected:
            raise ValueError(
                f"format '{name}' has {expected} joints but the batch has V={num_joints}"
            )
        return name

    def forward(
        self, x: torch.Tensor, fmt: FormatSpec | None = None, drop: bool = False
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """Encode a batch of one skeleton format.

        Args:
            x (torch.Tensor): Skeletons ``(N, M, T, V, C)``.
            fmt (str | dict | SkeletonFormat, optional): Their format. May be omitted when
                the instance serves one format, or when ``V`` identifies it.
            drop (bool): Also return the features after AimCLR's energy-based attention
                drop. Defaults to False.

        Returns:
            torch.Tensor | tuple[torch.Tensor, torch.Tensor]: Features ``(N, M, C', T', V)``
            (as mmaction2's ``STGCN``), or ``(features, dropped_features)`` when ``drop``.

        """
        name, h = self._stem(x, fmt)
        return self._encode(name, h, x.shape[:2], drop)

    def _encode(
        self, name: str, h: torch.Tensor, batch: Tuple[int, int], drop: bool
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """The trunk on one stemmed group ``(N * M, C, T, V)``; ``batch`` is ``(N, M)``."""
        N, M = batch
        channels_last = self._channels_last(h)
        if channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        graphs = [self.stems[name].graph_inputs()]
        trunk = self._trunk
        if self._use_compiled(h):
            trunk = self._get_compiled_trunk()
            if self._dynamic_batch():
                torch._dynamo.maybe_mark_dynamic(h, 0)
        h, dropped = trunk(h, graphs, channels_last, drop)
        out = h.reshape((N, M) + h.shape[1:])
        if not drop:
            return out
        return out, dropped.reshape(out.shape)

    def forward_groups(
        self, groups: Sequence[Tuple[torch.Tensor, FormatSpec | None, bool]]
    ) -> List[Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]]:
        """Encode several batches (groups), fused into few trunk passes when allowed.

        Without ``fuse_groups`` (or with one group, or with ``SyncBatchNorm``) this is
        ``[self(x, fmt, drop) for x, fmt, drop in groups]``. With it, the groups are
        packed as described for ``fuse_groups``: every group still gets its own stem, its
        own BatchNorm statistics and (if asked) its own attention drop, and the running
        statistics are updated group by group in the given order, so the result is that
        of the loop up to floating-point rounding; only the random dropout masks differ.
        Packs are runs of consecutive groups (see :meth:`_plan_packs`): where the formats
        of a run hold unequal rows (the ``'random'`` format rule), only consecutive groups
        of one format share a pass, so with alternating formats nothing is fused.

        Args:
            groups (Sequence[tuple[Tensor, str | dict | SkeletonFormat | None, bool]]):
                ``(x (n, M, T, V, C), fmt, drop)`` per group, as :meth:`forward` takes them.

        Returns:
            list: Per group what :meth:`forward` returns: features ``(n, M, C', T', V)``,
            or ``(features, dropped_features)`` when its ``drop`` is set.

        """
        if not groups:
            raise ValueError('forward_groups needs at least one group')
        if not self.fuse_groups or len(groups) == 1 or self._has_sync_bn():
            return [self(x, fmt, drop) for x, fmt, drop in groups]
        stemmed = []
        for x, fmt, drop in groups:
            name, h = self._stem(x, fmt)
            stemmed.append((name, h, x.shape[:2], drop))
        results: List[Any] = [None] * len(groups)
        for pack in self._plan_packs(stemmed):
            if len(pack) == 1:
                name, h, batch, drop = stemmed[pack[0]]
                results[pack[0]] = self._encode(name, h, batch, drop)
                continue
            for g, out in zip(pack, self._run_fused([stemmed[g] for g in pack])):
                results[g] = out
        return results

    @staticmethod
    def _plan_packs(stemmed: Sequence[Tuple[str, torch.Tensor, Any, bool]]) -> List[List[int]]:
        """Partition group indices into packs that can share one trunk pass.

        Packs are runs of consecutive groups, so that running them one after another updates
        the BatchNorm running statistics group by group in the given order (an exponential
        average depends on the order). Consecutive groups with the same frames, dtype and
        device form one run; a run packs whole when every format in it holds the same
        number of rows, otherwise it is cut where the format changes.
        """

        def key(g):
            h = stemmed[g][1]
            return tuple(h.shape[1:3]), h.dtype, h.device

        runs: List[List[int]] = []
        for g in range(len(stemmed)):
            if runs and key(runs[-1][-1]) == key(g):
                runs[-1].append(g)
            else:
                runs.append([g])
        packs = []
        for run in runs:
            rows: Dict[str, int] = {}
            for g in run:
                rows[stemmed[g][0]] = rows.get(stemmed[g][0], 0) + stemmed[g][1].shape[0]
            if len(set(rows.values())) == 1:
                packs.append(run)
                continue
            cut: List[List[int]] = []
            for g in run:
                if cut and stemmed[cut[-1][-1]][0] == stemmed[g][0]:
                    cut[-1].append(g)
                else:
                    cut.append([g])
            packs.extend(cut)
        return packs

    def _run_fused(
        self, stemmed: Sequence[Tuple[str, torch.Tensor, Any, bool]]
    ) -> List[Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]]:
        """One trunk pass over the packed groups of one pack (see :meth:`forward_groups`)."""
        columns: Dict[str, List[int]] = {}
        for g, (name, _, _, _) in enumerate(stemmed):
            columns.setdefault(name, []).append(g)
        layout = pack_layout(
            [
                (self.formats[name].num_joints, [(g, stemmed[g][1].shape[0]) for g in col])
                for name, col in columns.items()
            ]
        )
        h = torch.cat([torch.cat([stemmed[g][1] for g in col]) for col in columns.values()], dim=3)
        channels_last = self._channels_last(h)
        if channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        graphs = [self.stems[name].graph_inputs() for name in columns]
        drops = tuple(drop for _, _, _, drop in stemmed)
        trunk = self._get_compiled_trunk(fused=True) if self._use_compiled(h) else self._fused_trunk
        parts = trunk(h, graphs, channels_last, layout, drops)
        outs = []
        for (_, _, (N, M), drop), (feat, dropped) in zip(stemmed, parts):
            feat = feat.reshape((N, M) + feat.shape[1:])
            outs.append((feat, dropped.reshape(feat.shape)) if drop else feat)
        return outs

    def _fused_trunk(
        self,
        h: torch.Tensor,
        graphs: List[GraphInputs],
        channels_last: bool,
        layout: GroupLayout,
        drops: Tuple[bool, ...],
    ) -> List[Tuple[torch.Tensor, torch.Tensor | None]]:
        """The shared blocks on a packed ``(B, C, T, V)``; per group its features (a view).

        ``graphs`` holds each column's :meth:`FormatStem.graph_inputs`; block ``i`` uses
        their block-diagonal graph (:func:`block_graphs`).
        """
        for block, A in zip(self.blocks, block_graphs(graphs, len(self.blocks))):
            h = block(h, A, channels_last, layout)
        parts = []
        for ((r0, r1), (v0, v1)), drop in zip(zip(layout.rows, layout.cols), drops):
            feat = h[r0:r1, :, :, v0:v1]
            parts.append((feat, self.attention_drop(feat) if drop else None))
        return parts

    def _stem(self, x: torch.Tensor, fmt: FormatSpec | None) -> Tuple[str, torch.Tensor]:
        """Check ``x (N, M, T, V, C)``, resolve its format, run its stem -> ``(N * M, C, T, V)``."""
        if x.dim() != 5:
            raise ValueError(f'expected input (N, M, T, V, C), got shape {tuple(x.shape)}')
        V, C = x.shape[3:]
        name = self.resolve_format(fmt, V)
        stem = self.stems[name]
        if C != stem.in_channels:
            raise ValueError(f"format '{name}' has {stem.in_channels} channels, got C={C}")
        return name, stem(x, self.in_channels)

    def _channels_last(self, h: torch.Tensor) -> bool:
        """Whether the trunk runs channels-last on ``h``'s device."""
        return h.is_cuda if self.channels_last is None else bool(self.channels_last)

    def _use_compiled(self, h: torch.Tensor) -> bool:
        """Whether this call runs the compiled trunk (training; CUDA graphs on CUDA only)."""
        return bool(self.compile) and self.training and (h.is_cuda or not self._wants_cuda_graphs())

    def _dynamic_batch(self) -> bool:
        return not (isinstance(self.compile, dict) and self.compile.get('dynamic') is False)

    def _has_sync_bn(self) -> bool:
        """Whether the trunk holds SyncBatchNorm (its statistics cross ranks: never fused)."""
        return any(isinstance(m, nn.SyncBatchNorm) for m in self.blocks.modules())

    def _trunk(
        self, h: torch.Tensor, graphs: List[GraphInputs], channels_last: bool, drop: bool
    ) -> Tuple[torch.Tensor, torch.Tensor | None]:
        """The shared blocks on ``(n, C, T, V)``; also the attention-dropped output if ``drop``.

        ``graphs``: the format's :meth:`FormatStem.graph_inputs` (one entry).
        """
        for block, A in zip(self.blocks, block_graphs(graphs, len(self.blocks))):
            h = block(h, A, channels_last)
        return h, (self.attention_drop(h) if drop else None)

    def _wants_cuda_graphs(self) -> bool:
        """Whether the compile mode captures CUDA graphs (then it applies to CUDA only)."""
        return isinstance(self.compile, dict) and 'overhead' in str(self.compile.get('mode'))

    def _get_compiled_trunk(self, fused: bool = False):
        """``torch.compile`` of ``_trunk`` (or ``_fused_trunk``), built on first use.

        Neither is copied or pickled.
        """
        attr = '_compiled_fused' if fused else '_compiled_trunk'
        if getattr(self, attr) is None:
            options = dict(self.compile) if isinstance(self.compile, dict) else {}
            if self._wants_cuda_graphs() and get_world_size() > 1:
                # CUDA graphs under DDP (gradient hooks and all-reduce around replayed
                # graphs) were never measured here: compile without them
                options.pop('mode')
                print_log(
                    'UnifiedSTGCN: distributed run, compiling the trunk without CUDA graphs '
                    "(mode 'reduce-overhead' is single-process only here)",
                    logger='current',
                    level=logging.WARNING,
                )
            # one entry per (encoder copy, format, drop, train/eval): more than the default 8
            for name in ('recompile_limit', 'cache_size_limit'):
                if hasattr(torch._dynamo.config, name):
                    setattr(
                        torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), 64)
                    )
            fn = self._fused_trunk if fused else self._trunk
            setattr(self, attr, torch.compile(fn, **options))
        return getattr(self, attr)

    def __getstate__(self) -> Dict[str, Any]:
        """Pickle and deep-copy without the compiled trunk (a copy compiles its own)."""
        state = self.__dict__.copy()
        state['_compiled_trunk'] = state['_compiled_fused'] = None
        return state

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen: List[nn.Module] = [s.data_bn for s in self.stems.values()]
        frozen += list(self.blocks[: self.frozen_stages])
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
        for s in self.stems.values():
            if s.importance is not None:
                for p in list(s.importance)[: self.frozen_stages]:
                    p.requires_grad = False

    def train(self, mode: bool = True) -> UnifiedSTGCN:
        """Set train mode, keeping frozen stages (and BN when ``norm_eval``) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
