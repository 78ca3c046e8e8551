"""SkeletonCLR: MoCo v2 on two augmented views of a skeleton clip (and MS-SkeletonCLR)."""

from __future__ import annotations

from typing import Dict, Sequence

import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from .base_moco import BaseMoCo, BatchInputs


@MODELS.register_module()
class SkeletonCLR(BaseMoCo):
    """SkeletonCLR (Li et al., CVPR 2021): plain MoCo v2 between the query and key views.

    Losses per step: ``loss_nce``, InfoNCE of the query against its key and the queue.
    Logged: ``pos_sim`` and ``neg_sim``, the mean cosine similarity of the queries with
    their keys and with the queue, and ``nce_acc``, the fraction of queries whose key is
    closer than every queued negative (:meth:`BaseMoCo.similarity_logs`). When the query
    and key of a clip come from different skeleton formats (set by the data pipeline),
    this is MS-SkeletonCLR.

    Args:
        **kwargs: See :class:`BaseMoCo`.

    """

    def loss(
        self, inputs: BatchInputs, data_samples: Sequence[ActionDataSample] | None = None
    ) -> Dict[str, torch.Tensor]:
        """InfoNCE on ``(query, key)``; see :meth:`BaseMoCo.loss`."""
        num = self.batch_size(inputs, data_samples)
        q = self.embed(self.query_view, inputs, num)
        self.update_key_encoder()
        k = self.embed_key(self.key_view, inputs, num)
        ids = self.clip_ids(data_samples, k.device)
        own = self.own_keys(ids)
        pos, neg = self.similarities(q, k, self.queue.negatives(), own)
        losses = dict(loss_nce=self.head.loss(pos, neg))
        self.queue.enqueue(k, ids)
        losses.update(self.similarity_logs(pos, neg, own))
        return losses
