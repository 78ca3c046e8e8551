"""Save and restore every rank's random number generators with each checkpoint."""

from __future__ import annotations

import hashlib
import random
from typing import Any, Dict, List, Tuple

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Put every rank's RNG states in each checkpoint and restore them on resume.

    mmengine reseeds the generators when a run starts, so a resumed run would replay the
    random stream of epoch 1 from the resume point on: augmentations, frame sampling and
    dropout would differ from the uninterrupted run. With this hook (on by default in
    ``configs/_base_/default_runtime.py``) a deterministic run resumed from a checkpoint
    finishes with the same weights as one that was never interrupted.

    Restoring happens in two steps: ``after_load_checkpoint`` picks this rank's states and
    applies them, and ``before_train`` applies them again. The second step is the one that
    counts in a run: ``Runner.resume`` loads the checkpoint first and only then, when the
    checkpoint's seed differs from the run's (always so with ``randomness.seed=None``, the
    pretraining configs' default), reseeds Python, numpy, torch and CUDA with the
    checkpoint's seed, which would throw the restored states away.

    Distributed runs: mmengine writes checkpoints from rank 0 only, yet each rank has its
    own streams (``SkeletonDataPreprocessor`` mixes the rank into its generator's seed).
    So the states of all ranks are gathered (``all_gather_object``, every rank takes part)
    at every epoch end, after every validation epoch (for the best checkpoint) and after
    every iteration where a ``CheckpointHook`` with ``by_epoch=False`` saves, before that
    hook writes the file; ``priority = 'LOW'`` puts this hook ahead of the
    ``CheckpointHook`` (``VERY_LOW``). On resume each rank restores its own entry. A
    checkpoint written with another number of processes, or one holding rank 0's states
    only (older checkpoints, or one saved where nothing was gathered), cannot be continued
    exactly: rank 0 restores rank 0's states, every other rank gets distinct streams
    derived deterministically from them and its rank (:func:`derive_rank_state`), and a
    warning says so.

    Validation is also kept out of the training stream: the states are set aside before
    each validation epoch and put back after it. Otherwise validation, which runs after the
    checkpoint is written, would advance the generators (a DataLoader iterator draws a seed;
    mmaction2's test-mode ``UniformSampleFrames`` even reseeds numpy's global generator),
    and a run resumed from that checkpoint would diverge from the uninterrupted one.

    Saved under ``checkpoint['rng_state']``: rank 0's states at the top level (Python's
    ``random`` state, numpy's global state, torch's CPU state, where CUDA is initialised
    every CUDA device's state, and under ``modules`` the private generators of the model's
    submodules that have ``get_rng_state()`` / ``set_rng_state(state)`` methods, keyed by
    module name, each a ``{device: torch.Generator state}`` dict like
    ``SkeletonDataPreprocessor``'s), ``world_size``, and in distributed runs
    ``other_ranks``: the same states of ranks 1, 2, ... in rank order. All are tensors,
    ints, strings and numpy arrays, so the safe (weights-only) loader reads them.
    DataLoader workers are reseeded by mmengine from the run's seed each time they start
    (every epoch unless ``persistent_workers=True``); their states are not saved.

    Args:
        strict (bool): Raise when resuming from a checkpoint without RNG states instead of
            logging a warning. Defaults to False.
    """

    priority = 'LOW'

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self._training_state: dict | None = None
        # this rank's states from the resumed checkpoint, applied again in before_train
        self._resumed: dict | None = None
        # ((epoch, iter) of the gathering, every rank's states in rank order)
        self._gathered: Tuple[Tuple[int, int], List[dict]] | None = None
        self._warned_rank0_only = False

    # ------------------------------------------------------------------ saving
    def after_train_iter(
        self, runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None
    ) -> None:
        """Gather every rank's states when a ``CheckpointHook`` saves after this iteration."""
        if get_world_size() > 1 and _checkpoint_after_iter(runner):
            self._gather(runner)

    def after_train_epoch(self, runner) -> None:
        """Gather every rank's states before the epoch's checkpoint is written."""
        if get_world_size() > 1:
            self._gather(runner)

    def _gather(self, runner) -> None:
        """All-gather this rank's states (a collective: every rank must call it)."""
        self._gathered = ((runner.epoch, runner.iter), all_gather_object(_local_state(runner)))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record the generators' states of every rank in ``checkpoint['rng_state']``.

        Runs on rank 0 only (``Runner.save_checkpoint`` is ``master_only``): its own states
        are read now, the other ranks' come from the gathering at this epoch or iteration.
        """
        state = _local_state(runner)
        world_size = get_world_size()
        state['world_size'] = world_size
        if world_size > 1:
            gathered = self._gathered
            if (
                gathered is not None
                and gathered[0] == (runner.epoch, runner.iter)
                and len(gathered[1]) == world_size
            ):
                state['other_ranks'] = gathered[1][1:]
            elif not self._warned_rank0_only:
                self._warned_rank0_only = True
                runner.logger.warning(
                    f'RNGStateHook: the checkpoint saved at epoch {runner.epoch}, iteration '
                    f'{runner.iter} holds the RNG states of rank 0 only (the other '
                    f'{world_size - 1} ranks are gathered at epoch ends, after validation '
                    'and before iteration checkpoints, ahead of the CheckpointHook); a run '
                    "resumed from it cannot continue the other ranks' random streams exactly"
                )
        checkpoint['rng_state'] = state

    # ------------------------------------------------------------------ validation
    def before_val_epoch(self, runner) -> None:
        """Set the training stream aside while validation runs."""
        self._training_state = get_rng_state()

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Put the training stream back as it was before validation; gather it for a save.

        The ``CheckpointHook`` may save the best checkpoint right after this.
        """
        if self._training_state is not None:
            set_rng_state(self._training_state)
            self._training_state = None
        if get_world_size() > 1:
            self._gather(runner)

    # ------------------------------------------------------------------ resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Pick this rank's states from ``checkpoint`` when resuming, and apply them.

        They are applied again in :meth:`before_train`, after ``Runner.resume`` may have
        reseeded the generators.
        """
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
        self._resumed = _state_of_this_rank(runner, state)
        _apply(runner, self._resumed, warn_missing=True)

    def before_train(self, runner) -> None:
        """Apply the resumed states, now that ``Runner.resume`` has finished reseeding."""
        if self._resumed is not None:
            _apply(runner, self._resumed, warn_missing=False)
            self._resumed = None


def _checkpoint_after_iter(runner) -> bool:
    """Whether a ``CheckpointHook`` of ``runner`` saves in this ``after_train_iter``."""
    return any(
        isinstance(hook, CheckpointHook)
        and not hook.by_epoch
        and (
            hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
            or (hook.save_last and hook.is_last_train_iter(runner))
        )
        for hook in getattr(runner, 'hooks', [])
    )


def _local_state(runner) -> dict:
    """This process's global generator states plus its modules' under ``modules``."""
    state = get_rng_state()
    modules = {name: m.get_rng_state() for name, m in _rng_modules(runner)}
    if modules:
        state['modules'] = modules
    return state


def _state_of_this_rank(runner, state: dict) -> dict:
    """This rank's entry of a checkpoint's ``rng_state``, derived when there is none."""
    own = {k: v for k, v in state.items() if k not in ('world_size', 'other_ranks')}
    ranks = [own, *state.get('other_ranks', [])]
    saved_world_size = int(state.get('world_size', len(ranks)))
    rank, world_size = get_rank(), get_world_size()
    if len(ranks) == saved_world_size == world_size:
        return ranks[rank]
    runner.logger.warning(
        f'RNGStateHook: the checkpoint holds the RNG states of {len(ranks)} rank(s), saved '
        f'by a run of {saved_world_size} process(es); this run has {world_size}, so its '
        "random streams cannot continue exactly: rank 0 continues rank 0's streams, the "
        'other ranks get distinct streams derived from them and their rank'
    )
    return ranks[0] if rank == 0 else derive_rank_state(ranks[0], rank)


def _apply(runner, state: dict, warn_missing: bool) -> None:
    """Set the global generators and the model's module generators from ``state``."""
    set_rng_state(state)
    saved = state.get('modules', {})
    for name, module in _rng_modules(runner):
        if name in saved:
            module.set_rng_state(saved[name])
        elif warn_missing:
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


def derive_rank_state(state: dict, rank: int) -> dict:
    """Generator states for ``rank``, derived from another rank's ``state``.

    For a resume that cannot continue every rank's own streams (another world size, or a
    checkpoint with rank 0's states only): each generator is seeded from a SHA-256 of
    ``state``'s torch and numpy states, the rank and the generator's name, so the result
    is the same on every resume and differs between ranks and between generators.

    Args:
        state (dict): As returned by :func:`get_rng_state`, with an optional ``modules``
            entry of ``{module name: {device: torch.Generator state}}``.
        rank (int): The rank the states are for.

    Returns:
        dict: The same keys as ``state`` (``cuda`` and CUDA devices of ``modules`` only
        where CUDA is available).
    """
    base = hashlib.sha256(
        _as_bytes(state['torch']) + np.ascontiguousarray(state['numpy'][1]).tobytes()
    )

    def seed(label: str) -> int:
        digest = base.copy()
        digest.update(f'{rank}/{label}'.encode())
        return int.from_bytes(digest.digest()[:8], 'little') & (2**63 - 1)

    derived: Dict[str, Any] = dict(
        python=random.Random(seed('python')).getstate(),
        numpy=np.random.RandomState(seed('numpy') % 2**32).get_state(),
        torch=_seeded_state('cpu', seed('torch')),
    )
    if 'cuda' in state and torch.cuda.is_available():
        count = min(len(state['cuda']), torch.cuda.device_count())
        derived['cuda'] = [_seeded_state(f'cuda:{i}', seed(f'cuda:{i}')) for i in range(count)]
    modules = {
        name: {
            device: _seeded_state(device, seed(f'{name}/{device}'))
            for device in states
            if torch.device(device).type == 'cpu' or torch.cuda.is_available()
        }
        for name, states in state.get('modules', {}).items()
    }
    if modules:
        derived['modules'] = modules
    return derived


def _seeded_state(device: str, seed: int) -> torch.Tensor:
    """The state of a fresh generator on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator.get_state()


def _as_bytes(tensor: torch.Tensor) -> bytes:
    """The raw bytes of a (CPU, uint8) generator state."""
    return tensor.detach().cpu().contiguous().numpy().tobytes()


def _as_python_state(state):
    """``random.setstate`` needs tuples; a pickled state may come back with lists."""
    version, internal, gauss = state
    return version, tuple(internal), gauss
