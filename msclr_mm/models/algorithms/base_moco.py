"""Shared machinery of the MoCo-family skeleton algorithms."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.model import BaseModel

from msclr_mm.utils.device import copy_to_device

from ..necks import global_pool
from .momentum_encoder import MomentumEncoder
from .multi_format import (
    ViewInputs,
    attach_pred_features,
    group_sizes,
    iter_groups,
    scatter_rows,
)
from .negative_queue import NegativeQueue
from .step_graph import StepGraph, materialise_optimizer_state, no_autocast_cache

BatchInputs = Mapping[str, ViewInputs]

#: Similarity given to excluded queue entries: far below any cosine, so ``exp(s / T)`` is 0,
#: yet finite, so that a KL term's ``0 * log p`` stays 0 (AimCLR's DDM loss).
EXCLUDED_SIMILARITY = -1e4


class BaseMoCo(BaseModel):
    """MoCo v2 over the multi-skeleton batch contract: the base of every algorithm here.

    The shape of mmpretrain's ``MoCo``: a registry-built ``backbone`` (``UnifiedSTGCN``),
    ``neck`` (:class:`ProjectionNeck`) and ``head`` (:class:`ContrastiveHead`); the key
    encoder ``encoder_k`` is a :class:`MomentumEncoder` (an mmengine
    ``ExponentialMovingAverage``) of ``backbone`` + ``neck``; one :class:`NegativeQueue`
    holds the negatives of every format. Everything happens in ``loss()``; no hook.

    Inputs follow the batch contract: ``inputs[view][fmt] = {'keypoint': (n, M, T, V, C),
    'index': (n,)}``. The encoder runs once per (view, format) group; pooled features are
    put back in batch order with ``index`` before the projection MLP, so the neck (and its
    BatchNorm, if any) sees the whole batch and a clip's query and key may come from
    different formats (the multi-skeleton, MS-, version) without any other change.

    Distributed: keys are gathered from every rank into the queue in rank order
    (:class:`NegativeQueue`), so the queue is identical on all ranks; the key encoder is
    identical because the query encoder is (DDP). As SkeletonCLR, and unlike MoCo, the key
    batch is not shuffled across GPUs before the key encoder's BatchNorm. Every rank must
    see the same batch size (``drop_last=True`` in the train dataloader).

    Args:
        backbone (dict): Backbone config, e.g. ``dict(type='UnifiedSTGCN', formats=[...])``.
        neck (dict): Neck config. Defaults to ``dict(type='ProjectionNeck')``.
        head (dict): Head config. Defaults to ``dict(type='ContrastiveHead')``.
        queue_len (int): Negatives ``K``. Defaults to 32768.
        feat_dim (int): Embedding size. Defaults to 128.
        momentum (float): Key encoder momentum in MoCo's convention. Defaults to 0.999.
        query_view (str): View encoded by the query encoder. Defaults to ``'query'``.
        key_view (str): View encoded by the key encoder. Defaults to ``'key'``.
        exclude_own_keys (bool): Leave a clip's own earlier keys out of its negatives. The
            queue then stores the clip id (``sample_idx``) of each key, and queue entries
            written by the query's clip get no weight in the InfoNCE denominator (nor in
            AimCLR's mining). Matters when the queue is longer than an epoch (small data:
            a queue of 512 over 120 clips x 3 formats holds every clip about 4 times, all
            pushed away from their own query); a no-op in effect on NTU-sized data.
            Needs data samples with ``sample_idx`` (``PackMultiSkeletonInputs`` sets it).
            Defaults to False (MoCo, and the reference code).
        cuda_graph_step (bool | dict): On a CUDA device, run each training step as one
            CUDA graph replay (:class:`StepGraph`; a dict gives its arguments, e.g.
            ``dict(warmup=2)``): preprocessing, the three encoder passes, the losses, the
            backward pass, the optimiser step, the key encoder's EMA and the queue, launched
            at once instead of operator by operator. Single process only (in a
            distributed run mmengine's DDP wrapper runs its own step: no effect); not with
            ``exclude_own_keys``, ``accumulative_counts > 1``, the backbone's
            ``compile='reduce-overhead'`` (graphs inside a graph: use ``compile=True``), nor
            an algorithm that declares a ``step_graph_obstacle``. Eager on a CPU.
            **Not yet run on a GPU** (README § Speed). Defaults to False.
        data_preprocessor (dict | nn.Module, optional): Usually
            ``dict(type='SkeletonDataPreprocessor', ...)``. Defaults to None (mmengine's
            ``BaseDataPreprocessor``: moves the batch to the device, nothing else).
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.

    """

    def __init__(
        self,
        backbone: dict,
        neck: dict | None = None,
        head: dict | None = None,
        queue_len: int = 32768,
        feat_dim: int = 128,
        momentum: float = 0.999,
        query_view: str = 'query',
        key_view: str = 'key',
        exclude_own_keys: bool = False,
        cuda_graph_step: Union[bool, Dict[str, Any]] = False,
        data_preprocessor: Union[dict, nn.Module, None] = None,
        init_cfg: Union[dict, List[dict], None] = None,
    ) -> None:
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck or dict(type='ProjectionNeck', out_channels=feat_dim))
        self.head = MODELS.build(head or dict(type='ContrastiveHead'))
        self.encoder_k = MomentumEncoder(self._query_encoder(), momentum=momentum)
        self.queue = NegativeQueue(feat_dim, queue_len, track_ids=exclude_own_keys)
        self.query_view = query_view
        self.key_view = key_view
        self.exclude_own_keys = exclude_own_keys
        self.step_graph: StepGraph | None = None
        if cuda_graph_step:
            if self.step_graph_obstacle:
                raise ValueError(
                    f'{type(self).__name__} cannot use cuda_graph_step: {self.step_graph_obstacle}'
                )
            if exclude_own_keys:
                raise ValueError(
                    'cuda_graph_step cannot be combined with exclude_own_keys (the clip ids '
                    'come from the host every step)'
                )
            options = cuda_graph_step if isinstance(cuda_graph_step, dict) else {}
            self.step_graph = StepGraph(**options)

    #: Why this algorithm's step cannot be a CUDA graph ('' when it can).
    step_graph_obstacle = ''

    def graph_key(self) -> Tuple:
        """Host-side settings a captured step bakes in; a change captures again.

        Returns:
            tuple: ``()`` here; subclasses add theirs (AimCLR: whether mining is on).

        """
        return ()

    def train_step(self, data: Any, optim_wrapper: Any) -> Dict[str, torch.Tensor]:
        """The training step: mmengine's, or its CUDA-graph replay with ``cuda_graph_step``."""
        device = next(self.parameters()).device
        if self.step_graph is None or device.type != 'cuda':
            return super().train_step(data, optim_wrapper)
        self._check_step_graph(optim_wrapper)
        groups = tuple(
            (g['lr'], g.get('momentum'), g.get('weight_decay')) for g in optim_wrapper.param_groups
        )
        generators = getattr(self.data_preprocessor, 'cuda_generators', list)()
        with no_autocast_cache(optim_wrapper):
            return self.step_graph.step(
                data,
                lambda batch: BaseModel.train_step(self, batch, optim_wrapper),
                device,
                key=(self.graph_key(), groups),
                generators=generators,
                prepare=lambda: self._prepare_capture(optim_wrapper),
            )

    def _prepare_capture(self, optim_wrapper: Any) -> None:
        """Optimiser state made before a capture, not inside it (see StepGraph)."""
        problems = materialise_optimizer_state(optim_wrapper.optimizer)
        if problems:
            print_log(
                'cuda_graph_step: optimiser state missing before the capture, created inside '
                f'it and so re-created at every replay: {problems}',
                logger='current',
                level=logging.WARNING,
            )

    def _check_step_graph(self, optim_wrapper: Any) -> None:
        """Refuse, with the reason, what a captured step cannot do."""
        if get_world_size() > 1:
            raise RuntimeError(
                'cuda_graph_step is single-process only (the key all_gather and the gradient '
                'all-reduce are not captured); turn it off for distributed runs'
            )
        if getattr(optim_wrapper, '_accumulative_counts', 1) != 1:
            raise RuntimeError('cuda_graph_step needs accumulative_counts=1')
        if getattr(optim_wrapper, 'loss_scaler', None) is not None:
            raise RuntimeError(
                'cuda_graph_step cannot capture a GradScaler (AmpOptimWrapper / --amp reads '
                'found_inf on the host every step); use AutocastOptimWrapper (bf16, no scaler)'
            )
        if getattr(optim_wrapper, 'clip_grad_kwargs', None):
            raise RuntimeError(
                'cuda_graph_step cannot capture clip_grad: mmengine logs the gradient norm with '
                'float(norm), a host read every step; remove optim_wrapper.clip_grad'
            )
        cumulative = [
            name
            for name, m in self.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.momentum is None
        ]
        if cumulative:
            raise RuntimeError(
                'cuda_graph_step cannot capture BatchNorm(momentum=None) (its cumulative '
                f'average reads num_batches_tracked on the host): {cumulative[:3]}'
            )
        if getattr(self.data_preprocessor, 'move_data_samples', False):
            raise RuntimeError(
                'cuda_graph_step cannot capture moving the data samples to the device (one '
                'copy of each label from host memory inside the step, refused while a stream '
                'captures); set model.data_preprocessor.move_data_samples=False (the '
                'contrastive losses never read the labels)'
            )
        compile_cfg = getattr(self.backbone, 'compile', False)
        if isinstance(compile_cfg, dict) and 'overhead' in str(compile_cfg.get('mode')):
            raise RuntimeError(
                "cuda_graph_step captures the whole step: the backbone's compile mode "
                "'reduce-overhead' (CUDA graphs of its own) cannot run inside it; use "
                'model.backbone.compile=True'
            )

    def begin_step(self) -> None:
        """Mark a new training step for CUDA-graph trees (a compiled, graphed trunk).

        ``torch.compile(mode='reduce-overhead')`` reuses its graphs' output memory from one
        step to the next; telling it where a step begins keeps it from mistaking the
        second step's forward for a continuation of the first. A no-op otherwise.
        """
        compile_cfg = getattr(self.backbone, 'compile', False)
        if compile_cfg and hasattr(torch, 'compiler'):
            mark = getattr(torch.compiler, 'cudagraph_mark_step_begin', None)
            if mark is not None:
                mark()

    # ------------------------------------------------------------------ encoders
    def _query_encoder(self) -> nn.ModuleDict:
        """The query backbone and neck under the names the key encoder copies."""
        return nn.ModuleDict(dict(backbone=self.backbone, neck=self.neck))

    @torch.no_grad()
    def update_key_encoder(self) -> None:
        """One momentum step of ``encoder_k`` from the query backbone and neck."""
        self.encoder_k.update_parameters(self._query_encoder())

    def pooled_features(
        self,
        backbone: nn.Module,
        views: Sequence[Tuple[str, ViewInputs, bool]],
        num: int,
    ) -> List[Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]]:
        """Encode every format group of several views and pool, in batch order.

        All groups go to the backbone in one ``forward_groups`` call when it has one
        (:class:`UnifiedSTGCN`: with ``fuse_groups`` they share trunk passes), else one
        call per group; either way in view order, then format order.

        Args:
            backbone (nn.Module): Query or key backbone.
            views (Sequence[tuple[str, Mapping, bool]]): ``(view name, {fmt: {'keypoint':
                (n, M, T, V, C), 'index': (n,)}}, drop)`` per view; ``drop`` also pools the
                attention-dropped features (AimCLR).
            num (int): Batch size ``N``.

        Returns:
            list: Per view ``(N, C)``, or two of them when its ``drop`` is set.

        """
        groups, owners = [], []
        for v, (view_name, view, drop) in enumerate(views):
            for fmt, x, index in iter_groups(view, view_name):
                if x.dim() != 5:
                    raise ValueError(
                        f"view '{view_name}', format '{fmt}': training keypoints must be "
                        f'(n, M, T, V, C), got {tuple(x.shape)}'
                    )
                groups.append((x, fmt, drop))
                owners.append((v, index))
        if hasattr(backbone, 'forward_groups'):
            feats = backbone.forward_groups(groups)
        else:
            feats = [backbone(x, fmt, drop=True) if d else backbone(x, fmt) for x, fmt, d in groups]
        parts: List[List[Tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in views]
        dropped: List[List[Tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in views]
        for (v, index), feat in zip(owners, feats):
            if views[v][2]:
                feat, feat_drop = feat
                dropped[v].append((index, global_pool(feat_drop)))
            parts[v].append((index, global_pool(feat)))
        out: List[Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]] = []
        for v, (view_name, _, drop) in enumerate(views):
            pooled = scatter_rows(parts[v], num, view_name)
            out.append((pooled, scatter_rows(dropped[v], num, view_name)) if drop else pooled)
        return out

    def embed_views(
        self, views: Sequence[Tuple[str, bool]], inputs: BatchInputs, num: int
    ) -> List[Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]]:
        """L2-normalised query embeddings of several views, in batch order.

        The views' groups go through the query backbone together (see
        :meth:`pooled_features`); the projection runs once per view, as before.

        Args:
            views (Sequence[tuple[str, bool]]): ``(view name, drop)`` per view; ``drop``
                also embeds the attention-dropped features.
            inputs (Mapping): The batch contract's inputs.
            num (int): Batch size ``N``.

        Returns:
            list: Per view ``(N, D)``, or two of them when its ``drop`` is set.

        """
        pooled = self.pooled_features(
            self.backbone, [(v, self._view(inputs, v), drop) for v, drop in views], num
        )
        out: List[Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]] = []
        for p in pooled:
            if isinstance(p, tuple):
                out.append(tuple(F.normalize(self.neck(o), dim=1) for o in p))
            else:
                out.append(F.normalize(self.neck(p), dim=1))
        return out

    def embed(
        self, view_name: str, inputs: BatchInputs, num: int, drop: bool = False
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """L2-normalised query embeddings of one view, in batch order.

        Args:
            view_name (str): Key of ``inputs``.
            inputs (Mapping): The batch contract's inputs.
            num (int): Batch size ``N``.
            drop (bool): Also embed the attention-dropped features. Defaults to False.

        Returns:
            torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ``(N, D)`` (or two).

        """
        return self.embed_views([(view_name, drop)], inputs, num)[0]

    @torch.no_grad()
    def embed_key(self, view_name: str, inputs: BatchInputs, num: int) -> torch.Tensor:
        """L2-normalised key-encoder embeddings ``(N, D)`` of one view (no gradient)."""
        enc = self.encoder_k.module
        view = self._view(inputs, view_name)
        (pooled,) = self.pooled_features(enc['backbone'], [(view_name, view, False)], num)
        return F.normalize(enc['neck'](pooled), dim=1)

    @staticmethod
    def _view(inputs: BatchInputs, view_name: str) -> ViewInputs:
        if view_name not in inputs:
            raise KeyError(
                f"the batch has no view '{view_name}' (views: {sorted(inputs)}); check the "
                'data preprocessor / pipeline config'
            )
        return inputs[view_name]

    def batch_size(
        self, inputs: BatchInputs, data_samples: Sequence[ActionDataSample] | None
    ) -> int:
        """``N``: the number of data samples, or the rows of the key view without them."""
        if data_samples is not None:
            return len(data_samples)
        return sum(group_sizes(self._view(inputs, self.key_view), self.key_view).values())

    def clip_ids(
        self, data_samples: Sequence[ActionDataSample] | None, device: torch.device
    ) -> torch.Tensor | None:
        """The clips' ``sample_idx`` as ``(N,)`` int64 on ``device``; None unless needed.

        Only ``exclude_own_keys`` needs them. Raises a ValueError naming the sample when
        a data sample lacks ``sample_idx``.
        """
        if not self.exclude_own_keys:
            return None
        if data_samples is None:
            raise ValueError(
                f'{type(self).__name__}(exclude_own_keys=True) needs the data samples (their '
                "'sample_idx'); the batch came without them"
            )
        # a SampleList gives the metainfo without building the samples
        metas = getattr(data_samples, 'metainfo', None)
        if not isinstance(metas, list):
            metas = [getattr(sample, 'metainfo', {}) for sample in data_samples]
        ids = []
        for row, meta in enumerate(metas):
            if 'sample_idx' not in meta:
                raise ValueError(
                    f"data sample {row} ({meta.get('frame_dir', '?')!r}) has no 'sample_idx' "
                    f'in its metainfo; {type(self).__name__}(exclude_own_keys=True) needs it '
                    "(PackMultiSkeletonInputs keeps it when 'sample_idx' is in its meta_keys)"
                )
            ids.append(int(meta['sample_idx']))
        return copy_to_device(torch.tensor(ids, dtype=torch.long), device)

    def own_keys(self, ids: torch.Tensor | None) -> torch.Tensor | None:
        """``(N, K)`` bool mask of the queue entries of each clip's own earlier keys, or None."""
        return None if ids is None else self.queue.own_mask(ids)

    @staticmethod
    def similarities(
        q: torch.Tensor,
        k: torch.Tensor,
        negatives: torch.Tensor,
        exclude: torch.Tensor | None = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Cosine similarities of queries with their key and with the queue.

        Args:
            q (torch.Tensor): Queries ``(N, D)``, normalised.
            k (torch.Tensor): Keys ``(N, D)``, normalised.
            negatives (torch.Tensor): Queue ``(D, K)``.
            exclude (torch.Tensor, optional): ``(N, K)`` bool; those entries get
                :data:`EXCLUDED_SIMILARITY` (no weight in a softmax). Defaults to None.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: ``pos (N, 1)`` and ``neg (N, K)``, float32.

        """
        # float32 even under autocast: bf16 logits (|logit| up to 1 / temperature) would
        # round by ~0.05 and reorder the mined neighbours
        with torch.autocast(device_type=q.device.type, enabled=False):
            q = q.float()
            pos = (q * k.float()).sum(dim=1, keepdim=True)
            neg = q @ negatives.float()
        if exclude is not None:
            neg = neg.masked_fill(exclude, EXCLUDED_SIMILARITY)
        return pos, neg

    @staticmethod
    def similarity_logs(
        pos: torch.Tensor, neg: torch.Tensor, exclude: torch.Tensor | None = None
    ) -> Dict[str, torch.Tensor]:
        """Logged scalars of one branch (detached, no host synchronisation).

        Args:
            pos (torch.Tensor): ``(N, 1)`` similarities to the keys.
            neg (torch.Tensor): ``(N, K)`` similarities to the queue.
            exclude (torch.Tensor, optional): ``(N, K)`` bool, entries left out of
                ``neg_sim``. Defaults to None.

        Returns:
            dict[str, torch.Tensor]: ``pos_sim`` (mean positive cosine), ``neg_sim`` (mean
            cosine to the counted queue entries) and ``nce_acc`` (fraction of queries whose
            key beats every counted queue entry: whether instances are told apart).

        """
        pos, neg = pos.detach(), neg.detach()
        if exclude is None:
            neg_sim = neg.mean()
        else:
            kept = ~exclude
            neg_sim = neg.masked_fill(exclude, 0.0).sum() / kept.sum().clamp(min=1)
        nce_acc = (pos[:, 0] > neg.max(dim=1).values).float().mean()
        return dict(pos_sim=pos.mean(), neg_sim=neg_sim, nce_acc=nce_acc)

    # ------------------------------------------------------------------ mmengine API
    def loss(
        self, inputs: BatchInputs, data_samples: Sequence[ActionDataSample] | None = None
    ) -> Dict[str, torch.Tensor]:
        """Losses of one step (keys with ``loss`` are summed by mmengine).

        Args:
            inputs (Mapping): The batch contract's inputs after the data preprocessor.
            data_samples (Sequence[ActionDataSample], optional): The batch's samples.

        Returns:
            dict[str, torch.Tensor]: Named losses and logged scalars.

        """
        raise NotImplementedError

    @torch.no_grad()
    def extract_feat(self, inputs: BatchInputs) -> Dict[str, Dict[str, Tuple[torch.Tensor, Any]]]:
        """Pooled query-backbone features of every (view, format) group.

        Args:
            inputs (Mapping): The batch contract's inputs. Keypoints may carry a clip axis
                ``(n, S, M, T, V, C)``; the ``S`` clip features are averaged.

        Returns:
            dict: ``{view: {fmt: (index (n,), features (n, C))}}``.

        """
        out: Dict[str, Dict[str, Tuple[torch.Tensor, Any]]] = {}
        for view_name, view in inputs.items():
            out[view_name] = {}
            for fmt, x, index in iter_groups(view, view_name):
                if x.dim() == 6:
                    n, s = x.shape[:2]
                    feat = global_pool(self.backbone(x.flatten(0, 1), fmt))
                    feat = feat.view(n, s, -1).mean(dim=1)
                elif x.dim() == 5:
                    feat = global_pool(self.backbone(x, fmt))
                else:
                    raise ValueError(
                        f"view '{view_name}', format '{fmt}': keypoints must be (n, M, T, V, "
                        f'C) or (n, S, M, T, V, C), got {tuple(x.shape)}'
                    )
                out[view_name][fmt] = (index, feat)
        return out

    @torch.no_grad()
    def predict(
        self, inputs: BatchInputs, data_samples: Sequence[ActionDataSample] | None = None
    ) -> List[ActionDataSample]:
        """Attach the pooled backbone feature of every format of a clip to its sample.

        Args:
            inputs (Mapping): The batch contract's inputs (in evaluation one view per
                format, named after it).
            data_samples (Sequence[ActionDataSample], optional): The batch's samples.

        Returns:
            list[ActionDataSample]: The samples, each with ``pred_feature`` =
            ``{fmt: Tensor (C,)}`` (float32, on the model's device) for the formats the
            clip has.

        """
        feats = self.extract_feat(inputs)
        if data_samples is None:
            num = max(int(i.max()) + 1 for v in feats.values() for i, _ in v.values())
            data_samples = [ActionDataSample() for _ in range(num)]
        groups = (
            (view, fmt, index, feat)
            for view, by_fmt in feats.items()
            for fmt, (index, feat) in by_fmt.items()
        )
        return attach_pred_features(groups, data_samples, type(self).__name__)

    def forward(
        self,
        inputs: BatchInputs,
        data_samples: Sequence[ActionDataSample] | None = None,
        mode: str = 'tensor',
    ) -> Union[Dict[str, torch.Tensor], List[ActionDataSample], Dict[str, Any]]:
        """Dispatch as every mmengine model.

        Args:
            inputs (Mapping): The batch contract's inputs.
            data_samples (Sequence[ActionDataSample], optional): The samples.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'`` (:meth:`extract_feat`).
                Defaults to ``'tensor'``.

        Returns:
            dict | list[ActionDataSample]: Losses, samples or features.

        """
        if mode == 'loss':
            self.begin_step()
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(f"invalid mode '{mode}': expected 'loss', 'predict' or 'tensor'")
