"""``tools/dist_train.sh CONFIG 2`` pretrains AimCLR on the CPU with gloo; ranks agree.

A test-only hook (``tests/tools/dist_state_hook.py``, loaded by the config's
``custom_imports``) all-gathers digests of the negative queue, the EMA key encoder and the
query encoder after training and writes them per rank.
"""

import argparse
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from msclr_mm.utils.runner import merge_common_args

from ..conftest import REPO_ROOT, free_port
from .test_kill_resume_pretrain import write_tiny_pretrain

DIST_OVERRIDES = """
_base_ = ['./tiny_aimclr.py']
custom_imports = dict(imports=['msclr_mm', 'tests.tools.dist_state_hook'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='RNGStateHook'), dict(type='DistStateRecordHook')]
model = dict(queue_len=24)
train_cfg = dict(max_epochs=2)
"""


def dist_train(tmp_path, config, *args):
    """``tools/dist_train.sh config 2 --work-dir tmp_path/work *args`` from ``tmp_path``."""
    env = dict(os.environ, PORT=str(free_port()), PYTHONUNBUFFERED='1', PYTHON=sys.executable)
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    proc = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), str(config), '2']
        + ['--work-dir', str(tmp_path / 'work'), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
def test_two_gloo_processes_keep_queue_and_key_encoder_identical(tmp_path):
    write_tiny_pretrain(tmp_path)
    config = tmp_path / 'dist_aimclr.py'
    config.write_text(DIST_OVERRIDES)
    work = tmp_path / 'work'
    dist_train(tmp_path, config, '--deterministic', '--seed', '0', '--no-validate')
    records = [json.loads((work / f'dist_state_rank{r}.json').read_text()) for r in (0, 1)]
    for r, record in enumerate(records):
        assert record['rank'] == r and record['world_size'] == 2
        assert record['wrapper'] == 'CPUDistributedDataParallel'
    assert records[0]['ranks'] == records[1]['ranks']  # both ranks saw the same gather
    rank0, rank1 = records[0]['ranks']
    assert rank0['queue_filled'] and rank0['ptr'] == (2 * 2 * 4 * 2) % 24  # 2 ep x 2 it x 8
    for key in ('queue', 'ptr', 'encoder_k', 'query'):
        assert rank0[key] == rank1[key], key
    # the checkpoint (rank 0 only) holds the same queue and key encoder
    ckpt = torch.load(work / 'epoch_2.pth', weights_only=True)['state_dict']
    assert int(ckpt['queue.ptr']) == rank0['ptr']


def test_sync_bn_converts_but_needs_cuda(tmp_path):
    """``sync_bn='torch'`` turns every BN into SyncBatchNorm; a CPU launch is refused early."""
    from mmengine.model import convert_sync_batchnorm

    from msclr_mm.models.backbones import UnifiedSTGCN

    backbone = UnifiedSTGCN(channels=(8, 16))
    n_bn = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in backbone.modules())
    converted = convert_sync_batchnorm(backbone, 'torch')
    assert sum(isinstance(m, torch.nn.SyncBatchNorm) for m in converted.modules()) == n_bn > 0

    if torch.cuda.is_available():
        pytest.skip('the CPU refusal applies to machines without CUDA')
    cfg = Config(dict(sync_bn='torch'))
    args = argparse.Namespace(
        launcher='pytorch', cfg_options=None, work_dir=str(tmp_path), config='my_cfg.py'
    )
    with pytest.raises(SystemExit, match=r"my_cfg.py: sync_bn='torch' needs CUDA"):
        merge_common_args(cfg, args)
    args.launcher = 'none'  # single process: mmengine reverts SyncBN, nothing to refuse
    merge_common_args(cfg, args)


BATCH_RULE_OVERRIDES = """
_base_ = ['./tiny_aimclr.py']
model = dict(exclude_own_keys=False)
train_cfg = dict(max_epochs=1)
"""


@pytest.mark.slow
def test_batch_rule_steps_that_skip_a_format_run_distributed(tmp_path):
    """Rule 'batch': a step can use no clip of a format, so a format's stem gets no gradient.

    DDP refuses that unless told (``find_unused_parameters=True``, set by the pretraining
    dataset bases next to the rule); 3 formats, 2 ranks, 9 steps: most steps skip one.
    """
    write_tiny_pretrain(tmp_path, base='msaimclr_demo.py', rule='batch')
    config = tmp_path / 'ms_batch.py'
    config.write_text(BATCH_RULE_OVERRIDES)
    assert Config.fromfile(str(config)).find_unused_parameters is True
    dist_train(tmp_path, config, '--seed', '0', '--no-validate')
    assert (tmp_path / 'work' / 'epoch_1.pth').exists()
