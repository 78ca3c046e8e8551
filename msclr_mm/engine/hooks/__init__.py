"""Hooks: deferred logging of scalars (no host sync per step) and RNG state in checkpoints."""

from .deferred_runtime_info_hook import DeferredRuntimeInfoHook
from .rng_state_hook import RNGStateHook

__all__ = ['DeferredRuntimeInfoHook', 'RNGStateHook']
