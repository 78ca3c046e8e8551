"""AimCLR's distributional divergence minimisation (DDM) loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ddm_loss(target_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a view's similarity distribution against a target distribution.

    AimCLR: the normally augmented query's distribution over ``[positive, queue]``,
    ``p = softmax(target_logits)`` (detached), supervises the extreme and the dropped
    extreme views: ``-mean_i sum_j p_ij log softmax(logits_i)_j``. This is
    ``KL(p || softmax(logits))`` plus the entropy of ``p``, which has no gradient, so it
    minimises the divergence.

    Args:
        target_logits (torch.Tensor): Temperature-scaled logits of the normal view
            ``(N, 1 + K)``; detached here.
        logits (torch.Tensor): Temperature-scaled logits of the other view ``(N, 1 + K)``.

    Returns:
        torch.Tensor: Scalar loss.

    """
    if target_logits.shape != logits.shape:
        raise ValueError(
            f'DDM target {tuple(target_logits.shape)} and logits {tuple(logits.shape)} differ'
        )
    target = F.softmax(target_logits.detach().float(), dim=1)
    return -(target * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()
