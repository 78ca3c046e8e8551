from .attention_drop import EnergyAttentionDrop
from .unified_stgcn import FormatStem, STGCNBlock, UnifiedSTGCN

__all__ = ['EnergyAttentionDrop', 'FormatStem', 'STGCNBlock', 'UnifiedSTGCN']
