from .deferred_runtime_info_hook import DeferredRuntimeInfoHook
from .rng_state_hook import RNGStateHook

__all__ = ['DeferredRuntimeInfoHook', 'RNGStateHook']
