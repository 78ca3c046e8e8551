"""Test helper (imported by test configs via ``custom_imports``): record what each rank holds.

``DistStateRecordHook`` writes ``<work_dir>/dist_state_rank<r>.json`` at the end of training
with SHA-256 digests of the negative queue, its pointer, the EMA key encoder and the query
encoder, gathered from every rank (``all_gather_object``), plus the world size and the
BatchNorm classes of the wrapped model.
"""

import hashlib
import json
import os.path as osp

import torch
from mmaction.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


def digest(tensors):
    """SHA-256 of tensors in key order.

    Args:
        tensors (dict[str, torch.Tensor]): Named tensors.

    Returns:
        str: Hex digest of names, shapes and bytes.
    """
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


@HOOKS.register_module()
class DistStateRecordHook(Hook):
    """Write each rank's digests of queue, key encoder and query encoder after training."""

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        """Gather the digests from every rank and write them beside the checkpoints."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = model.state_dict()
        mine = dict(
            queue=digest({'q': state['queue.queue']}),
            ptr=int(state['queue.ptr']),
            encoder_k=digest(dict(model.encoder_k.named_parameters())),
            encoder_k_buffers=digest(dict(model.encoder_k.named_buffers())),
            query=digest(
                dict(model.backbone.named_parameters()) | dict(model.neck.named_parameters())
            ),
            query_buffers=digest(dict(model.backbone.named_buffers())),
            queue_filled=bool(torch.count_nonzero(state['queue.queue']) > 0),
        )
        record = dict(
            rank=get_rank(),
            world_size=get_world_size(),
            wrapper=type(runner.model).__name__,
            ranks=all_gather_object(mine),
        )
        path = osp.join(runner.work_dir, f'dist_state_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(record, f)
