"""Contrastive heads and losses (InfoNCE, AimCLR's DDM)."""

from .contrastive_head import ContrastiveHead
from .ddm_loss import ddm_loss

__all__ = ['ContrastiveHead', 'ddm_loss']
