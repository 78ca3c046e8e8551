"""Contrastive algorithms (SkeletonCLR, AimCLR, SkeleMixCLR, multi-format) and their parts."""

from .aimclr import AimCLR
from .base_moco import BaseMoCo
from .momentum_encoder import MomentumEncoder
from .multi_format import iter_groups, scatter_rows
from .multi_skeleton_recognizer import MultiSkeletonRecognizer
from .negative_queue import NegativeQueue
from .skelemix import mask_pool, skelemix, skelemix_mask, upsample_mask
from .skelemixclr import SkeleMixCLR
from .skeletonclr import SkeletonCLR
from .step_graph import StepGraph, materialise_optimizer_state

__all__ = [
    'AimCLR',
    'BaseMoCo',
    'MomentumEncoder',
    'MultiSkeletonRecognizer',
    'NegativeQueue',
    'SkeleMixCLR',
    'SkeletonCLR',
    'StepGraph',
    'materialise_optimizer_state',
    'iter_groups',
    'mask_pool',
    'scatter_rows',
    'skelemix',
    'skelemix_mask',
    'upsample_mask',
]
