"""``msclr_mm.utils.runner``: the end of a distributed run."""

import subprocess
import sys

import torch.distributed as dist

from msclr_mm.utils.runner import close_distributed


def test_close_distributed_is_a_no_op_without_a_process_group():
    assert not dist.is_initialized()
    assert close_distributed() is False
    assert not dist.is_initialized()


def test_close_distributed_destroys_the_gloo_group(tmp_path):
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1
    )
    try:
        assert dist.is_initialized()
        assert close_distributed() is True  # a gloo group: the tools may exit_now
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_exit_now_flushes_output_and_logs_before_leaving(tmp_path):
    log = tmp_path / 'run.log'
    code = (
        'import logging, sys\n'
        'from msclr_mm.utils.runner import exit_now\n'
        f'handler = logging.FileHandler({str(log)!r})\n'
        'logging.getLogger("x").addHandler(handler)\n'
        'logging.getLogger("x").warning("logged line")\n'
        'print("printed line")\n'
        'sys.stderr.write("error line")\n'
        'exit_now(3)\n'
        'print("never")\n'
    )
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 3
    assert proc.stdout == 'printed line\n' and proc.stderr.endswith('error line')
    assert log.read_text() == 'logged line\n'
