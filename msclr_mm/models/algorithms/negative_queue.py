"""The queue of negative keys shared by every skeleton format (MoCo)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather


class NegativeQueue(nn.Module):
    """A ring buffer of L2-normalised keys, identical on every rank.

    ``enqueue`` gathers the keys of all ranks with ``mmengine.dist.all_gather`` (rank 0's
    rows first, then rank 1's, ...), so every rank writes the same rows at the same place
    and the queues never drift apart. The write position ``ptr`` stays a device tensor and
    the write is an ``index_copy_`` at ``(ptr + arange(B)) % length``: no ``int(ptr)``, no
    host synchronisation in the training step, and a batch that does not divide the queue
    length simply wraps around.

    Buffers (saved in checkpoints): ``queue`` ``(dim, length)`` float32, each column of
    unit norm; ``ptr`` ``(1,)`` int64, the next column to overwrite.

    Args:
        dim (int): Key size. Defaults to 128.
        length (int): Number of keys ``K``. Defaults to 32768.

    """

    def __init__(self, dim: int = 128, length: int = 32768) -> None:
        super().__init__()
        if dim < 1 or length < 1:
            raise ValueError(f'queue dim and length must be >= 1, got {dim}, {length}')
        self.dim = dim
        self.length = length
        self.register_buffer('queue', F.normalize(torch.randn(dim, length), dim=0))
        self.register_buffer('ptr', torch.zeros(1, dtype=torch.long))

    def negatives(self) -> torch.Tensor:
        """A detached copy of the queue ``(dim, length)``, safe to use before ``enqueue``."""
        return self.queue.detach().clone()

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Gather the keys of every rank and write them after the last written column.

        Args:
            keys (torch.Tensor): This rank's keys ``(B, dim)``, any float dtype; they are
                L2-normalised and stored as float32. Every rank must pass the same ``B``.

        """
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f'keys must be (B, {self.dim}), got {tuple(keys.shape)}')
        keys = torch.cat(all_gather(keys.detach().contiguous()), dim=0)
        total = keys.shape[0]
        if total > self.length:
            raise ValueError(
                f'{total} keys gathered from all ranks exceed the queue length {self.length}'
            )
        keys = F.normalize(keys.to(self.queue.dtype), dim=1)
        cols = (self.ptr + torch.arange(total, device=self.ptr.device)) % self.length
        self.queue.index_copy_(1, cols, keys.t())
        self.ptr.copy_((self.ptr + total) % self.length)
