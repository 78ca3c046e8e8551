"""The full AimCLR augmentation on a genuine NTU RGB+D clip (../shared/data)."""

import os.path as osp

import numpy as np
import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.data_preprocessors import (
    Rotate,
    Shear,
    SkeletonDataPreprocessor,
    aimclr_extreme_augmentation,
    bone_stream,
    normal_augmentation,
)
from msclr_mm.skeletons import get_format


def read_first_body(path):
    """x, y, z of the first body of every frame of a ``.skeleton`` file: (T, 25, 3)."""
    with open(path) as f:
        lines = iter(f.read().split('\n'))
    frames = []
    for _ in range(int(next(lines))):
        bodies = int(next(lines))
        joints = []
        for b in range(bodies):
            next(lines)  # body info
            for _ in range(int(next(lines))):
                values = next(lines).split()
                if b == 0:
                    joints.append([float(v) for v in values[:3]])
        if joints:
            frames.append(joints)
    return np.asarray(frames, np.float32)


def test_aimclr_augmentation_on_a_real_clip(shared_data):
    fmt = get_format('kinect25')
    clip = read_first_body(osp.join(shared_data, 'ntu_raw', 'S001C001P001R001A001.skeleton'))
    assert clip.shape[1:] == (25, 3) and clip.shape[0] > 50
    clip = clip[:50] - clip[:50, fmt.center].mean(0)  # centred on the spine-shoulder
    x = torch.from_numpy(clip)[None, None].repeat(8, 1, 1, 1, 1)  # (8, 1, 50, 25, 3)
    lengths = bone_stream(x, fmt).norm(dim=-1)

    # rotation keeps every bone length; shear does not
    rotated = Rotate()(x, fmt, torch.Generator().manual_seed(0))
    assert torch.allclose(bone_stream(rotated, fmt).norm(dim=-1), lengths, atol=1e-5)
    sheared = Shear()(x, fmt, torch.Generator().manual_seed(0))
    assert (bone_stream(sheared, fmt).norm(dim=-1) - lengths).abs().max() > 0.01

    pre = SkeletonDataPreprocessor(
        views=dict(query=normal_augmentation(), key=normal_augmentation()),
        derived_views=dict(query_extreme=dict(source='query', ops=aimclr_extreme_augmentation())),
        seed=0,
    )
    index = torch.arange(8)
    data = dict(inputs={v: {'kinect25': dict(keypoint=x, index=index)} for v in ('query', 'key')})
    out = pre(data, training=True)['inputs']
    q, k = out['query']['kinect25']['keypoint'], out['key']['kinect25']['keypoint']
    e = out['query_extreme']['kinect25']['keypoint']
    assert torch.isfinite(e).all()
    # every clip of the batch is augmented differently, and query differs from key
    assert all(not torch.allclose(q[0], q[i]) for i in range(1, 8))
    assert not torch.allclose(q, k)
    # the normal augmentation keeps the body on the scale of the input (shear <= 0.5)
    assert 0.3 < float(q.abs().max() / x.abs().max()) < 3.0
