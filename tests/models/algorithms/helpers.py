"""Tiny models and hand-built batches in the batch contract's structure."""

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS

import msclr_mm  # noqa: F401
from msclr_mm.models.necks import global_pool

FORMATS = ('kinect25', 'smpl24')
JOINTS = {'kinect25': 25, 'smpl24': 24}
WIDTH = 16
DIM = 8


def tiny_cfg(type_='SkeletonCLR', queue_len=64, with_bn=False, **kwargs):
    cfg = dict(
        type=type_,
        backbone=dict(type='UnifiedSTGCN', formats=list(FORMATS), channels=(8, WIDTH), dropout=0.0),
        neck=dict(
            type='ProjectionNeck',
            in_channels=WIDTH,
            hid_channels=WIDTH,
            out_channels=DIM,
            with_bn=with_bn,
        ),
        head=dict(type='ContrastiveHead', temperature=0.07),
        feat_dim=DIM,
        queue_len=queue_len,
    )
    cfg.update(kwargs)
    return cfg


def build(type_='SkeletonCLR', seed=0, **kwargs):
    torch.manual_seed(seed)
    return MODELS.build(tiny_cfg(type_, **kwargs))


def clips(num, T=12, M=2, seed=0, spread=4.0):
    """Per-sample clips {fmt: (num, M, T, V, 3)}: every clip exists in every format.

    Each clip is noise moved by an offset of its own (``spread`` times a normal draw per
    coordinate, the same in every format): clips of noise alone look alike after global
    pooling (the untrained tiny encoder maps them to embeddings with cosine above 0.99999,
    so a clip paired with another's key changes a loss by rounding-sized amounts); the
    offsets spread them (cosine about 0.995 apart at the default).
    """
    g = torch.Generator().manual_seed(seed)
    noise = {f: torch.randn(num, M, T, v, 3, generator=g) for f, v in JOINTS.items()}
    offsets = torch.randn(num, 1, 1, 1, 3, generator=g) * spread
    return {f: x + offsets for f, x in noise.items()}


def view(data, assignment):
    """Group samples by their format: assignment[i] is sample i's format."""
    out = {}
    for fmt in dict.fromkeys(assignment):
        idx = [i for i, f in enumerate(assignment) if f == fmt]
        # scramble the order inside a group to exercise `index`
        idx = idx[::-1]
        out[fmt] = {'keypoint': data[fmt][idx].clone(), 'index': torch.tensor(idx)}
    return out


def embed_one(model, x, fmt, key=False):
    """Reference: embed one sample alone (N=1) with the query or key encoder."""
    if key:
        backbone, neck = model.encoder_k.module['backbone'], model.encoder_k.module['neck']
    else:
        backbone, neck = model.backbone, model.neck
    return F.normalize(neck(global_pool(backbone(x[None], fmt))), dim=1)[0]


def embed_one_drop(model, x, fmt):
    """Reference: query embeddings (plain, attention-dropped) of one sample alone."""
    feat, dropped = model.backbone(x[None], fmt, drop=True)
    return tuple(F.normalize(model.neck(global_pool(f)), dim=1)[0] for f in (feat, dropped))
