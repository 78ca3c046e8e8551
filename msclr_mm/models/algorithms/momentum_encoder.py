"""The EMA key encoder of MoCo as an mmengine ``ExponentialMovingAverage``."""

from __future__ import annotations

import torch
import torch.nn as nn
from mmengine.model import ExponentialMovingAverage


class MomentumEncoder(ExponentialMovingAverage):
    """MoCo's key encoder: ``key = m * key + (1 - m) * query`` after every step.

    ``momentum`` is given in MoCo's convention (``m = 0.999`` keeps 99.9 % of the key
    encoder). mmengine's ``ExponentialMovingAverage`` takes the opposite convention
    (``averaged = (1 - momentum) * averaged + momentum * source``), so ``1 - m`` is passed
    to it; ``self.momentum`` therefore holds ``1 - m``.

    As mmengine's: the first update copies the query parameters (so the key encoder starts
    equal to the query encoder even after ``init_weights`` or loading a checkpoint into
    the query side), and buffers (BatchNorm running statistics, adjacencies) are copied
    from the query encoder at every update. Unlike mmengine's, the update is free of host
    synchronisation: the first-step test is a ``torch.where`` on the ``steps`` buffer,
    not a Python ``if`` on a device tensor.

    Args:
        model (nn.Module): The query encoder; deep-copied, with ``requires_grad=False``.
        momentum (float): MoCo momentum ``m`` in ``[0, 1)``. Defaults to 0.999.
        device (torch.device, optional): Device of the copy. Defaults to None (the
            model's).

    """

    def __init__(
        self, model: nn.Module, momentum: float = 0.999, device: torch.device | None = None
    ) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'MoCo momentum must be in [0, 1), got {momentum}')
        super().__init__(model, momentum=1.0 - momentum, interval=1, device=device)
        self.moco_momentum = momentum

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """One EMA step from the query encoder.

        Args:
            model (nn.Module): The query encoder, with the same parameter names.

        """
        src = dict(model.named_parameters())
        weight = torch.where(
            self.steps == 0,
            torch.ones((), device=self.steps.device),
            torch.full((), self.momentum, device=self.steps.device),
        )
        for name, p_avg in self.avg_parameters.items():
            p_src = src[name].detach().to(p_avg.device)
            if p_avg.dtype.is_floating_point:
                p_avg.lerp_(p_src, weight.to(p_avg.dtype))
            else:
                p_avg.copy_(p_src)
        for b_avg, b_src in zip(self.module.buffers(), model.buffers()):
            b_avg.copy_(b_src.to(b_avg.device))
        self.steps += 1
