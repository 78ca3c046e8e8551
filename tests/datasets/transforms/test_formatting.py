import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.registry import FUNCTIONS
from torch.utils.data import DataLoader

import msclr_mm  # noqa: F401
from msclr_mm.datasets import MultiSkeletonDataset
from msclr_mm.datasets.transforms import (
    BatchFormat,
    PackMultiSkeletonInputs,
    multi_skeleton_collate,
)

PRETRAIN = [
    dict(type='SampleFormatViews', rule='random'),
    dict(type='SampleSkeletonFrames', clip_len=50),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]
EVAL = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=20, num_clips=2, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]


def fake_sample(i, views):
    return PackMultiSkeletonInputs()(
        dict(
            views={v: dict(format=f, keypoint=np.full((2, 4, 3, 3), i, np.float32)) for v, f in views.items()},
            label=i % 3, frame_dir=f'c{i}', formats=('x', 'y'), sample_idx=i,
        )
    )  # fmt: skip


def test_pack():
    s = fake_sample(4, dict(query='x', key='y'))
    assert set(s) == {'inputs', 'data_samples'}
    ds = s['data_samples']
    assert isinstance(ds, ActionDataSample) and ds.gt_label.tolist() == [1]
    assert ds.frame_dir == 'c4' and ds.formats == ('x', 'y') and ds.sample_idx == 4
    assert s['inputs']['key']['format'] == 'y'


def test_collate_groups_by_view_and_format_with_batch_index():
    assert FUNCTIONS.get('multi_skeleton_collate') is multi_skeleton_collate
    picks = [('x', 'y'), ('y', 'y'), ('x', 'x'), ('y', 'x'), ('x', 'y')]
    batch = multi_skeleton_collate(
        [fake_sample(i, dict(query=q, key=k)) for i, (q, k) in enumerate(picks)]
    )
    q = batch['inputs']['query']
    assert set(q) == {'x', 'y'}
    assert q['x']['index'].tolist() == [0, 2, 4] and q['x']['index'].dtype == torch.long
    assert q['y']['index'].tolist() == [1, 3]
    assert batch['inputs']['key']['y']['index'].tolist() == [0, 1, 4]
    assert q['x']['keypoint'].shape == (3, 2, 4, 3, 3) and q['x']['keypoint'].dtype == torch.float32
    # each row is the sample its index says
    for view in batch['inputs'].values():
        for group in view.values():
            for row, i in zip(group['keypoint'], group['index']):
                assert (row == i).all()
    assert [d.frame_dir for d in batch['data_samples']] == [f'c{i}' for i in range(5)]


def test_pretrain_pipeline_through_a_dataloader(demo_files, cache_dir):
    ds = MultiSkeletonDataset(
        demo_files, split='xsub_train', cache_dir=cache_dir, pipeline=PRETRAIN
    )
    loader = DataLoader(
        ds, batch_size=16, shuffle=True, num_workers=2, collate_fn=multi_skeleton_collate
    )
    batch = next(iter(loader))
    n = 0
    for view in ('query', 'key'):
        rows = []
        for fmt, g in batch['inputs'][view].items():
            V = {'kinect25': 25, 'smpl24': 24, 'coco17': 17}[fmt]
            assert g['keypoint'].shape[1:] == (2, 50, V, 3)
            assert torch.isfinite(g['keypoint']).all() and g['keypoint'].abs().max() < 20
            rows += g['index'].tolist()
        assert sorted(rows) == list(range(16))
        n += 1
    assert n == 2 and len(batch['data_samples']) == 16


def test_eval_pipeline_views_per_format(demo_files, cache_dir):
    ds = MultiSkeletonDataset(
        demo_files, split='xsub_val', cache_dir=cache_dir, pipeline=EVAL, test_mode=True
    )
    a, b = ds[3], ds[3]
    assert set(a['inputs']) == {'kinect25', 'smpl24', 'coco17'}
    for f, v in a['inputs'].items():
        assert v['format'] == f and v['keypoint'].shape[:3] == (2, 2, 20)
        np.testing.assert_array_equal(v['keypoint'], b['inputs'][f]['keypoint'])
    batch = multi_skeleton_collate([ds[i] for i in range(4)])
    assert batch['inputs']['smpl24']['smpl24']['keypoint'].shape == (4, 2, 2, 20, 24, 3)


