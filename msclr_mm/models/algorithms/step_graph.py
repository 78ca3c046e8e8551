"""`StepGraph`: a whole training step captured once as a CUDA graph, then replayed."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import torch
from mmengine.logging import print_log

StepFn = Callable[[Dict[str, Any]], Dict[str, torch.Tensor]]


def _tensor_paths(obj: Any, prefix: Tuple = ()) -> Iterator[Tuple[Tuple, torch.Tensor]]:
    """``(path, tensor)`` for every tensor in nested dicts (sorted keys) and lists/tuples."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for key in sorted(obj):
            yield from _tensor_paths(obj[key], prefix + (key,))
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            yield from _tensor_paths(item, prefix + (i,))


def _to_device(obj: Any, device: torch.device) -> Any:
    """A copy of ``obj`` whose tensors are fresh device tensors (other leaves shared)."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, copy=True)
    if isinstance(obj, dict):
        return {key: _to_device(value, device) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)) and any(isinstance(o, (torch.Tensor, dict)) for o in obj):
        return type(obj)(_to_device(o, device) for o in obj)
    return obj


def materialise_optimizer_state(optimizer: torch.optim.Optimizer) -> List[str]:
    """Create the optimiser state a captured step would otherwise create inside the graph.

    SGD makes a parameter's momentum buffer at its first step with a gradient, as a copy
    of that gradient. If that first step is the captured one, every replay repeats the
    copy, so the parameter silently loses its momentum (a format whose stem got no
    gradient during the warm-up steps, e.g. with the ``'random'`` format rule). A zero
    buffer made beforehand gives the same first step (``0 * m + g``) with
    ``dampening=0``, and a momentum update from then on.

    Args:
        optimizer (torch.optim.Optimizer): The wrapped optimiser.

    Returns:
        list[str]: Why some parameters still lack state (empty when all is in place):
        SGD with ``dampening != 0``, or another optimiser's parameters without state.

    """
    problems: List[str] = []
    for i, group in enumerate(optimizer.param_groups):
        params = [p for p in group['params'] if p.requires_grad]
        missing = [p for p in params if not optimizer.state.get(p)]
        if isinstance(optimizer, torch.optim.SGD) and group.get('momentum', 0):
            if group.get('dampening', 0):
                if missing:
                    problems.append(f'group {i}: SGD dampening != 0 ({len(missing)} parameters)')
                continue
            for p in params:
                state = optimizer.state[p]
                if state.get('momentum_buffer') is None:
                    state['momentum_buffer'] = torch.zeros_like(
                        p, memory_format=torch.preserve_format
                    )
        elif missing and not isinstance(optimizer, torch.optim.SGD):
            problems.append(f'group {i}: {type(optimizer).__name__}, {len(missing)} parameters')
    return problems


class StepGraph:
    """Run a training step as one CUDA graph replay: the CPU launches one graph per step.

    The skeleton encoders are so small that an eager step is bound by the CPU launching
    its kernels (README § Speed); a replay launches them all at once. For each *signature*
    (the shapes and dtypes of the batch's tensors, and a key the model gives: learning
    rates, AimCLR's mining switch, ...) the step runs ``warmup`` times eagerly on a side
    stream (real training steps: lazy initialisation, optimiser state, compilation), is
    then captured once on a static copy of the batch, and from then on every batch of that
    signature is copied into that copy and the graph replayed. Graphs are kept per batch
    shape while the key stays (the ``'batch'`` format rule alternates ``F * F`` format
    pairs, each a graph with its own memory pool); a new key (the learning rate drops,
    mining starts) drops them and captures again. After ``max_captures`` captures it gives
    up and runs eagerly, with a warning. A signature that changes every step (a
    per-iteration learning-rate schedule) never gets past its warm-up: those steps run
    eagerly.

    What the step may not do (the captured kernels replay with the capture's arguments):
    read values on the host, build tensors from host data, draw random numbers on the host
    (every random number of our steps, SkeleMixCLR's mixing included, is drawn on the
    device), use a non-default CUDA generator unless torch can register it with
    the graph (``CUDAGraph.register_generator_state``), or communicate across processes.
    The returned tensors are the graph's static outputs, overwritten by the next replay:
    read or copy them before (mmengine's ``RuntimeInfoHook`` reads them at once,
    :class:`DeferredRuntimeInfoHook` copies them).

    Args:
        warmup (int): Eager steps before each capture. Defaults to 2.
        max_captures (int): Captures before falling back to eager steps. Defaults to 16.

    """

    def __init__(self, warmup: int = 2, max_captures: int = 16) -> None:
        if warmup < 1:
            raise ValueError(f'StepGraph: warmup must be >= 1, got {warmup}')
        self.warmup = warmup
        self.max_captures = max_captures
        self.captures = 0
        self.replays = 0
        self.eager_steps = 0
        self._key: Tuple | None = None
        self._seen: Dict[Tuple, int] = {}
        self._graphs: Dict[Tuple, Tuple[Any, List[torch.Tensor], Dict[str, torch.Tensor]]] = {}
        self._gave_up = False

    @staticmethod
    def signature(data: Dict[str, Any], key: Tuple = ()) -> Tuple:
        """What must not change between replays of one graph.

        Args:
            data (dict): The collated batch (``inputs`` and ``data_samples``).
            key (tuple): The model's extra key. Defaults to ``()``.

        Returns:
            tuple: Tensor paths, shapes and dtypes, the number of data samples and ``key``.

        """
        tensors = tuple(
            (path, tuple(t.shape), t.dtype) for path, t in _tensor_paths(data.get('inputs'))
        )
        samples = data.get('data_samples')
        return tensors, None if samples is None else len(samples), tuple(key)

    def step(
        self,
        data: Dict[str, Any],
        eager_step: StepFn,
        device: torch.device,
        key: Tuple = (),
        generators: Sequence[torch.Generator] = (),
        prepare: Callable[[], None] | None = None,
    ) -> Dict[str, torch.Tensor]:
        """One training step: eager (warm-up, fallback) or a graph replay.

        Args:
            data (dict): The collated batch (tensors on the host, pinned, or the device).
            eager_step (Callable): ``eager_step(data) -> log_vars``: the model's plain step.
            device (torch.device): The CUDA device.
            key (tuple): The model's extra signature. Defaults to ``()``.
            generators (Sequence[torch.Generator]): Non-default CUDA generators the step
                draws from, registered with the graph. Defaults to none.
            prepare (Callable, optional): Called right before each capture (e.g.
                :func:`materialise_optimizer_state`). Defaults to None.

        Returns:
            dict[str, torch.Tensor]: The step's logged values.

        """
        if self._gave_up:
            return self._eager(eager_step, data)
        signature = self.signature(data, key)
        if signature[-1] != self._key:  # a new lr, mining switch, ...: old graphs are done
            self._key, self._graphs, self._seen = signature[-1], {}, {}
        entry = self._graphs.get(signature)
        if entry is None:
            seen = self._seen.get(signature, 0)
            if seen < self.warmup:
                self._seen[signature] = seen + 1
                return self._eager(eager_step, data, side_stream=True)
            if self.captures >= self.max_captures:
                self._gave_up = True
                print_log(
                    f'StepGraph: {self.captures} captures (the signature keeps changing: a '
                    'per-iteration schedule?); running eager steps from now on',
                    logger='current',
                    level=logging.WARNING,
                )
                return self._eager(eager_step, data)
            if prepare is not None:
                prepare()
            entry = self._graphs[signature] = self._capture(data, eager_step, device, generators)
        graph, static, outputs = entry
        self._load(static, data)
        graph.replay()
        self.replays += 1
        return dict(outputs)

    def _eager(self, eager_step: StepFn, data: Dict[str, Any], side_stream: bool = False):
        self.eager_steps += 1
        if not side_stream:
            return eager_step(data)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            out = eager_step(data)
        torch.cuda.current_stream().wait_stream(stream)
        return out

    def _capture(
        self,
        data: Dict[str, Any],
        eager_step: StepFn,
        device: torch.device,
        generators: Sequence[torch.Generator],
    ) -> Tuple[Any, List[torch.Tensor], Dict[str, torch.Tensor]]:
        """Capture ``eager_step`` on a static device copy of ``data``.

        Returns:
            tuple: The graph, the static input tensors it reads, its static outputs.
        """
        static = _to_device(data, device)
        graph = torch.cuda.CUDAGraph()
        register = getattr(graph, 'register_generator_state', None)
        for gen in generators:
            if register is None:
                raise RuntimeError(
                    'StepGraph: this torch cannot register a non-default CUDA generator with a '
                    'CUDA graph (CUDAGraph.register_generator_state); the step draws from one '
                    "(the data preprocessor's augmentations). Use a newer torch or turn "
                    'cuda_graph_step off'
                )
            register(gen)
        torch.cuda.synchronize(device)
        # thread-local: the DataLoader's pin-memory thread may allocate pinned memory while
        # this thread captures (global mode would invalidate the capture)
        with torch.cuda.graph(graph, capture_error_mode='thread_local'):
            outputs = eager_step(static)
        self.captures += 1
        print_log(
            f'StepGraph: captured the training step (capture {self.captures})',
            logger='current',
            level=logging.INFO,
        )
        return graph, [t for _, t in _tensor_paths(static.get('inputs'))], dict(outputs)

    @staticmethod
    def _load(static: List[torch.Tensor], data: Dict[str, Any]) -> None:
        """Copy the batch's tensors into the static copy the graph reads."""
        new = [t for _, t in _tensor_paths(data.get('inputs'))]
        for dst, src in zip(static, new):
            if src is not dst:
                dst.copy_(src, non_blocking=True)


@contextlib.contextmanager
def no_autocast_cache(optim_wrapper: Any) -> Iterator[None]:
    """Autocast without its weight-cast cache (cached casts must not outlive a capture)."""
    previous = getattr(optim_wrapper, 'cache_enabled', None)
    if previous is not None:
        optim_wrapper.cache_enabled = False
    try:
        yield
    finally:
        if previous is not None:
            optim_wrapper.cache_enabled = previous
