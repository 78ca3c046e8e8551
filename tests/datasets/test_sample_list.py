"""SampleList: the batch's data samples, pickled as content, rebuilt on first access."""

import pickle

import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.model import BaseDataPreprocessor
from torch.utils.data import DataLoader

import msclr_mm  # noqa: F401
from msclr_mm.datasets import SampleList
from msclr_mm.datasets.transforms import multi_skeleton_collate

from .transforms.test_formatting import fake_sample


def packed(n=6):
    out = []
    for i in range(n):
        s = ActionDataSample().set_gt_label(i % 4)
        s.set_metainfo(dict(frame_dir=f'c{i}', sample_idx=i, view_formats={'query': 'x'}))
        out.append(s)
    return out


def test_pickles_content_and_builds_lazily():
    samples = packed()
    data = pickle.dumps(SampleList(samples))
    assert len(data) < len(pickle.dumps(samples)) / 3
    back = pickle.loads(data)
    assert len(back) == 6 and back._samples is None  # len() builds nothing
    assert back.labels.tolist() == [0, 1, 2, 3, 0, 1]
    assert [m['frame_dir'] for m in back.metainfo] == [f'c{i}' for i in range(6)]
    assert back._samples is None
    for a, b in zip(samples, back):
        assert type(b) is ActionDataSample
        assert torch.equal(a.gt_label, b.gt_label) and a.gt_label.dtype == b.gt_label.dtype
        assert a.metainfo == b.metainfo and b.keys() == ['gt_label']
    assert back[1:3] == list(back)[1:3] and back[-1].frame_dir == 'c5'


def test_fields_set_on_built_samples_persist_and_are_pickled():
    lst = pickle.loads(pickle.dumps(SampleList(packed(3))))
    lst[1].set_field(torch.ones(2), 'pred_feature')
    assert torch.equal(lst[1].pred_feature, torch.ones(2))  # the same object next time
    assert lst.content() is None  # no longer plain: pickled as samples
    back = pickle.loads(pickle.dumps(lst))
    assert torch.equal(back[1].pred_feature, torch.ones(2)) and 'pred_feature' not in back[0]
    with pytest.raises(ValueError, match='more than a gt_label'):
        _ = lst.labels


def test_samples_without_label_or_with_other_labels():
    s = ActionDataSample()
    s.set_metainfo(dict(frame_dir='a'))
    back = pickle.loads(pickle.dumps(SampleList([s])))
    assert back.labels.tolist() == [-1] and 'gt_label' not in back[0]
    multi = ActionDataSample().set_gt_label(torch.tensor([1, 2]))
    assert SampleList([multi]).content() is None  # kept as a sample
    assert pickle.loads(pickle.dumps(SampleList([multi])))[0].gt_label.tolist() == [1, 2]
    with pytest.raises(ValueError, match='2 labels but 1 metainfo'):
        SampleList.from_content(np.zeros(2, np.int64), [{}])


def test_mmengine_cast_data_keeps_a_sample_list():
    moved = BaseDataPreprocessor().cast_data(dict(data_samples=SampleList(packed(3))))
    assert isinstance(moved['data_samples'], SampleList) and len(moved['data_samples']) == 3
    assert moved['data_samples'][2].frame_dir == 'c2'


def test_collate_through_worker_processes():
    samples = [fake_sample(i, dict(query='x', key='y')) for i in range(8)]
    loader = DataLoader(samples, batch_size=4, num_workers=1, collate_fn=multi_skeleton_collate)
    batches = list(loader)
    assert [type(b['data_samples']) for b in batches] == [SampleList] * 2
    second = batches[1]['data_samples']
    assert second._samples is None  # crossed the process boundary as content
    assert second.labels.tolist() == [i % 3 for i in range(4, 8)]
    assert [s.frame_dir for s in second] == [f'c{i}' for i in range(4, 8)]
    assert [s.sample_idx for s in second] == list(range(4, 8))


def test_collate_switch_from_a_config():
    from mmengine.runner import Runner

    samples = [fake_sample(i, dict(query='x', key='y')) for i in range(4)]
    for compact, kind in ((True, SampleList), (False, list)):
        loader = Runner.build_dataloader(
            dict(
                dataset=samples,
                batch_size=4,
                num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='multi_skeleton_collate', compact_samples=compact),
            )
        )
        batch = next(iter(loader))
        assert type(batch['data_samples']) is kind
        assert [s.frame_dir for s in batch['data_samples']] == ['c0', 'c1', 'c2', 'c3']


def test_the_pin_memory_thread_leaves_it_packed():
    from torch.utils.data._utils.pin_memory import pin_memory

    lst = pickle.loads(pickle.dumps(SampleList(packed(4))))
    batch = pin_memory(dict(data_samples=lst))  # what the DataLoader's pinning thread does
    assert batch['data_samples'] is lst and lst._samples is None
