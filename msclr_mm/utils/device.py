"""Host-to-device copies that do not wait for the GPU."""

from __future__ import annotations

import torch


def copy_to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """Copy a host tensor to ``device`` without synchronising the stream.

    A copy to a CUDA device from pageable host memory waits for the GPU to drain; from
    pinned memory it is asynchronous. So the tensor is pinned first (through torch's
    caching host allocator, which keeps the block until the copy is done) when ``device``
    is CUDA; elsewhere this is ``tensor.to(device)``.

    Args:
        tensor (torch.Tensor): A CPU tensor, any shape.
        device (torch.device | str): The target device.

    Returns:
        torch.Tensor: The same values on ``device``.

    """
    if torch.device(device).type == 'cuda':
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)
