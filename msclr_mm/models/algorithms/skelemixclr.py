"""SkeleMixCLR: contrast mixed skeletons part by part (and MS-SkeleMixCLR)."""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from msclr_mm.skeletons import get_format

from .base_moco import BaseMoCo, BatchInputs
from .multi_format import iter_groups
from .skelemix import mask_pool, skelemix, skelemix_mask, upsample_mask


@MODELS.register_module()
class SkeleMixCLR(BaseMoCo):
    """SkeleMixCLR (Chen et al., 2022), as the reference ``skeletonclr_multi_swapv2``.

    Besides SkeletonCLR's ``query``/``key`` InfoNCE (``loss_nce``), the ``query`` view is
    mixed: in every (view, format) group, each clip gets ``k`` body parts (2-3 of the
    format's 5 ``parts``) over a span of feature frames pasted from a partner clip of the
    same group (``partner = (i + s) % n``, one random shift ``s`` in ``[1, n - 1]``, one
    region per group as the reference draws one per batch). The mixed clip goes through the
    query backbone once; spatio-temporal mask pooling at feature level (the region drawn at
    the backbone's output resolution ``T' = ceil(T / temporal_stride)``, pasted at input
    frames ``t`` with ``t // temporal_stride`` inside it) separates

    * the trimmed part (pasted region): positive = the partner's key, negatives = queue +
      this mixed clip's truncated part (detached) -> ``loss_trimmed``;
    * the truncated part (own remainder): positive = the clip's own key, negatives = queue
      + the trimmed part (detached) -> ``loss_truncated``;

    each weighted ``mix_weight`` (reference 0.5 + 0.5). With ``num_mixes > 1`` the query
    view is mixed that many times, each with its own draw and its own pass through the
    query backbone, and the mixing losses are summed over the mixes (the reference's
    ``repeat`` in ``swap_params``: 3 in its SkeleMixCLR+ config). Mixing across formats is
    impossible (different joints), hence per format group; a group of one clip cannot mix
    and its clip only contributes ``loss_nce``. Keys come from the key view in batch order,
    so with cross-format views this is MS-SkeleMixCLR. SkeleMixCLR+ is
    ``neck=dict(type='ProjectionNeck', with_bn=True)``, ``head`` temperature 0.2, 64 frames,
    ``num_mixes=3`` and no learning-rate decay (the reference's ``step: [300]``).

    Args:
        num_parts (tuple[int, int]): Range of mixed body parts. Defaults to ``(2, 3)``.
        temporal_span (tuple[int, int]): Range of mixed feature frames. Defaults to
            ``(7, 11)`` (of 16 with 64 input frames).
        temporal_stride (int, optional): Total temporal stride of the backbone. Defaults to
            None: the product of the strides of ``backbone.blocks`` (``UnifiedSTGCN``).
        mix_weight (float): Weight of each of the two mixing losses. Defaults to 0.5.
        num_mixes (int): Independent mixes of the query view per step, their losses
            summed. Defaults to 1.
        **kwargs: See :class:`BaseMoCo`.

    """

    def __init__(
        self,
        *args,
        num_parts: Tuple[int, int] = (2, 3),
        temporal_span: Tuple[int, int] = (7, 11),
        temporal_stride: int | None = None,
        mix_weight: float = 0.5,
        num_mixes: int = 1,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        if temporal_stride is None:
            blocks = getattr(self.backbone, 'blocks', None)
            if blocks is None:
                raise ValueError(
                    'SkeleMixCLR cannot infer the temporal stride of this backbone: set '
                    'temporal_stride='
                )
            temporal_stride = math.prod(int(b.tcn_conv.stride[0]) for b in blocks)
        if not 1 <= num_parts[0] <= num_parts[1]:
            raise ValueError(f'num_parts must be (lo, hi) with 1 <= lo <= hi, got {num_parts}')
        if not 1 <= temporal_span[0] <= temporal_span[1]:
            raise ValueError(f'temporal_span must be (lo, hi), 1 <= lo <= hi, got {temporal_span}')
        self.num_parts = tuple(num_parts)
        self.temporal_span = tuple(temporal_span)
        self.temporal_stride = int(temporal_stride)
        self.mix_weight = mix_weight
        if num_mixes < 1:
            raise ValueError(f'num_mixes must be >= 1, got {num_mixes}')
        self.num_mixes = int(num_mixes)

    def _format(self, fmt: str):
        formats = getattr(self.backbone, 'formats', {})
        return formats[fmt] if fmt in formats else get_format(fmt)

    def sample_mix(
        self, fmt: str, n: int, frames: int, device: torch.device | None = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Draw one group's partners and pasted region, on ``device``.

        The partner shift ``s`` is uniform in ``[1, n - 1]`` and the region is
        :func:`skelemix_mask`'s; all drawn with the device's default generator and built
        there (no host reads, no host-to-device copies: a captured step redraws them on
        every replay).

        Args:
            fmt (str): Format of the group.
            n (int): Clips in the group (>= 2).
            frames (int): Input frames ``T``.
            device (torch.device, optional): Where to draw and build the tensors.
                Defaults to None (the CPU).

        Returns:
            tuple[torch.Tensor, torch.Tensor]: ``partner (n,)`` long and the bool mask
            ``(T', V)`` at feature resolution, on ``device``.

        """
        f = self._format(fmt)
        shift = torch.randint(1, n, (1,), device=device)
        partner = (torch.arange(n, device=device) + shift) % n
        feat_frames = -(-frames // self.temporal_stride)
        mask = skelemix_mask(
            f.parts, f.num_joints, feat_frames, self.num_parts, self.temporal_span, device=device
        )
        return partner, mask

    def mixed_features(
        self, inputs: BatchInputs
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """Mix every group of the query view and mask-pool its query-backbone features.

        Args:
            inputs (Mapping): The batch contract's inputs.

        Returns:
            tuple | None: ``(trimmed (R, C), truncated (R, C), index (R,), partner_index
            (R,))`` with batch positions of each row and of its partner, or None when no
            group has two clips.

        """
        trimmed: List[torch.Tensor] = []
        truncated: List[torch.Tensor] = []
        rows: List[torch.Tensor] = []
        partners: List[torch.Tensor] = []
        view = self._view(inputs, self.query_view)
        for fmt, x, index in iter_groups(view, self.query_view):
            n, frames = x.shape[0], x.shape[2]
            if n < 2:
                continue
            partner, mask = self.sample_mix(fmt, n, frames, device=x.device)
            mask_in = upsample_mask(mask, frames, self.temporal_stride)
            feat = self.backbone(skelemix(x, mask_in, partner), fmt)
            if feat.shape[-2] != mask.shape[0]:
                raise ValueError(
                    f"format '{fmt}': the backbone gives T'={feat.shape[-2]} frames for T="
                    f'{frames}, expected {mask.shape[0]} with temporal_stride='
                    f'{self.temporal_stride}; set temporal_stride'
                )
            p, c = mask_pool(feat, mask.to(feat.device))
            trimmed.append(p)
            truncated.append(c)
            rows.append(index)
            partners.append(index[partner.to(index.device)])
        if not rows:
            return None
        return torch.cat(trimmed), torch.cat(truncated), torch.cat(rows), torch.cat(partners)

    def loss(
        self, inputs: BatchInputs, data_samples: Sequence[ActionDataSample] | None = None
    ) -> Dict[str, torch.Tensor]:
        """SkeleMixCLR losses; see the class docstring and :meth:`BaseMoCo.loss`."""
        num = self.batch_size(inputs, data_samples)
        q = self.embed(self.query_view, inputs, num)
        mixes = [self.mixed_features(inputs) for _ in range(self.num_mixes)]
        self.update_key_encoder()
        k = self.embed_key(self.key_view, inputs, num)
        ids = self.clip_ids(data_samples, k.device)
        own = self.own_keys(ids)
        negatives = self.queue.negatives()
        pos, neg = self.similarities(q, k, negatives, own)
        losses = dict(loss_nce=self.head.loss(pos, neg))
        terms: Dict[str, List[torch.Tensor]] = dict(loss_trimmed=[], loss_truncated=[])
        for mixed in mixes:
            if mixed is None:
                continue
            trimmed, truncated, rows, partners = mixed
            p = F.normalize(self.neck(trimmed), dim=1)
            c = F.normalize(self.neck(truncated), dim=1)
            partners, rows = partners.to(k.device), rows.to(k.device)
            k_p, k_c = k[partners], k[rows]
            own_p = None if ids is None else self.own_keys(ids[partners])
            own_c = None if ids is None else self.own_keys(ids[rows])
            pos_p, neg_p = self.similarities(p, k_p, negatives, own_p)
            pos_c, neg_c = self.similarities(c, k_c, negatives, own_c)
            neg_p = torch.cat([neg_p, (p * c.detach()).sum(1, keepdim=True)], dim=1)
            neg_c = torch.cat([neg_c, (c * p.detach()).sum(1, keepdim=True)], dim=1)
            terms['loss_trimmed'].append(self.mix_weight * self.head.loss(pos_p, neg_p))
            terms['loss_truncated'].append(self.mix_weight * self.head.loss(pos_c, neg_c))
        for name, values in terms.items():
            total = q.sum() * 0.0 if not values else values[0]
            for value in values[1:]:
                total = total + value
            losses[name] = total
        self.queue.enqueue(k, ids)
        losses.update(self.similarity_logs(pos, neg, own))
        return losses
