"""Runtime pieces for MMEngine's Runner: hooks and optimiser wrappers."""

from .hooks import *  # noqa: F401,F403
from .optim_wrappers import *  # noqa: F401,F403
