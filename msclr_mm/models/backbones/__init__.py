"""Backbones: ``UnifiedSTGCN`` (one trunk, a stem per skeleton format) and its blocks."""

from .attention_drop import EnergyAttentionDrop
from .unified_stgcn import FormatStem, STGCNBlock, UnifiedSTGCN

__all__ = ['EnergyAttentionDrop', 'FormatStem', 'STGCNBlock', 'UnifiedSTGCN']
