"""The supervised configs: UnifiedSTGCN inside mmaction2's RecognizerGCN with GCNHead."""

import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import msclr_mm  # noqa: F401

from ..conftest import REPO_ROOT, run_python
from ..tools.test_train_test import _scalars

SUPERVISED = osp.join(REPO_ROOT, 'configs', 'supervised')
NTU60 = osp.join(SUPERVISED, 'unified-stgcn_gcnhead_8xb16-joint-80e_ntu60-xsub-keypoint-3d.py')
SMOKE = osp.join(SUPERVISED, 'unified-stgcn_gcnhead_1xb8-joint-20e_smoke.py')


def _build(path):
    import mmaction.models  # noqa: F401
    from mmaction.registry import MODELS

    init_default_scope('mmaction')
    return MODELS.build(Config.fromfile(path).model)


def test_ntu60_config_matches_mmaction2_stgcn_shape():
    from mmaction.models.backbones import STGCN

    model = _build(NTU60)
    ours = {k: v.shape for k, v in model.backbone.named_parameters()}
    theirs = STGCN(graph_cfg=dict(layout='nturgb+d', mode='stgcn_spatial'))
    assert sum(p.numel() for p in model.backbone.parameters()) == sum(
        p.numel() for p in theirs.parameters()
    )
    assert sorted(s.numel() for s in ours.values()) == sorted(
        p.numel() for p in theirs.parameters()
    )
    x = torch.randn(2, 1, 2, 20, 25, 3)  # (N, clips, M, T, V, C) as RecognizerGCN gets it
    model.eval()
    with torch.no_grad():
        feats = model(x, mode='tensor')  # backbone output (N, M, C, T', V)
        scores = model.cls_head(feats)
    assert feats.shape == (2, 2, 256, 5, 25)
    assert scores.shape == (2, 60)


@pytest.mark.slow
def test_smoke_config_trains_with_tools_train(tmp_path):
    run_python([osp.join(REPO_ROOT, 'tools', 'data', 'make_smoke_data.py')], cwd=tmp_path)
    work = tmp_path / 'work'
    run_python(
        [osp.join(REPO_ROOT, 'tools', 'train.py'), SMOKE, '--work-dir', str(work)],
        cwd=tmp_path,
    )
    assert (work / 'epoch_20.pth').is_file()
    val = [row['acc/top1'] for row in _scalars(work) if 'acc/top1' in row]
    # 3 classes: chance is 1/3. Dropout 0.5 on 24 clips makes single epochs noisy.
    assert len(val) == 4 and max(val) >= 0.8 and val[-1] > 0.5, val
