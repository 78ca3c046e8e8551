"""Runtime pieces for MMEngine's Runner: hooks."""

from .hooks import *  # noqa: F401,F403
