from . import algorithms  # noqa: F401, E402, I001
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
