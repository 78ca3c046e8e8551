"""Models: contrastive algorithms, the unified ST-GCN backbone, preprocessors, necks, heads."""

from . import algorithms, heads, necks  # noqa: F401
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
