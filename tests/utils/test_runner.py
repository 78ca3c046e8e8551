"""``msclr_mm.utils.runner``: the end of a distributed run."""

import torch.distributed as dist

from msclr_mm.utils.runner import close_distributed


def test_close_distributed_is_a_no_op_without_a_process_group():
    assert not dist.is_initialized()
    close_distributed()
    assert not dist.is_initialized()


def test_close_distributed_destroys_the_gloo_group(tmp_path):
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1
    )
    try:
        assert dist.is_initialized()
        close_distributed()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
