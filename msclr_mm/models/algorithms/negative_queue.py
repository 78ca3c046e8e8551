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

    With ``track_ids=True`` the queue also remembers which clip (dataset ``sample_idx``)
    every key came from, so :meth:`own_mask` can tell a query which queued keys are views
    of its own clip (see ``BaseMoCo(exclude_own_keys=True)``).

    Buffers (saved in checkpoints): ``queue`` ``(dim, length)`` float32, each column of
    unit norm; ``ptr`` ``(1,)`` int64, the next column to overwrite; with ``track_ids``,
    ``ids`` ``(length,)`` int64, the clip of each column (-1 while not written).

    Args:
        dim (int): Key size. Defaults to 128.
        length (int): Number of keys ``K``. Defaults to 32768.
        track_ids (bool): Keep the clip id of every key. Defaults to False.

    """

    def __init__(self, dim: int = 128, length: int = 32768, track_ids: bool = False) -> None:
        super().__init__()
        if dim < 1 or length < 1:
            raise ValueError(f'queue dim and length must be >= 1, got {dim}, {length}')
        self.dim = dim
        self.length = length
        self.track_ids = track_ids
        self.register_buffer('queue', F.normalize(torch.randn(dim, length), dim=0))
        self.register_buffer('ptr', torch.zeros(1, dtype=torch.long))
        if track_ids:
            self.register_buffer('ids', torch.full((length,), -1, dtype=torch.long))

    def negatives(self) -> torch.Tensor:
        """A detached copy of the queue ``(dim, length)``, safe to use before ``enqueue``."""
        return self.queue.detach().clone()

    @torch.no_grad()
    def own_mask(self, ids: torch.Tensor) -> torch.Tensor:
        """Which queued keys come from each query's own clip.

        Args:
            ids (torch.Tensor): Clip ids of the queries ``(N,)`` int64.

        Returns:
            torch.Tensor: ``(N, length)`` bool, True where ``ids[n]`` wrote the column.

        """
        if not self.track_ids:
            raise RuntimeError('own_mask needs NegativeQueue(track_ids=True)')
        return self.ids[None, :] == ids.to(self.ids.device)[:, None]

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, ids: torch.Tensor | None = None) -> None:
        """Gather the keys of every rank and write them after the last written column.

        Args:
            keys (torch.Tensor): This rank's keys ``(B, dim)``, any float dtype; they are
                L2-normalised and stored as float32. Every rank must pass the same ``B``.
            ids (torch.Tensor, optional): The keys' clip ids ``(B,)`` int64; required with
                ``track_ids``, refused without. Defaults to None.

        """
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f'keys must be (B, {self.dim}), got {tuple(keys.shape)}')
        if self.track_ids != (ids is not None):
            raise ValueError(
                'NegativeQueue(track_ids=True) needs the clip ids of the keys'
                if self.track_ids
                else 'ids given to a NegativeQueue built with track_ids=False'
            )
        if ids is not None and tuple(ids.shape) != (keys.shape[0],):
            raise ValueError(f'ids must be ({keys.shape[0]},), got {tuple(ids.shape)}')
        keys = torch.cat(all_gather(keys.detach().contiguous()), dim=0)
        total = keys.shape[0]
        if total > self.length:
            raise ValueError(
                f'{total} keys gathered from all ranks exceed the queue length {self.length}'
            )
        keys = F.normalize(keys.to(self.queue.dtype), dim=1)
        cols = (self.ptr + torch.arange(total, device=self.ptr.device)) % self.length
        self.queue.index_copy_(1, cols, keys.t())
        if ids is not None:
            ids = torch.cat(all_gather(ids.to(self.ids.device, torch.long).contiguous()))
            self.ids.index_copy_(0, cols, ids)
        self.ptr.copy_((self.ptr + total) % self.length)
