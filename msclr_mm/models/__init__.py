from .backbones import *  # noqa: F401,F403
from . import algorithms, heads, necks  # noqa: F401, E402, I001
