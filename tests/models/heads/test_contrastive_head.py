import math

import pytest
import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.heads import ContrastiveHead, ddm_loss


def test_infonce_matches_hand_computation():
    head = ContrastiveHead(temperature=0.5)
    pos = torch.tensor([[0.5], [0.0]])
    neg = torch.tensor([[0.1, -0.2], [0.3, 0.3]])
    # row 0: logits 1, 0.2, -0.4 ; row 1: 0, 0.6, 0.6
    l0 = -math.log(math.exp(1) / (math.exp(1) + math.exp(0.2) + math.exp(-0.4)))
    l1 = -math.log(1 / (1 + 2 * math.exp(0.6)))
    assert head.loss(pos, neg).item() == pytest.approx((l0 + l1) / 2, rel=1e-6)
    torch.testing.assert_close(head.logits(pos, neg)[0], torch.tensor([1.0, 0.2, -0.4]))


def test_multi_positive_loss_and_its_reduction_to_infonce():
    head = ContrastiveHead(temperature=1.0)
    pos = torch.tensor([[1.0]])
    neg = torch.tensor([[0.0, 2.0]])
    z = math.exp(1) + 1 + math.exp(2)
    mask = torch.tensor([[1.0, 0.0, 1.0]])
    expected = -(math.log(math.exp(1) / z) + math.log(math.exp(2) / z)) / 2
    assert head.loss(pos, neg, mask).item() == pytest.approx(expected, rel=1e-6)
    only_first = torch.tensor([[1.0, 0.0, 0.0]])
    assert head.loss(pos, neg, only_first).item() == pytest.approx(head.loss(pos, neg).item())
    with pytest.raises(ValueError, match='pos_mask'):
        head.loss(pos, neg, torch.ones(1, 2))


def test_loss_weight_and_temperature_validation():
    pos, neg = torch.tensor([[0.3]]), torch.tensor([[0.1]])
    a = ContrastiveHead(temperature=0.2).loss(pos, neg)
    b = ContrastiveHead(temperature=0.2, loss_weight=0.5).loss(pos, neg)
    assert b.item() == pytest.approx(0.5 * a.item())
    with pytest.raises(ValueError, match='temperature'):
        ContrastiveHead(temperature=0.0)


def test_ddm_loss_hand_value_and_no_gradient_to_target():
    target = torch.tensor([[0.0, math.log(2.0)]], requires_grad=True)  # p = (1/3, 2/3)
    student = torch.tensor([[0.0, 0.0]], requires_grad=True)  # q = (1/2, 1/2)
    loss = ddm_loss(target, student)
    assert loss.item() == pytest.approx(math.log(2.0), rel=1e-6)
    loss.backward()
    assert target.grad is None
    # d/dz of -sum p log softmax(z) = softmax(z) - p
    torch.testing.assert_close(student.grad, torch.tensor([[0.5 - 1 / 3, 0.5 - 2 / 3]]))
    # the divergence is minimal (the entropy of p) when the distributions agree
    same = ddm_loss(target, target.detach().clone())
    entropy = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))
    assert same.item() == pytest.approx(entropy, rel=1e-6)
    with pytest.raises(ValueError, match='DDM'):
        ddm_loss(torch.zeros(1, 3), torch.zeros(1, 2))
