"""InfoNCE head of the MoCo family, with an optional multi-positive mask."""

from __future__ import annotations

from typing import Dict, List, Union

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import BaseModule


@MODELS.register_module()
class ContrastiveHead(BaseModule):
    """InfoNCE loss over ``[positive, negatives]`` similarities.

    ``loss(logits)`` is the cross-entropy with the positive in column 0 (MoCo). With a
    ``pos_mask`` marking several positives per row (AimCLR's nearest-neighbour mining), it is
    ``-sum_j mask_ij log softmax(logits_i)_j / sum_j mask_ij`` averaged over rows, which
    equals the plain loss when only column 0 is marked.

    Args:
        temperature (float): Softmax temperature. Defaults to 0.07 (MoCo v2 / SkeletonCLR).
        loss_weight (float): Multiplier of the returned loss. Defaults to 1.0.
        init_cfg (dict | list[dict], optional): Unused (no parameters). Defaults to None.

    """

    def __init__(
        self,
        temperature: float = 0.07,
        loss_weight: float = 1.0,
        init_cfg: Union[Dict, List[Dict]] | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def logits(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """Concatenate and scale similarities.

        Args:
            pos (torch.Tensor): Positive similarities ``(N, P)`` (MoCo: ``P = 1``).
            neg (torch.Tensor): Negative similarities ``(N, K)``.

        Returns:
            torch.Tensor: ``cat([pos, neg], 1) / temperature``, ``(N, P + K)``.

        """
        return torch.cat([pos, neg], dim=1) / self.temperature

    def loss(
        self, pos: torch.Tensor, neg: torch.Tensor, pos_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """InfoNCE loss.

        Args:
            pos (torch.Tensor): Positive similarities ``(N, 1)``.
            neg (torch.Tensor): Negative similarities ``(N, K)``.
            pos_mask (torch.Tensor, optional): ``(N, 1 + K)``, 1 where a column counts as a
                positive (column 0 must be 1). Defaults to None (column 0 only).

        Returns:
            torch.Tensor: Scalar loss, times ``loss_weight``.

        """
        logits = self.logits(pos, neg)
        if pos_mask is None:
            target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
            loss = F.cross_entropy(logits, target)
        else:
            if pos_mask.shape != logits.shape:
                raise ValueError(
                    f'pos_mask has shape {tuple(pos_mask.shape)}, logits {tuple(logits.shape)}'
                )
            mask = pos_mask.to(logits.dtype)
            log_prob = F.log_softmax(logits, dim=1)
            loss = (-(log_prob * mask).sum(1) / mask.sum(1)).mean()
        return self.loss_weight * loss
