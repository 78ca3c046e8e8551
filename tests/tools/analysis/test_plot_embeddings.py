import numpy as np
import pytest
import torch
from matplotlib.image import imread

from tests.models.algorithms.test_multi_skeleton_recognizer import batch, build, clip
from tools.analysis.plot_embeddings import compute_features, embed_2d, main


def clusters(n_per=20, dim=16, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (classes, dim))
    y = np.repeat(np.arange(classes), n_per)
    return centres[y] + rng.normal(0, 0.5, (len(y), dim)), y


@pytest.mark.parametrize('method', ['pca', 'tsne'])
def test_embedding_keeps_classes_apart(method):
    x, y = clusters()
    xy, used = embed_2d(x, method)
    assert xy.shape == (60, 2) and used == {'pca': 'PCA', 'tsne': 't-SNE'}[method]
    centres = np.stack([xy[y == c].mean(0) for c in range(3)])
    spread = max(np.linalg.norm(xy[y == c] - centres[c], axis=1).mean() for c in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 3 * spread


def test_tool_writes_one_panel_per_format(tmp_path):
    x1, y = clusters(seed=1)
    x2, _ = clusters(seed=2, dim=8)
    feats = tmp_path / 'feats.npz'
    np.savez(feats, features_kinect25=x1, features_smplx42=x2[:45], labels=y, labels_smplx42=y[:45])
    names = tmp_path / 'classes.txt'
    names.write_text('drink water\neat meal\nbrush teeth\n')
    out = tmp_path / 'emb.png'
    main(['--features', str(feats), '--out', str(out), '--method', 'pca',
          '--class-names', str(names), '--title', 'synthetic'])  # fmt: skip
    img = imread(out)
    assert img.ndim == 3 and img.shape[1] > 1.6 * img.shape[0]  # two panels side by side
    assert img[..., :3].std() > 0.05  # not a blank canvas


def test_tool_refuses_features_without_formats(tmp_path):
    feats = tmp_path / 'f.npz'
    np.savez(feats, labels=np.zeros(3))
    with pytest.raises(ValueError, match='no features_<format>'):
        main(['--features', str(feats), '--out', str(tmp_path / 'x.png')])


def test_compute_features_from_recognizer_batches():
    model = build().eval()
    b1 = batch({'kinect25': (clip('kinect25', 2), [1, 0]), 'smplx42': (clip('smplx42', 1), [1])},
               [2, 3])  # fmt: skip
    b2 = batch({'kinect25': (clip('kinect25', 1, seed=4), [0])}, [1])
    feats = compute_features(model, [b1, b2])
    assert feats['labels'].tolist() == [2, 3, 1]
    assert feats['labels_kinect25'].tolist() == [3, 2, 1]  # rows follow the group's index
    assert feats['labels_smplx42'].tolist() == [3]
    assert feats['features_kinect25'].shape == (3, 16) and feats['features_smplx42'].shape == (
        1,
        16,
    )
    with torch.no_grad():
        ref = model.backbone(clip('kinect25', 2), 'kinect25').mean(dim=(1, 3, 4))
    np.testing.assert_allclose(feats['features_kinect25'][:2], ref.numpy(), rtol=1e-5, atol=1e-6)


def test_features_from_config_and_checkpoint(tmp_path, monkeypatch):
    from mmengine.runner import Runner

    from tests.models.algorithms.test_multi_skeleton_recognizer import backbone_cfg
    from tools.analysis.plot_embeddings import features_from_config

    model = build().eval()
    for p in model.parameters():
        p.data.uniform_(-0.5, 0.5)
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, ckpt)
    cfg = tmp_path / 'probe.py'
    cfg.write_text(
        "default_scope = 'mmaction'\n"
        f'model = dict(type="MultiSkeletonRecognizer", backbone={backbone_cfg()!r}, '
        'cls_head=dict(num_classes=4), data_preprocessor=dict(type="BaseDataPreprocessor"))\n'
        'test_dataloader = dict(batch_size=2)\n'
    )
    data = batch({'kinect25': (clip('kinect25', 2), [0, 1])}, [0, 3])
    seen = {}

    def fake_loader(loader_cfg):
        seen['cfg'] = loader_cfg
        return [data]

    monkeypatch.setattr(Runner, 'build_dataloader', staticmethod(fake_loader))
    feats = features_from_config(str(cfg), str(ckpt))
    assert seen['cfg']['batch_size'] == 2
    with torch.no_grad():
        ref = model.backbone(clip('kinect25', 2), 'kinect25').mean(dim=(1, 3, 4))
    np.testing.assert_allclose(feats['features_kinect25'], ref.numpy(), rtol=1e-5, atol=1e-6)
    assert feats['labels'].tolist() == [0, 3]
