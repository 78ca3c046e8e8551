"""Necks: pooling and the contrastive projection MLP."""

from .projection_neck import ProjectionNeck, global_pool

__all__ = ['ProjectionNeck', 'global_pool']
