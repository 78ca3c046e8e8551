"""tools/analysis/knn_eval.py: seeded random init, checkpoints, argument errors."""

import importlib.util
import os
import os.path as osp

import pytest
import torch

from ...conftest import REPO_ROOT, run_python

_spec = importlib.util.spec_from_file_location(
    'knn_eval', osp.join(REPO_ROOT, 'tools', 'analysis', 'knn_eval.py')
)
knn_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(knn_eval)

CONFIG = osp.join(REPO_ROOT, 'configs', 'demo', 'aimclr_demo.py')
TINY = [
    '--cfg-options',
    'model.backbone.channels=(8,16)',
    'model.neck.in_channels=16',
    'model.neck.hid_channels=16',
    'model.queue_len=64',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
]


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('knn_demo')
    run_python(
        [osp.join(REPO_ROOT, 'tools', 'data', 'make_demo_data.py'), '--out-dir', 'data/demo'],
        cwd=root,
    )
    return root


def _run(argv, cwd, capsys=None):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return knn_eval.main([CONFIG, *argv, '--work-dir', str(cwd / 'work'), *TINY])
    finally:
        os.chdir(old)


@pytest.mark.slow
def test_random_init_is_seeded_and_checkpoint_is_loaded(demo_dir, capsys):
    a = _run(['--random-init', '--seed', '0'], demo_dir)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith('{') and '"encoder": "random-init"' in out[-1]
    init = demo_dir / 'init' / 'seed0.pth'
    b = _run(['--random-init', '--seed', '0', '--save-init', str(init)], demo_dir)
    assert a == b
    # the saved initialisation, loaded as a checkpoint (weights only), is the same encoder
    saved = torch.load(init, weights_only=True)
    assert saved['meta']['seed'] == 0 and any(
        k.startswith('backbone.') for k in saved['state_dict']
    )
    assert _run([str(init), '--seed', '5'], demo_dir) == a
    # as initialised, every BatchNorm holds mean 0 / variance 1; --bn-stats estimates them
    # on the bank split (query backbone only), and the saved encoder carries them
    assert all(
        v.abs().sum() == 0 for k, v in saved['state_dict'].items() if k.endswith('running_mean')
    )
    bn_init = demo_dir / 'init' / 'seed0_bn.pth'
    c = _run(
        ['--random-init', '--seed', '0', '--bn-stats', '1', '--save-init', str(bn_init)], demo_dir
    )
    assert 'estimated over 1 bank batches' in capsys.readouterr().out
    state = torch.load(bn_init, weights_only=True)['state_dict']
    means = {k: v for k, v in state.items() if k.endswith('running_mean')}
    assert all(v.abs().sum() > 0 for k, v in means.items() if k.startswith('backbone.'))
    assert all(
        state[k.replace('running_mean', 'num_batches_tracked')] == 1
        for k in means
        if k.startswith('backbone.')
    )
    # the weights are the seed's initialisation all the same
    for k, v in saved['state_dict'].items():
        if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked')):
            assert torch.equal(v, state[k]), k
    assert _run([str(bn_init), '--seed', '5'], demo_dir) == c
    assert set(a) == {'knn/top1', 'knn/nn1', 'knn/kinect25_top1', 'knn/kinect25_nn1'}
    # a random ST-GCN is far from chance (0.1) on the demo data: the baseline to beat
    assert a['knn/nn1'] > 0.2

    # A checkpoint whose parameters are all zero embeds every clip as the zero vector: every
    # query gets the same prediction, so the accuracy is one class's share of the 80
    # balanced queries, 0.1, whatever --seed says. A checkpoint that were not loaded (the
    # seeded random encoder) would score as above.
    from mmaction.registry import MODELS
    from mmengine.config import Config

    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(
        dict(
            model=dict(backbone=dict(channels=(8, 16)), neck=dict(in_channels=16, hid_channels=16))
        )
    )
    cfg.model.queue_len = 64
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    ckpt = demo_dir / 'zero.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    z = _run([str(ckpt), '--seed', '3'], demo_dir)
    assert z['knn/nn1'] == pytest.approx(0.1) and z['knn/top1'] == pytest.approx(0.1)
    assert capsys.readouterr().out.strip().splitlines()[-1].count('zero.pth') == 1


@pytest.mark.parametrize(
    'argv, message',
    [
        ([], 'exactly one'),
        (['missing.pth'], 'does not exist'),
        (['--random-init', 'x.pth'], 'exactly one'),
        (['x.pth', '--save-init', 'new.pth'], '--save-init needs --random-init'),
        (['--random-init', '--save-init', 'x.pth'], 'exists; not replaced'),
        (['x.pth', '--bn-stats', '2'], '--bn-stats needs --random-init'),
        (['--random-init', '--bn-stats', '-1'], '--bn-stats must be >= 0'),
    ],
)
def test_argument_errors(argv, message, capsys, tmp_path):
    (tmp_path / 'x.pth').write_bytes(b'')
    argv = [str(tmp_path / a) if a.endswith('.pth') else a for a in argv]
    with pytest.raises(SystemExit) as exc:
        knn_eval.parse_args([CONFIG, *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def _tiny_model(channels=(8, 16), queue_len=64):
    from mmaction.registry import MODELS
    from mmengine.config import Config

    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(
        dict(
            model=dict(
                backbone=dict(channels=channels),
                neck=dict(in_channels=channels[-1], hid_channels=channels[-1]),
            )
        )
    )
    cfg.model.queue_len = queue_len
    return MODELS.build(cfg.model)


@pytest.mark.parametrize(
    'kwargs, key',
    [
        (dict(channels=(8, 8)), 'backbone.'),  # another encoder width: most weights differ
        (dict(queue_len=32), 'queue.queue'),  # another queue length
    ],
)
def test_checkpoint_that_does_not_fit_the_model_is_refused(demo_dir, kwargs, key, capsys):
    """As tools/test.py: no kNN numbers for a mostly random encoder (mmengine only warns)."""
    ckpt = demo_dir / f'other_{"_".join(map(str, kwargs.values()))}.pth'
    torch.save({'state_dict': _tiny_model(**kwargs).state_dict(), 'meta': {}}, ckpt)
    with pytest.raises(SystemExit) as exc:
        _run([str(ckpt)], demo_dir)
    message = str(exc.value)
    assert str(ckpt) in message and 'does not match the model of the config' in message
    assert 'with another shape' in message and key in message
    # nothing was evaluated: no metrics line
    assert '"encoder"' not in capsys.readouterr().out
