import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

from .helpers import build, clips, embed_one, embed_one_drop, view

N = 5
Q_FMT = ['kinect25', 'smpl24', 'kinect25', 'smpl24', 'smpl24']
K_FMT = ['smpl24', 'smpl24', 'kinect25', 'kinect25', 'kinect25']
T = 0.07


@pytest.fixture
def epoch():
    hub = MessageHub.get_instance(f'test_aimclr_{id(object())}')

    def set_epoch(e):
        hub.update_info('epoch', e)
        assert MessageHub.get_current_instance() is hub

    return set_epoch


def setup():
    model = build('AimCLR', mining_epoch=150, topk=1)
    model.eval()
    model.update_key_encoder()
    q_raw, e_raw, k_raw = clips(N, seed=1), clips(N, seed=2), clips(N, seed=3)
    inputs = {
        'query': view(q_raw, Q_FMT),
        'query_extreme': view(e_raw, Q_FMT),
        'key': view(k_raw, K_FMT),
    }
    with torch.no_grad():
        q = torch.stack([embed_one(model, q_raw[f][i], f) for i, f in enumerate(Q_FMT)])
        ed = [embed_one_drop(model, e_raw[f][i], f) for i, f in enumerate(Q_FMT)]
        qe = torch.stack([a for a, _ in ed])
        qed = torch.stack([b for _, b in ed])
        k = torch.stack([embed_one(model, k_raw[f][i], f, key=True) for i, f in enumerate(K_FMT)])
    return model, inputs, q, qe, qed, k, model.queue.negatives()


def logits_of(z, k, queue):
    return torch.cat([(z * k).sum(1, keepdim=True), z @ queue], 1) / T


def test_losses_match_reference_formulas_before_mining(epoch):
    # 0-based epoch 149 is the reference's 150th (1-based, and it mines when epoch >
    # mining_epoch): the last plain one
    epoch(149)
    model, inputs, q, qe, qed, k, queue = setup()
    assert not model.mining_active()
    out = model.loss(inputs)
    assert set(out) == {
        'loss_nce',
        'loss_ddm_extreme',
        'loss_ddm_drop',
        'pos_sim',
        'neg_sim',
        'nce_acc',
        'mining',
    }
    logits = logits_of(q, k, queue)
    target = torch.softmax(logits, 1)
    nce = F.cross_entropy(logits, torch.zeros(N, dtype=torch.long))
    ddm_e = -torch.mean(torch.sum(torch.log(torch.softmax(logits_of(qe, k, queue), 1)) * target, 1))
    ddm_ed = -torch.mean(
        torch.sum(torch.log(torch.softmax(logits_of(qed, k, queue), 1)) * target, 1)
    )
    tol = dict(rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out['loss_nce'], nce, **tol)
    torch.testing.assert_close(out['loss_ddm_extreme'], 0.5 * ddm_e, **tol)
    torch.testing.assert_close(out['loss_ddm_drop'], 0.5 * ddm_ed, **tol)
    assert out['mining'].item() == 0.0
    # the dropped branch really differs from the plain extreme branch
    assert not torch.allclose(qe, qed)


def test_mining_switches_on_at_mining_epoch_with_union_of_topk(epoch):
    epoch(150)  # the reference's 151st epoch (1-based): the first with mining
    model, inputs, q, qe, qed, k, queue = setup()
    assert model.mining_active()
    out = model.loss(inputs)
    assert out['mining'].item() == 1.0
    logits = logits_of(q, k, queue)
    mask = torch.zeros(N, queue.shape[1])
    for z in (q, qe, qed):
        mask[torch.arange(N), (z @ queue).argmax(1)] = 1.0
    mask = torch.cat([torch.ones(N, 1), mask], 1)
    expected = (-(F.log_softmax(logits, 1) * mask).sum(1) / mask.sum(1)).mean()
    torch.testing.assert_close(out['loss_nce'], expected, rtol=1e-4, atol=1e-5)
    plain = F.cross_entropy(logits, torch.zeros(N, dtype=torch.long))
    assert abs(out['loss_nce'].item() - plain.item()) > 1e-3


def test_neighbour_mask_topk():
    model = build('AimCLR', topk=2)
    a = torch.tensor([[0.1, 0.9, 0.5, 0.0]])
    b = torch.tensor([[0.8, 0.0, 0.1, 0.7]])
    assert model.neighbour_mask(a, b).tolist() == [[1.0, 1.0, 1.0, 1.0, 1.0]]
    assert model.neighbour_mask(a).tolist() == [[1.0, 0.0, 1.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match='topk'):
        build('AimCLR', topk=0)


def test_training_step_backpropagates_through_all_branches(epoch):
    epoch(0)
    model = build('AimCLR')
    model.train()
    data = clips(4, seed=5)
    fm = ['kinect25', 'smpl24', 'smpl24', 'kinect25']
    inputs = {
        'query': view(data, fm),
        'query_extreme': view(clips(4, seed=6), fm),
        'key': view(data, fm[::-1]),
    }
    out = model.loss(inputs)
    out['loss_ddm_drop'].backward()
    assert model.backbone.blocks[1].tcn_conv.weight.grad.abs().sum() > 0
    with pytest.raises(KeyError, match="no view 'query_extreme'"):
        model.loss({'query': inputs['query'], 'key': inputs['key']})
