import pytest
import torch
import torch.nn as nn

import msclr_mm  # noqa: F401
from msclr_mm.models.algorithms import MomentumEncoder

from .test_negative_queue import no_host_sync


def make_pair(seed=0):
    torch.manual_seed(seed)
    query = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    return query, MomentumEncoder(query, momentum=0.999)


def test_mmengine_convention_is_one_minus_moco_momentum():
    _, ema = make_pair()
    assert ema.moco_momentum == 0.999
    assert ema.momentum == pytest.approx(0.001)
    assert all(not p.requires_grad for p in ema.module.parameters())


def test_first_update_copies_then_key_is_m_key_plus_one_minus_m_query():
    query, ema = make_pair()
    with torch.no_grad():
        for p in query.parameters():
            p.add_(1.0)  # e.g. init_weights after construction
    ema.update_parameters(query)
    for pk, pq in zip(ema.module.parameters(), query.parameters()):
        assert torch.equal(pk, pq)
    key_before = [p.detach().clone().double() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in query.parameters():
            p.mul_(-3.0).add_(0.25)
    ema.update_parameters(query)
    m = 0.999
    for pk, kb, pq in zip(ema.module.parameters(), key_before, query.parameters()):
        expected = m * kb + (1 - m) * pq.double()
        torch.testing.assert_close(pk.double(), expected, rtol=0, atol=1e-6)
        # the wrong convention (mmengine's momentum=0.999) would give ~ the query instead
        assert not torch.allclose(pk, pq, atol=1e-3)
    assert int(ema.steps) == 2


def test_buffers_follow_the_query_encoder():
    query, ema = make_pair()
    query.train()
    query(torch.randn(8, 3))  # changes BN running stats
    ema.update_parameters(query)
    ema.update_parameters(query)
    torch.testing.assert_close(ema.module[1].running_mean, query[1].running_mean)


def test_update_has_no_host_sync():
    query, ema = make_pair()
    ema.update_parameters(query)
    with no_host_sync():
        ema.update_parameters(query)
        ema.update_parameters(query)


def test_momentum_is_validated():
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
        MomentumEncoder(nn.Linear(2, 2), momentum=1.0)


def test_loaded_steps_are_reread_before_the_next_update():
    query, ema = make_pair()
    ema.update_parameters(query)  # step 0: copy
    state = {k: v.clone() for k, v in ema.state_dict().items()}
    fresh_query, fresh = make_pair(seed=1)
    fresh.update_parameters(fresh_query)
    fresh.load_state_dict(state)  # as a resume: steps = 1, so the next update averages
    assert fresh._host_steps is None
    with torch.no_grad():
        for p in query.parameters():
            p.add_(1.0)
    key_before = [p.detach().clone() for p in fresh.module.parameters()]
    fresh.update_parameters(query)
    for pk, kb, pq in zip(fresh.module.parameters(), key_before, query.parameters()):
        torch.testing.assert_close(pk, 0.999 * kb + 0.001 * pq, rtol=0, atol=1e-6)
    assert int(fresh.steps) == 2 and fresh._host_steps == 2


def test_momentum_zero_copies_the_query_encoder_every_step():
    torch.manual_seed(0)
    query = nn.Linear(3, 4)
    ema = MomentumEncoder(query, momentum=0.0)  # mmengine's own EMA refuses this value
    ema.update_parameters(query)
    with torch.no_grad():
        query.weight.mul_(2.0)
    ema.update_parameters(query)
    assert torch.equal(ema.module.weight, query.weight)