def candidates_sample(i, views, formats=('x', 'y')):
    kps = {f: np.full((2, 4, 3, 3), i, np.float32) for f in formats}
    return PackMultiSkeletonInputs()(
        dict(
            views={v: dict(format=tuple(formats), keypoint=kps) for v in views},
            label=0, frame_dir=f'c{i}', formats=tuple(formats),
        )
    )  # fmt: skip


def test_balanced_formats_sizes_candidates_and_errors():
    from msclr_mm.datasets.transforms.formatting import balanced_formats

    np.random.seed(0)
    picks = balanced_formats([('y', 'x')] * 7)
    assert picks.count('x') == 4 and picks.count('y') == 3  # sorted formats take the rest
    three = balanced_formats([('a', 'b', 'c')] * 32)
    assert [three.count(f) for f in 'abc'] == [11, 11, 10]
    mixed = balanced_formats([('x',), ('x', 'y'), ('x', 'y'), ('y',)])
    assert mixed[0] == 'x' and mixed[3] == 'y' and sorted(mixed[1:3]) == ['x', 'y']
    with pytest.raises(ValueError, match='no candidate'):
        balanced_formats([('x',), ()])


def test_balanced_formats_is_uniform_per_row_over_batches():
    from msclr_mm.datasets.transforms.formatting import balanced_formats

    np.random.seed(1)
    counts = np.zeros(6)
    for _ in range(2000):
        counts += np.array([f == 'x' for f in balanced_formats([('x', 'y')] * 6)])
    assert np.all(np.abs(counts / 2000 - 0.5) < 0.05)


def test_collate_draws_balanced_groups_with_fixed_shapes():
    np.random.seed(0)
    for _ in range(3):
        batch = multi_skeleton_collate([candidates_sample(i, ('query', 'key')) for i in range(9)])
        for view in ('query', 'key'):
            groups = batch['inputs'][view]
            assert {f: len(g['index']) for f, g in groups.items()} == {'x': 5, 'y': 4}
            idx = torch.cat([g['index'] for g in groups.values()])
            assert sorted(idx.tolist()) == list(range(9))
            for g in groups.values():
                assert g['index'].tolist() == sorted(g['index'].tolist())
                for row, i in zip(g['keypoint'], g['index']):
                    assert (row == i).all()


def test_balanced_rule_through_the_pipeline(demo_files, cache_dir):
    pipeline = [dict(PRETRAIN[0], rule='balanced')] + PRETRAIN[1:]
    ds = MultiSkeletonDataset(
        demo_files, split='xsub_train', cache_dir=cache_dir, pipeline=pipeline
    )
    sample = ds[0]
    assert sample['inputs']['query']['format'] == ('kinect25', 'smpl24', 'coco17')
    assert set(sample['inputs']['query']['keypoint']) == {'kinect25', 'smpl24', 'coco17'}
    batch = multi_skeleton_collate([ds[i] for i in range(32)])
    sizes = {f: len(g['index']) for f, g in batch['inputs']['key'].items()}
    assert sizes == {'coco17': 11, 'kinect25': 11, 'smpl24': 10}


def test_batch_rule_gives_each_view_one_format_per_batch(demo_files, cache_dir):
    """Rule 'batch' (the MS-CLR reference's batches): every row of a view in one format."""
    pipeline = [dict(PRETRAIN[0], rule='batch')] + PRETRAIN[1:]
    ds = MultiSkeletonDataset(
        demo_files, split='xsub_train', cache_dir=cache_dir, pipeline=pipeline
    )
    sample = ds[0]
    assert isinstance(sample['inputs']['query']['format'], BatchFormat)
    np.random.seed(0)
    seen = {'query': set(), 'key': set()}
    pairs = set()
    for _ in range(12):
        batch = multi_skeleton_collate([ds[i] for i in range(8)])
        picked = {}
        for view, groups in batch['inputs'].items():
            assert len(groups) == 1  # one format for the whole view
            ((fmt, group),) = groups.items()
            assert group['index'].tolist() == list(range(8))
            seen[view].add(fmt)
            picked[view] = fmt
        pairs.add((picked['query'], picked['key']))
    assert seen['query'] == seen['key'] == {'kinect25', 'smpl24', 'coco17'}
    assert len(pairs) > 3  # the views are drawn independently


