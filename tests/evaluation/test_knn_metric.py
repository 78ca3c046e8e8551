import math

import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample
from torch.utils.data import DataLoader, Dataset

import msclr_mm  # noqa: F401
from msclr_mm.evaluation import KNNEvalDataset, KNNMetric, knn_classify


def test_weighted_vote_matches_hand_computation():
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 2])
    query = torch.tensor([[2.0, 0.0], [0.0, -1.0]])  # normalised inside
    # query 0: sims 1, 0, 0.6, -1 -> top-3 (1 -> class 0), (0.6 -> 1), (0 -> 1)
    # votes: class 0 exp(1/t), class 1 exp(0.6/t) + exp(0) -> class 0 if t small, 1 if t large
    pred, nn1 = knn_classify(query, bank, labels, 3, k=3, temperature=0.1)
    assert pred[0].item() == 0 and nn1[0].item() == 0
    t = 10.0
    assert math.exp(1 / t) < math.exp(0.6 / t) + 1  # so the vote flips
    pred, _ = knn_classify(query, bank, labels, 3, k=3, temperature=t)
    assert pred[0].item() == 1
    # query 1: sims 0, -1, -0.8, 0 -> nearest is index 0 (ties resolved by topk order) or 3
    pred, nn1 = knn_classify(query, bank, labels, 3, k=1, temperature=0.07, chunk_size=1)
    assert nn1[1].item() in (0, 2) and pred.tolist() == nn1.tolist()


def sample(feat, label, bank, fmt='kinect25'):
    return dict(
        pred_feature={fmt: torch.tensor(feat)}, gt_label=torch.tensor([label]), knn_bank=bank
    )


def test_metric_per_format_and_means():
    m = KNNMetric(k=1)
    m.process(
        None,
        [
            sample([1.0, 0.0], 0, True),
            sample([0.0, 1.0], 1, True),
            sample([0.9, 0.1], 0, False),
            sample([0.8, 0.2], 1, False),  # second is wrong
            sample([1.0, 0.0], 0, True, 'smpl24'),
            sample([0.0, 1.0], 1, True, 'smpl24'),
            sample([0.1, 0.9], 1, False, 'smpl24'),
        ],
    )
    out = m.evaluate(len(m.results))
    assert out['knn/kinect25_top1'] == 0.5 and out['knn/kinect25_nn1'] == 0.5
    assert out['knn/smpl24_top1'] == 1.0
    assert out['knn/top1'] == pytest.approx(0.75) and out['knn/nn1'] == pytest.approx(0.75)


def test_metric_errors():
    m = KNNMetric()
    m.process(None, [sample([1.0, 0.0], 0, False)])
    with pytest.raises(ValueError, match='KNNEvalDataset'):
        m.compute_metrics(m.results)
    with pytest.raises(KeyError, match="no 'pred_feature'"):
        m.process(None, [dict(gt_label=torch.tensor([0]), frame_dir='S001')])
    with pytest.raises(ValueError, match='k must be'):
        KNNMetric(k=0)


class FakeSkeletons(Dataset):
    """Packed samples in the batch contract (one view per format), distinct random clips."""

    def __init__(self, n=6, seed=0):
        rng = np.random.default_rng(seed)
        self.items = [
            (rng.standard_normal((2, 8, 25, 3)).astype(np.float32), i % 3) for i in range(n)
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        kp, label = self.items[i]
        ds = ActionDataSample(metainfo=dict(frame_dir=f'clip{i}', formats=['kinect25']))
        ds.set_gt_label(label)
        return dict(inputs={'kinect25': {'format': 'kinect25', 'keypoint': kp}}, data_samples=ds)


def collate(batch):
    inputs = {}
    for i, item in enumerate(batch):
        for view, d in item['inputs'].items():
            g = inputs.setdefault(view, {}).setdefault(d['format'], {'keypoint': [], 'index': []})
            g['keypoint'].append(torch.from_numpy(d['keypoint']))
            g['index'].append(i)
    for groups in inputs.values():
        for g in groups.values():
            g['keypoint'] = torch.stack(g['keypoint'])
            g['index'] = torch.tensor(g['index'])
    return dict(inputs=inputs, data_samples=[item['data_samples'] for item in batch])


def test_knn_dataset_flags_bank_samples():
    ds = KNNEvalDataset(bank=FakeSkeletons(2), query=FakeSkeletons(3, seed=1))
    assert len(ds) == 5
    assert [ds[i]['data_samples'].knn_bank for i in range(5)] == [True, True, False, False, False]
    assert ds[-1]['data_samples'].frame_dir == 'clip2'


def test_knn_validation_through_mmengine_valloop(tmp_path):
    from mmengine.runner import Runner

    from tests.models.algorithms.helpers import tiny_cfg

    same = FakeSkeletons(6)
    loader = DataLoader(KNNEvalDataset(bank=same, query=same), batch_size=4, collate_fn=collate)
    runner = Runner(
        model=tiny_cfg('SkeletonCLR'),
        work_dir=str(tmp_path),
        val_dataloader=loader,
        val_cfg=dict(),
        val_evaluator=dict(type='KNNMetric', k=3),
        default_scope='mmaction',
        default_hooks=dict(logger=None, checkpoint=None),
    )
    metrics = runner.val()
    # the query split equals the bank: every clip's nearest bank entry is itself
    assert metrics['knn/kinect25_nn1'] == 1.0
    assert metrics['knn/nn1'] == 1.0
    assert 0.0 <= metrics['knn/top1'] <= 1.0
