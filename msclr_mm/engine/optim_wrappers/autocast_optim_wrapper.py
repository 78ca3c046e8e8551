"""`AutocastOptimWrapper`: bf16 autocast on the GPU, plain float32 elsewhere, no GradScaler."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
import torch.nn as nn
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.optim import OptimWrapper

DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose ``optim_context`` runs the model under ``torch.autocast``.

    mmengine's ``AmpOptimWrapper`` refuses to be built without a GPU (so a config using it
    cannot run on a CPU, CI included) and always steps through a ``GradScaler``, whose
    ``step`` reads ``found_inf`` back to the host every iteration (a device
    synchronisation). bfloat16 has float32's exponent range and needs no loss scaling, so
    this wrapper only enters ``torch.autocast`` for the forward and loss, on the device
    types listed, and is a plain ``OptimWrapper`` everywhere else: one config serves the
    GPU (bf16) and the CPU (float32).

    What autocast leaves in float32 here: the data preprocessor's augmentations and the
    contrastive similarities and losses (``BaseMoCo.similarities``), so only the encoder's
    convolutions and matrix products run in bf16.

    Args:
        dtype (str): ``'bfloat16'`` (default) or ``'float16'`` (float16 without loss
            scaling can underflow gradients; prefer mmengine's ``AmpOptimWrapper`` for it).
        device_types (Sequence[str]): Device types whose models run under autocast.
            Defaults to ``('cuda',)``.
        enabled (bool): False makes this a plain ``OptimWrapper`` (the eager float32
            baseline). Defaults to True.
        cache_enabled (bool): ``torch.autocast``'s cache of weight casts. A CUDA-graphed
            step turns it off while it runs (cached casts must not outlive a capture).
            Defaults to True.
        **kwargs: Arguments of ``OptimWrapper`` (``optimizer``, ``accumulative_counts``,
            ``clip_grad``).

    """

    def __init__(
        self,
        *args,
        dtype: str = 'bfloat16',
        device_types: Sequence[str] = ('cuda',),
        enabled: bool = True,
        cache_enabled: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        if dtype not in DTYPES:
            raise ValueError(
                f'AutocastOptimWrapper: dtype={dtype!r}, expected one of {list(DTYPES)}'
            )
        self.dtype = DTYPES[dtype]
        self.device_types = tuple(device_types)
        self.enabled = bool(enabled)
        self.cache_enabled = bool(cache_enabled)

    def autocast_device(self, model: nn.Module) -> str | None:
        """The device type to autocast ``model`` on, or None when autocast is off for it.

        Args:
            model (nn.Module): The model (its first parameter's device decides).

        Returns:
            str | None: ``'cuda'``, ``'cpu'``, ... or None.

        """
        if not self.enabled:
            return None
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else 'cpu'
        return device_type if device_type in self.device_types else None

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Enter mmengine's context (gradient accumulation), then autocast where it applies.

        Args:
            model (nn.Module): The model being trained.

        """
        device_type = self.autocast_device(model)
        with super().optim_context(model):
            if device_type is None:
                yield
            else:
                with torch.autocast(
                    device_type=device_type, dtype=self.dtype, cache_enabled=self.cache_enabled
                ):
                    yield
