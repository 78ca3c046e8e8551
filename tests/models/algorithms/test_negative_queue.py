import contextlib

import pytest
import torch
import torch.nn.functional as F

import msclr_mm  # noqa: F401
from msclr_mm.models.algorithms import NegativeQueue


@contextlib.contextmanager
def no_host_sync():
    """Fail on any Python-level read of a tensor's value (a device->host sync on GPU)."""

    def boom(*args, **kwargs):
        raise AssertionError('host synchronisation: a tensor value was read in Python')

    with pytest.MonkeyPatch.context() as mp:
        for name in ('item', 'tolist', '__int__', '__index__', '__bool__', '__float__'):
            mp.setattr(torch.Tensor, name, boom)
        yield


def unit(n, d, seed):
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_initial_queue_is_normalised_float32_with_long_pointer():
    q = NegativeQueue(dim=4, length=10)
    assert q.queue.shape == (4, 10) and q.queue.dtype == torch.float32
    torch.testing.assert_close(q.queue.norm(dim=0), torch.ones(10))
    assert q.ptr.dtype == torch.long and q.ptr.tolist() == [0]
    assert set(q.state_dict()) == {'queue', 'ptr'}


def test_enqueue_writes_in_order_and_wraps_around():
    q = NegativeQueue(dim=4, length=8)
    batches = [unit(3, 4, s) for s in range(3)]
    for b in batches:
        q.enqueue(b)
    assert q.ptr.tolist() == [1]  # 9 % 8
    torch.testing.assert_close(q.queue[:, 0], batches[2][2])  # wrapped
    torch.testing.assert_close(q.queue[:, 3:6], batches[1].t())
    torch.testing.assert_close(q.queue[:, 6:8], batches[2][:2].t())
    torch.testing.assert_close(q.queue[:, 1:3], batches[0][1:].t())


def test_enqueue_normalises_and_keeps_float32_without_host_sync():
    q = NegativeQueue(dim=3, length=4)
    keys = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]], dtype=torch.bfloat16)
    with no_host_sync():
        q.enqueue(keys)
    assert q.queue.dtype == torch.float32 and q.ptr.dtype == torch.long
    torch.testing.assert_close(q.queue[:, :2].t(), torch.tensor([[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]))


def test_enqueue_rejects_bad_shapes():
    q = NegativeQueue(dim=3, length=4)
    with pytest.raises(ValueError, match=r'\(B, 3\)'):
        q.enqueue(torch.zeros(2, 5))
    with pytest.raises(ValueError, match='exceed the queue length 4'):
        q.enqueue(torch.ones(5, 3))


def test_negatives_is_a_detached_copy():
    q = NegativeQueue(dim=3, length=4)
    neg = q.negatives()
    before = neg.clone()
    q.enqueue(torch.ones(2, 3))
    torch.testing.assert_close(neg, before)
    assert not neg.requires_grad


def test_track_ids_writes_clip_ids_beside_keys_and_masks_own_entries():
    q = NegativeQueue(dim=4, length=5, track_ids=True)
    assert set(q.state_dict()) == {'queue', 'ptr', 'ids'} and q.ids.tolist() == [-1] * 5
    q.enqueue(unit(3, 4, 0), torch.tensor([7, 8, 9]))
    with no_host_sync():
        q.enqueue(unit(3, 4, 1), torch.tensor([1, 7, 2]))  # wraps: columns 3, 4, 0
    assert q.ids.tolist() == [2, 8, 9, 1, 7]
    mask = q.own_mask(torch.tensor([7, 3, 2]))
    assert mask.tolist() == [
        [False, False, False, False, True],
        [False] * 5,
        [True, False, False, False, False],
    ]


def test_track_ids_refuses_missing_or_unexpected_ids():
    with pytest.raises(ValueError, match='needs the clip ids'):
        NegativeQueue(dim=3, length=4, track_ids=True).enqueue(unit(2, 3, 0))
    with pytest.raises(ValueError, match='track_ids=False'):
        NegativeQueue(dim=3, length=4).enqueue(unit(2, 3, 0), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r'ids must be \(2,\)'):
        NegativeQueue(dim=3, length=4, track_ids=True).enqueue(unit(2, 3, 0), torch.tensor([0]))
    with pytest.raises(RuntimeError, match='track_ids=True'):
        NegativeQueue(dim=3, length=4).own_mask(torch.tensor([0]))
