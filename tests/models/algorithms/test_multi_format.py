import pytest
import torch

import msclr_mm  # noqa: F401
from msclr_mm.models.algorithms import iter_groups, scatter_rows


def test_scatter_rows_restores_batch_order_and_is_differentiable():
    a = torch.tensor([[10.0], [30.0]], requires_grad=True)
    b = torch.tensor([[20.0], [0.0], [40.0]], requires_grad=True)
    out = scatter_rows([(torch.tensor([1, 3]), a), (torch.tensor([2, 0, 4]), b)], 5)
    assert out[:, 0].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]
    (out[:, 0] * torch.arange(5.0)).sum().backward()
    assert a.grad[:, 0].tolist() == [1.0, 3.0]
    assert b.grad[:, 0].tolist() == [2.0, 0.0, 4.0]


def test_scatter_rows_requires_exact_cover():
    rows = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="view 'key' has 2 rows .* batch size 3"):
        scatter_rows([(torch.tensor([0, 1]), rows)], 3, 'key')
    with pytest.raises(ValueError, match='no format group'):
        scatter_rows([], 3, 'key')


def test_iter_groups_checks_the_contract():
    good = {'kinect25': {'keypoint': torch.zeros(2, 1, 4, 25, 3), 'index': torch.tensor([1, 0])}}
    assert [(f, i.tolist()) for f, _, i in iter_groups(good)] == [('kinect25', [1, 0])]
    with pytest.raises(KeyError, match="view 'query', format 'kinect25'.*'index'"):
        list(iter_groups({'kinect25': {'keypoint': torch.zeros(2)}}, 'query'))
    bad_index = {'smpl24': {'keypoint': torch.zeros(2, 1, 4, 24, 3), 'index': torch.tensor([0])}}
    with pytest.raises(ValueError, match="format 'smpl24'.*expected \\(2,\\)"):
        list(iter_groups(bad_index, 'query'))
