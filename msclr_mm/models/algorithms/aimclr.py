"""AimCLR: extreme augmentations, attention drop, DDM loss, nearest-neighbour mining."""

from __future__ import annotations

from typing import Dict, Sequence

import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.logging import MessageHub

from ..heads import ddm_loss
from .base_moco import BaseMoCo, BatchInputs


@MODELS.register_module()
class AimCLR(BaseMoCo):
    """AimCLR (Guo et al., AAAI 2022) and, with cross-format views, MS-AimCLR.

    Which view goes through which branch (as the reference ``net/aimclr.py``):

    * ``query`` (normal augmentation): query encoder -> ``q``;
    * ``query_extreme`` (extreme augmentation, made by the data preprocessor): query
      encoder with the energy-based attention drop -> ``q_e`` (plain) and ``q_ed``
      (dropped features);
    * ``key``: momentum encoder -> ``k`` (enqueued after the step).

    Losses (reference weights ``loss1 + (loss2 + loss3) / 2``):

    * ``loss_nce``: InfoNCE of ``q`` over ``[k, queue]``; with mining, the top-``topk``
      queue entries most similar to ``q``, ``q_e`` and ``q_ed`` (their union) are
      positives too (multi-positive loss, :class:`ContrastiveHead`);
    * ``loss_ddm_extreme`` / ``loss_ddm_drop``: ``ddm_weight`` times the DDM loss
      (:func:`ddm_loss`) of ``q_e`` / ``q_ed``'s distribution over ``[k, queue]``
      against ``q``'s (detached). Both use the head's temperature.

    Logged: ``pos_sim`` / ``neg_sim`` / ``nce_acc`` of ``q`` (see
    :meth:`BaseMoCo.similarity_logs`), and ``mining`` (1.0 while mining).

    Mining starts after ``mining_epoch`` plain epochs: it is on when the current 0-based
    epoch ``>= mining_epoch``, i.e. the reference's 1-based ``epoch > mining_epoch`` rule,
    so the same number gives the same schedule. The epoch is read from mmengine's ``MessageHub``
    (``get_info('epoch')``), which the default ``RuntimeInfoHook`` updates before every
    training epoch; no extra hook is needed. Outside a runner (or with an iteration-based
    loop) the epoch is 0 and mining stays off.

    Args:
        extreme_view (str): View with the extreme augmentation. Defaults to
            ``'query_extreme'``.
        mining_epoch (int): Plain epochs before mining; the first mining epoch is this
            0-based epoch (the last one without mining is ``mining_epoch - 1``). Defaults
            to 150.
        topk (int): Neighbours mined per branch. Defaults to 1.
        ddm_weight (float): Weight of each DDM term. Defaults to 0.5.
        **kwargs: See :class:`BaseMoCo`.

    """

    def __init__(
        self,
        *args,
        extreme_view: str = 'query_extreme',
        mining_epoch: int = 150,
        topk: int = 1,
        ddm_weight: float = 0.5,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        if topk < 1:
            raise ValueError(f'topk must be >= 1, got {topk}')
        self.extreme_view = extreme_view
        self.mining_epoch = mining_epoch
        self.topk = topk
        self.ddm_weight = ddm_weight

    @property
    def current_epoch(self) -> int:
        """int: The runner's 0-based epoch from ``MessageHub`` (0 without a runner)."""
        return int(MessageHub.get_current_instance().get_info('epoch', 0) or 0)

    def graph_key(self) -> tuple:
        """A captured step bakes in whether mining is on (see :meth:`BaseMoCo.graph_key`)."""
        return (self.mining_active(),)

    def mining_active(self) -> bool:
        """bool: Whether nearest-neighbour mining is on in the current epoch.

        From the 0-based epoch ``mining_epoch`` on, as the reference: its processor trains
        1-based epochs and mines when ``epoch > mining_epoch``, so ``mining_epoch=150``
        gives 150 plain epochs, then mining.
        """
        return self.current_epoch >= self.mining_epoch

    def neighbour_mask(self, *negs: torch.Tensor) -> torch.Tensor:
        """Positive mask over ``[key, queue]`` extended with mined neighbours.

        Args:
            *negs (torch.Tensor): Queue similarities ``(N, K)`` of each branch.

        Returns:
            torch.Tensor: ``(N, 1 + K)`` float mask: column 0 and, per branch, the columns
            of its ``topk`` most similar queue entries.

        """
        mask = torch.zeros_like(negs[0], dtype=torch.float32)
        for neg in negs:
            mask.scatter_(1, neg.detach().topk(self.topk, dim=1).indices, 1.0)
        return torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)

    def loss(
        self, inputs: BatchInputs, data_samples: Sequence[ActionDataSample] | None = None
    ) -> Dict[str, torch.Tensor]:
        """AimCLR losses; see the class docstring and :meth:`BaseMoCo.loss`."""
        num = self.batch_size(inputs, data_samples)
        q, (q_e, q_ed) = self.embed_views(
            [(self.query_view, False), (self.extreme_view, True)], inputs, num
        )
        self.update_key_encoder()
        k = self.embed_key(self.key_view, inputs, num)
        ids = self.clip_ids(data_samples, k.device)
        own = self.own_keys(ids)
        negatives = self.queue.negatives()
        pos, neg = self.similarities(q, k, negatives, own)
        pos_e, neg_e = self.similarities(q_e, k, negatives, own)
        pos_ed, neg_ed = self.similarities(q_ed, k, negatives, own)
        mining = self.mining_active()
        mask = self.neighbour_mask(neg, neg_e, neg_ed) if mining else None
        logits = self.head.logits(pos, neg)
        losses = dict(
            loss_nce=self.head.loss(pos, neg, mask),
            loss_ddm_extreme=self.ddm_weight * ddm_loss(logits, self.head.logits(pos_e, neg_e)),
            loss_ddm_drop=self.ddm_weight * ddm_loss(logits, self.head.logits(pos_ed, neg_ed)),
        )
        self.queue.enqueue(k, ids)
        losses.update(self.similarity_logs(pos, neg, own))
        # a fill, not torch.tensor(..., device=): that copies from pageable host memory
        losses.update(mining=q.new_full((), float(mining), dtype=torch.float32))
        return losses
