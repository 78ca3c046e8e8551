"""Save and restore the random number generators with each checkpoint."""

from __future__ import annotations

import random

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Put the RNG states in every checkpoint and restore them on resume.

    mmengine reseeds the generators when a run starts, so a resumed run would replay the
    random stream of epoch 1 from the resume point on: augmentations, frame sampling and
    dropout would differ from the uninterrupted run. With this hook (on by default in
    ``configs/_base_/default_runtime.py``) a deterministic run resumed from a checkpoint
    finishes with the same weights as one that was never interrupted.

    Validation is also kept out of the training stream: the states are set aside before
    each validation epoch and put back after it. Otherwise validation, which runs after the
    checkpoint is written, would advance the generators (a DataLoader iterator draws a seed;
    mmaction2's test-mode ``UniformSampleFrames`` even reseeds numpy's global generator),
    and a run resumed from that checkpoint would diverge from the uninterrupted one.

    Saved under ``checkpoint['rng_state']``: Python's ``random`` state, numpy's global
    state, torch's CPU state, where CUDA is initialised every CUDA device's state, and
    under ``modules`` the private generators of the model's submodules that have
    ``get_rng_state()`` / ``set_rng_state(state)`` methods (e.g.
    ``SkeletonDataPreprocessor``'s augmentation generator), keyed by module name. All are
    tensors, ints, strings and numpy arrays, so the safe (weights-only) loader reads them.
    DataLoader workers are reseeded by mmengine from the run's seed each time they start
    (every epoch unless ``persistent_workers=True``); their states are not saved.

    Args:
        strict (bool): Raise when resuming from a checkpoint without RNG states instead of
            logging a warning. Defaults to False.
    """

    priority = 'VERY_LOW'

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self._training_state: dict | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record the generators' states in ``checkpoint['rng_state']``."""
        state = get_rng_state()
        modules = {name: m.get_rng_state() for name, m in _rng_modules(runner)}
        if modules:
            state['modules'] = modules
        checkpoint['rng_state'] = state

    def before_val_epoch(self, runner) -> None:
        """Set the training stream aside while validation runs."""
        self._training_state = get_rng_state()

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Put the training stream back as it was before validation."""
        if self._training_state is not None:
            set_rng_state(self._training_state)
            self._training_state = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the generators when the runner resumes from ``checkpoint``."""
        if not runner._resume:  # load_from (weights only) keeps this run's own stream
            return
        state = checkpoint.get('rng_state')
        if state is None:
            message = (
                'checkpoint has no rng_state: the resumed run will not replay the same '
                'random stream'
            )
            if self.strict:
                raise KeyError(message)
            runner.logger.warning(message)
            return
        set_rng_state(state)
        saved = state.get('modules', {})
        for name, module in _rng_modules(runner):
            if name in saved:
                module.set_rng_state(saved[name])
            else:
                runner.logger.warning(
                    f'checkpoint has no rng_state for module {name!r}: its random stream '
                    'restarts from its seed'
                )


def _rng_modules(runner):
    """``(name, module)`` of the model's submodules that own a generator (duck-typed)."""
    model = getattr(runner, 'model', None)
    if model is None:
        return []
    if is_model_wrapper(model):
        model = model.module
    return [
        (name, m)
        for name, m in model.named_modules()
        if callable(getattr(m, 'get_rng_state', None))
        and callable(getattr(m, 'set_rng_state', None))
    ]


def get_rng_state() -> dict:
    """Return the states of Python's, numpy's, torch's (and CUDA's) global generators.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and, once CUDA is initialised, ``cuda``.
    """
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the generators from a dict made by :func:`get_rng_state`.

    Args:
        state (dict): As returned by :func:`get_rng_state` (possibly through a checkpoint).
    """
    random.setstate(_as_python_state(state['python']))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def _as_python_state(state):
    """``random.setstate`` needs tuples; a pickled state may come back with lists."""
    version, internal, gauss = state
    return version, tuple(internal), gauss
