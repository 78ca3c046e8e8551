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
    synchronisation (the step count is mirrored on the host) and runs as multi-tensor
    kernels instead of one launch per parameter and buffer.

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
        # mmengine refuses momentum 1 (m = 0: the key encoder copies the query encoder every
        # step) and warns above 0.5; the value is only used by ``update_parameters`` below
        super().__init__(model, momentum=0.5, interval=1, device=device)
        self.momentum = 1.0 - momentum
        self.moco_momentum = momentum
        self._host_steps: int | None = None

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """One EMA step from the query encoder, as two multi-tensor (``_foreach``) kernels.

        The step count is mirrored on the host (read from the ``steps`` buffer once, at the
        first update after construction or ``load_state_dict``), so the first-step copy is
        a plain Python branch and the update needs no host synchronisation.

        Args:
            model (nn.Module): The query encoder, with the same parameter names.

        """
        if self._host_steps is None:
            self._host_steps = int(self.steps)
        weight = 1.0 if self._host_steps == 0 else float(self.momentum)
        src = dict(model.named_parameters())
        avgs, srcs = [], []
        for name, p_avg in self.avg_parameters.items():
            p_src = src[name].detach().to(p_avg.device)
            if p_avg.dtype.is_floating_point:
                avgs.append(p_avg)
                srcs.append(p_src.to(p_avg.dtype))
            else:
                p_avg.copy_(p_src)
        if avgs:
            torch._foreach_lerp_(avgs, srcs, weight)
        pairs = [(b, s.to(b.device)) for b, s in zip(self.module.buffers(), model.buffers())]
        if pairs:
            torch._foreach_copy_([b for b, _ in pairs], [s for _, s in pairs])
        self.steps += 1
        self._host_steps += 1

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._host_steps = None  # re-read from the loaded ``steps`` at the next update
