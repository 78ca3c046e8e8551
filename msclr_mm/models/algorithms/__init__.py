from .base_moco import BaseMoCo
from .momentum_encoder import MomentumEncoder
from .multi_format import iter_groups, scatter_rows
from .negative_queue import NegativeQueue
from .skeletonclr import SkeletonCLR

__all__ = [
    'BaseMoCo',
    'MomentumEncoder',
    'NegativeQueue',
    'SkeletonCLR',
    'iter_groups',
    'scatter_rows',
]
