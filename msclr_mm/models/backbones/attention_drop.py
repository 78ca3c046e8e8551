"""AimCLR's energy-based attention drop (spatial and temporal), applied to encoder features."""

from __future__ import annotations

import torch
import torch.nn as nn


class EnergyAttentionDrop(nn.Module):
    """Drop the most salient joints and positions of a feature map, as AimCLR's EADM.

    The saliency of every feature is the parameter-free energy attention of SimAM:
    ``a = sigmoid((x - mu)^2 / (4 * (var + e_lambda)) + 1/2)``, with ``mu`` and ``var`` taken
    over ``(T, V)`` per sample and channel. Two deterministic masks are then applied:

    * spatial: joints whose attention, averaged over channels and time, is ``>= keep_prob``
      are zeroed;
    * temporal: every ``(channel, frame, joint)`` entry whose attention is ``>= keep_prob``
      is zeroed.

    After each mask the kept features are rescaled by ``numel / kept`` so the feature mass
    stays comparable. AimCLR rescales by the ratio over the whole batch; we rescale per
    sample so that a clip's output does not depend on the other clips of the batch.

    Args:
        keep_prob (float): Attention threshold above which features are dropped.
            Defaults to 0.7 (AimCLR).
        e_lambda (float): Regulariser of the energy function. Defaults to 1e-4.

    """

    def __init__(self, keep_prob: float = 0.7, e_lambda: float = 1e-4) -> None:
        super().__init__()
        self.keep_prob = keep_prob
        self.e_lambda = e_lambda

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Energy attention of every feature.

        Args:
            x (torch.Tensor): Features ``(B, C, T, V)``.

        Returns:
            torch.Tensor: Attention in ``(0.62, 1)``, same shape as ``x``.

        """
        t, v = x.shape[-2:]
        d2 = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
        var = d2.sum(dim=(2, 3), keepdim=True) / max(t * v - 1, 1)
        return torch.sigmoid(d2 / (4 * (var + self.e_lambda)) + 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the spatial then the temporal drop.

        Args:
            x (torch.Tensor): Features ``(B, C, T, V)``.

        Returns:
            torch.Tensor: Dropped features, same shape.

        """
        att = self.attention(x)
        keep_s = (att.mean(dim=(1, 2)) < self.keep_prob).to(x.dtype)  # (B, V)
        keep_s = keep_s * (keep_s[0].numel() / keep_s.sum(dim=1, keepdim=True).clamp(min=1))
        x = x * keep_s[:, None, None, :]
        keep_t = (att < self.keep_prob).to(x.dtype)  # (B, C, T, V)
        per_sample = keep_t.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1)
        return x * keep_t * (keep_t[0].numel() / per_sample)
