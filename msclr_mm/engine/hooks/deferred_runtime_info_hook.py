"""`DeferredRuntimeInfoHook`: the logged scalars read from the device only when logged."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import torch
from mmaction.registry import HOOKS
from mmengine.hooks import LoggerHook, RuntimeInfoHook
from mmengine.utils import apply_to

#: One training iteration's outputs: the keys in order, the non-tensor values by key, and
#: per dtype the stacked 0-d tensor values with their keys.
_Pending = Tuple[List[str], Dict[str, Any], List[Tuple[List[str], torch.Tensor]]]


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """mmengine's ``RuntimeInfoHook``, without a host synchronisation every iteration.

    The stock hook puts every scalar the model returns (``loss``, ``loss_nce``,
    ``pos_sim``, ...) into the ``MessageHub`` after each iteration with ``.item()``: on a
    GPU the first of them waits for the step to finish, so the CPU can never prepare the
    next step while the GPU computes this one. This hook keeps the iteration's scalars on
    the device (one small stack per iteration) and moves the pending ones to the host in
    one copy only when they are needed: at the iterations the ``LoggerHook`` logs, at the
    end of an epoch, before validation, before a checkpoint is saved and at the end of
    training. The ``MessageHub`` then holds exactly what the stock hook would have put
    there (same values, same order, ``count`` 1 each), so the logs, the smoothing windows
    and checkpoints are unchanged; between two logging iterations the values simply arrive
    later. ``Runner.save_checkpoint`` copies the ``MessageHub`` into the checkpoint before
    it calls ``before_save_checkpoint``, so a checkpoint saved between two logging
    iterations (e.g. ``CheckpointHook(by_epoch=False)`` at another interval) gets its
    ``message_hub`` entry rewritten from the flushed hub there.

    An iteration that returns a key the ``MessageHub`` does not hold yet (the first
    iteration, or a loss that appears later, such as AimCLR's once mining starts) is moved
    at once, as the stock hook would: the hub creates its entries in the order they are
    first updated, and hooks of lower priority (``IterTimerHook``'s ``train/time``) add
    theirs after this hook in the same iteration, so the keys of the hub, of the logs and
    of ``scalars.json`` come in the stock hook's order. That costs one host
    synchronisation when the set of keys grows, none in the steady state.

    Replace the stock hook in a config with
    ``default_hooks = dict(runtime_info=dict(type='DeferredRuntimeInfoHook'))``.

    Args:
        interval (int, optional): Move the scalars every ``interval`` iterations of an
            epoch (and at its end). Defaults to None: the ``LoggerHook``'s interval (1
            without a ``LoggerHook``).

    """

    def __init__(self, interval: int | None = None) -> None:
        super().__init__()
        if interval is not None and interval < 1:
            raise ValueError(f'DeferredRuntimeInfoHook: interval must be >= 1, got {interval}')
        self.interval = interval
        self._pending: List[_Pending] = []

    def before_train(self, runner) -> None:
        """Take the ``LoggerHook``'s interval when none was given."""
        super().before_train(runner)
        if self.interval is None:
            loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
            self.interval = loggers[0].interval if loggers else 1

    def after_train_iter(
        self,
        runner,
        batch_idx: int,
        data_batch: Any = None,
        outputs: dict | None = None,
    ) -> None:
        """Keep this iteration's scalars; move the pending ones when they will be logged.

        Also moved at once when ``outputs`` has a key the ``MessageHub`` lacks (see above).
        """
        new_key = False
        if outputs:
            self._pending.append(_stack_outputs(outputs))
            scalars = runner.message_hub.log_scalars
            new_key = any(f'train/{key}' not in scalars for key in outputs)
        interval = self.interval or 1
        last = batch_idx + 1 == _len_or_none(runner.train_dataloader)
        if new_key or (batch_idx + 1) % interval == 0 or last:
            self.flush(runner)

    def after_train_epoch(self, runner) -> None:
        """Move what is pending (the epoch's last iteration normally already did)."""
        self.flush(runner)
        super().after_train_epoch(runner)

    def before_val(self, runner) -> None:
        """Move what is pending before validation reads or saves the ``MessageHub``."""
        self.flush(runner)
        super().before_val(runner)

    def after_train(self, runner) -> None:
        """Move what is pending at the end of training."""
        self.flush(runner)
        super().after_train(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Move what is pending and put the updated ``MessageHub`` into ``checkpoint``.

        ``checkpoint['message_hub']`` was taken before this hook runs; it is replaced as
        ``Runner.save_checkpoint`` makes it (tensors moved to the CPU), only when something
        was pending.
        """
        if self.flush(runner) and 'message_hub' in checkpoint:
            checkpoint['message_hub'] = apply_to(
                runner.message_hub.state_dict(), lambda x: hasattr(x, 'cpu'), lambda x: x.cpu()
            )

    def flush(self, runner) -> bool:
        """Put every pending scalar into ``runner.message_hub``, in iteration order.

        One device-to-host copy per dtype for all pending iterations.

        Returns:
            bool: Whether anything was pending.
        """
        if not self._pending:
            return False
        pending, self._pending = self._pending, []
        by_dtype: Dict[torch.dtype, List[torch.Tensor]] = {}
        for _, _, groups in pending:
            for _, values in groups:
                by_dtype.setdefault(values.dtype, []).append(values)
        host = {dtype: iter(torch.cat(parts).tolist()) for dtype, parts in by_dtype.items()}
        hub = runner.message_hub
        for keys, plain, groups in pending:
            values = dict(plain)
            for names, stacked in groups:
                column = host[stacked.dtype]
                values.update((name, next(column)) for name in names)
            for key in keys:
                hub.update_scalar(f'train/{key}', values[key])
        return True


def _stack_outputs(outputs: Dict[str, Any]) -> _Pending:
    """Split an iteration's outputs into plain values and per-dtype stacked 0-d tensors."""
    keys = list(outputs)
    plain: Dict[str, Any] = {}
    tensors: Dict[torch.dtype, List[Tuple[str, torch.Tensor]]] = {}
    for key, value in outputs.items():
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f"DeferredRuntimeInfoHook: output '{key}' has shape {tuple(value.shape)}; "
                    'logged outputs must be scalars'
                )
            tensors.setdefault(value.dtype, []).append((key, value.detach().reshape(())))
        else:
            plain[key] = value
    groups = [
        ([k for k, _ in items], torch.stack([v for _, v in items])) for items in tensors.values()
    ]
    return keys, plain, groups


def _len_or_none(loader: Sequence | None) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None
