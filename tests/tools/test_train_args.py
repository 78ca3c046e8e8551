"""``tools/train.py``'s flags over the config: ``--seed`` and friends."""

from mmengine.config import Config

from tools.train import merge_args, parse_args


def merged(cfg_text, tmp_path, *flags):
    path = tmp_path / 'cfg.py'
    path.write_text(cfg_text)
    args = parse_args([str(path), *flags])
    return merge_args(Config.fromfile(str(path)), args)


def test_seed_flag_overrides_the_configs_randomness(tmp_path):
    text = 'randomness = dict(seed=0, deterministic=False)\n'
    cfg = merged(text, tmp_path, '--seed', '1', '--deterministic')
    assert cfg.randomness.seed == 1 and cfg.randomness.deterministic is True
    cfg = merged(text, tmp_path)  # no flag: the config's seed stays
    assert cfg.randomness.seed == 0 and cfg.randomness.deterministic is False


def test_seed_flag_without_config_randomness(tmp_path):
    cfg = merged('x = 1\n', tmp_path, '--seed', '3', '--diff-rank-seed')
    assert cfg.randomness == dict(seed=3, diff_rank_seed=True, deterministic=False)


def test_test_main_returns_after_a_gloo_run(monkeypatch, tmp_path):
    """``tools/test.py``'s ``main()`` closes the group but never ends a library caller's
    process; only the script's ``__main__`` block calls ``exit_now``."""
    import tools.test as test_tool

    class FakeRunner:
        model = None

        def test(self):
            return {'acc/top1': 0.5}

    def no_exit(code):
        raise AssertionError(f'exit_now({code}) called from main()')

    monkeypatch.setattr(test_tool, 'build_runner', lambda args, merge: FakeRunner())
    monkeypatch.setattr(test_tool, 'check_checkpoint_matches', lambda model, ckpt: None)
    monkeypatch.setattr(test_tool, 'close_distributed', lambda: True)  # as after gloo
    monkeypatch.setattr(test_tool, 'exit_now', no_exit)
    ckpt = tmp_path / 'ckpt.pth'
    ckpt.write_bytes(b'')
    argv = [str(tmp_path / 'cfg.py'), str(ckpt)]
    assert test_tool.main(argv) == {'acc/top1': 0.5}
    assert test_tool.run(argv) == ({'acc/top1': 0.5}, True)
