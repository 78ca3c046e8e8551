"""Tests of tools/analysis; shared settings below."""

import os.path as osp

from ...conftest import REPO_ROOT

#: MS-AimCLR's NTU-60 recipe, the config the speed tools are about.
NTU60_RECIPE = osp.join(
    REPO_ROOT, 'configs', 'msclr', 'msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py'
)


def tiny_trunk_options(channels, strides):
    """``--cfg-options`` shrinking the recipe's encoder to ``channels`` (and its queue)."""
    return [
        f'model.backbone.channels={list(channels)}'.replace(' ', ''),
        f'model.backbone.strides={list(strides)}'.replace(' ', ''),
        'model.queue_len=64',
        f'model.neck.in_channels={channels[-1]}',
    ]


def synthetic_args(tmp_path, clips=16, batch_size=4):
    """The tools' arguments for ``clips`` synthetic clips per format under ``tmp_path``."""
    synthetic_dir = str(tmp_path / 'synthetic')
    return ['--synthetic', str(clips), '--synthetic-dir', synthetic_dir, '--batch-size', str(batch_size)]  # fmt: skip