def test_batch_rule_needs_a_format_every_clip_has():
    def sample(i, formats):
        kps = {f: np.zeros((1, 4, 3, 3), np.float32) for f in formats}
        return PackMultiSkeletonInputs()(
            dict(
                views={'query': dict(format=BatchFormat(formats), keypoint=kps)},
                label=0, frame_dir=f'c{i}', formats=tuple(formats),
            )
        )  # fmt: skip

    np.random.seed(0)
    got = multi_skeleton_collate([sample(0, ('x', 'y')), sample(1, ('y',))])
    assert list(got['inputs']['query']) == ['y']
    with pytest.raises(ValueError, match=r"rule 'batch'.*c0: \['x'\], c1: \['y'\]"):
        multi_skeleton_collate([sample(0, ('x',)), sample(1, ('y',))])


def _odd_sample(i, views):
    """Groups whose sizes are not multiples of the 64-byte alignment."""
    return PackMultiSkeletonInputs()(
        dict(
            views={
                v: dict(format=f, keypoint=np.random.rand(1, 3, 5 if f == 'x' else 7, 3).astype(np.float32))
                for v, f in views.items()
            },
            label=0, frame_dir=f'c{i}', formats=('x', 'y'),
        )
    )  # fmt: skip


def test_one_buffer_equals_separate_tensors_and_shares_one_storage():
    np.random.seed(3)
    picks = [('x', 'y'), ('y', 'y'), ('x', 'x'), ('y', 'x'), ('x', 'y')]
    data = [_odd_sample(i, dict(query=q, key=k)) for i, (q, k) in enumerate(picks)]
    one = multi_skeleton_collate(data)
    separate = multi_skeleton_collate(data, one_buffer=False)
    storages = set()
    for view, groups in separate['inputs'].items():
        assert set(one['inputs'][view]) == set(groups)
        for fmt, group in groups.items():
            for key, ref in group.items():
                got = one['inputs'][view][fmt][key]
                assert got.dtype == ref.dtype and got.shape == ref.shape
                torch.testing.assert_close(got, ref, rtol=0, atol=0)
                assert got.is_contiguous() and got.data_ptr() % 64 == 0
                storages.add(got.untyped_storage().data_ptr())
    assert len(storages) == 1  # every tensor a view of one buffer
    # not shared memory outside a worker: nothing to pickle
    assert not next(iter(one['inputs']['query'].values()))['keypoint'].is_shared()


def test_one_buffer_through_worker_processes_arrives_as_one_segment():
    data = [_odd_sample(i, dict(query='x' if i % 2 else 'y', key='y')) for i in range(12)]
    for one_buffer in (True, False):
        loader = DataLoader(
            data,
            batch_size=6,
            num_workers=1,
            collate_fn=lambda b, one_buffer=one_buffer: multi_skeleton_collate(
                b, one_buffer=one_buffer
            ),
        )
        batches = list(loader)
        tensors = [t for b in batches for v in b['inputs'].values() for g in v.values() for t in g.values()]  # fmt: skip
        assert all(t.is_shared() for t in tensors)
        per_batch = [
            {t.untyped_storage().data_ptr() for v in b['inputs'].values() for g in v.values() for t in g.values()}
            for b in batches
        ]  # fmt: skip
        assert [len(s) for s in per_batch] == ([1, 1] if one_buffer else [6, 6])
        reference = multi_skeleton_collate(data[:6], one_buffer=False)
        for view, groups in reference['inputs'].items():
            for fmt, group in groups.items():
                for key, ref in group.items():
                    torch.testing.assert_close(batches[0]['inputs'][view][fmt][key], ref)


def test_collate_names_the_clips_when_shapes_differ():
    data = [fake_sample(i, dict(query='x', key='y')) for i in range(3)]
    data[1]['inputs']['query']['keypoint'] = np.zeros((2, 7, 3, 3), np.float32)
    for one_buffer in (True, False):
        with pytest.raises(ValueError, match=r"view 'query', format 'x'.*c1: \(2, 7, 3, 3\)"):
            multi_skeleton_collate(data, one_buffer=one_buffer)


def test_batch_buffer_is_shared_inside_a_worker(monkeypatch):
    from msclr_mm.datasets.transforms import formatting

    assert not formatting.batch_buffer(100).is_shared()
    monkeypatch.setattr(formatting, 'get_worker_info', lambda: object())
    buf = formatting.batch_buffer(100)
    assert buf.is_shared() and buf.shape == (100,) and buf.dtype == torch.uint8
    # without torch's private allocator: the public (copying) route, same result
    monkeypatch.setattr(torch.UntypedStorage, '_new_shared', None, raising=False)
    buf = formatting.batch_buffer(100)
    assert buf.is_shared() and buf.shape == (100,)
