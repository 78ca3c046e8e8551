import pytest
import torch
from mmaction.registry import MODELS

import msclr_mm  # noqa: F401
from tests.conftest import run_python
from tests.models.algorithms.test_multi_skeleton_recognizer import (
    _runner_style_checkpoint,
    backbone_cfg,
    build,
)
from tools.analysis.extract_backbone import main


@pytest.fixture
def pretrained(tmp_path):
    torch.manual_seed(2)
    source = MODELS.build(backbone_cfg())
    for p in source.parameters():
        p.data.uniform_(-1, 1)
    ckpt = tmp_path / 'epoch_300.pth'
    _runner_style_checkpoint(ckpt, source.state_dict())
    return source, ckpt


def test_extracted_backbone_is_tensor_only_and_initialises_the_probe(pretrained, tmp_path):
    source, ckpt = pretrained
    out = tmp_path / 'shared' / 'backbone.pth'
    proc = run_python(['tools/analysis/extract_backbone.py', str(ckpt), str(out)])
    assert "formats ['kinect25', 'smplx42']" in proc.stdout
    data = torch.load(out, weights_only=True)
    assert set(data) == {'state_dict', 'meta'}
    assert data['meta'] == dict(
        source=str(ckpt.resolve()), prefix='backbone.', formats=['kinect25', 'smplx42']
    )
    assert set(data['state_dict']) == set(source.state_dict())  # no encoder_k, neck, queue
    for k, v in source.state_dict().items():
        torch.testing.assert_close(data['state_dict'][k], v, rtol=0, atol=0)
    model = build(backbone=backbone_cfg(init_cfg=dict(type='Pretrained', checkpoint=str(out))))
    for k, v in source.state_dict().items():
        torch.testing.assert_close(model.backbone.state_dict()[k], v, rtol=0, atol=0, msg=k)


def test_other_prefix_picks_the_momentum_encoder(pretrained, tmp_path):
    _, ckpt = pretrained
    out = tmp_path / 'key_encoder.pth'
    main([str(ckpt), str(out), '--prefix', 'encoder_k.module.0.'])
    data = torch.load(out, weights_only=True)
    w = data['state_dict']['blocks.0.gcn_conv.weight']
    assert torch.all(w == 7.0)  # the test checkpoint fills the key encoder with 7


def test_refuses_to_overwrite_and_unknown_prefix(pretrained, tmp_path):
    _, ckpt = pretrained
    out = tmp_path / 'b.pth'
    out.write_bytes(b'precious')
    with pytest.raises(SystemExit, match='exists; pass --overwrite'):
        main([str(ckpt), str(out)])
    assert out.read_bytes() == b'precious'
    main([str(ckpt), str(out), '--overwrite'])
    assert 'state_dict' in torch.load(out, weights_only=True)
    with pytest.raises(SystemExit, match=r"no key of its state_dict starts with 'model\.'"):
        main([str(ckpt), str(tmp_path / 'c.pth'), '--prefix', 'model.'])
