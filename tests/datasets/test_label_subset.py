import json
from unittest import mock

import mmengine
import numpy as np
import pytest

import msclr_mm  # noqa: F401  (registers the plugin)
from msclr_mm.datasets import LabelSubsetDataset
from msclr_mm.datasets.label_subset import select_label_subset, subset_counts
from tests.conftest import REPO_ROOT, run_python

SIZES = {0: 100, 1: 50, 2: 7, 3: 1, 4: 15}


def make_labels(sizes=SIZES, seed=0):
    labels = np.concatenate([np.full(n, c) for c, n in sizes.items()])
    return np.random.default_rng(seed).permutation(labels)  # classes interleaved


class LabelList:
    """A minimal dataset: get_data_info(i)['label'], items are (index, label)."""

    metainfo = dict(classes=('a', 'b', 'c', 'd', 'e'), source='labels')

    def __init__(self, labels):
        self.labels = list(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return (i, self.labels[i])

    def get_data_info(self, i):
        return dict(frame_dir=f'clip{i:04d}', label=self.labels[i])


def test_counts_follow_fraction_with_half_up_rounding_and_minimum():
    assert subset_counts(SIZES, 0.1, 1) == {0: 10, 1: 5, 2: 1, 3: 1, 4: 2}  # 1.5 -> 2
    assert subset_counts({0: 5}, 0.1, 1) == {0: 1}  # 0.5 -> 1 (half up)
    assert subset_counts({0: 5}, 0.1, 0) == {0: 1}
    assert subset_counts({0: 4}, 0.1, 0) == {0: 0}
    assert subset_counts(SIZES, 0.01, 1) == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1}
    assert subset_counts({0: 3}, 0.01, 5) == {0: 3}  # never more than the class has


def test_subset_is_class_balanced_and_made_of_the_right_clips():
    labels = make_labels()
    ds = LabelSubsetDataset(LabelList(labels), fraction=0.1, seed=3)
    kept = np.array(ds.get_labels())
    assert np.bincount(kept).tolist() == [10, 5, 1, 1, 2]
    assert len(ds) == 19 and len(set(ds.indices.tolist())) == 19
    assert np.all(np.diff(ds.indices) > 0)
    for i in range(len(ds)):
        orig, y = ds[i]
        assert orig == ds.indices[i] and y == labels[orig] == kept[i]
        assert ds.get_data_info(i)['frame_dir'] == f'clip{orig:04d}'
    assert ds.metainfo == LabelList.metainfo


def test_same_seed_same_subset_other_seed_other_subset():
    labels = make_labels()
    a = select_label_subset(labels, 0.1, seed=0)
    b = select_label_subset(labels, 0.1, seed=0)
    c = select_label_subset(labels, 0.1, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(np.bincount(labels[a]), np.bincount(labels[c]))


def test_subset_is_the_same_in_another_process_with_another_hash_seed():
    labels = make_labels()
    here = select_label_subset(labels, 0.1, seed=5).tolist()
    code = (
        'import json, numpy as np\n'
        'from msclr_mm.datasets.label_subset import select_label_subset\n'
        'from tests.datasets.test_label_subset import make_labels\n'
        'print(json.dumps(select_label_subset(make_labels(), 0.1, seed=5).tolist()))\n'
    )
    proc = run_python(['-c', code], cwd=REPO_ROOT, env={'PYTHONHASHSEED': '12345'})
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == here


@pytest.mark.parametrize('fraction', [0, 0.0, -0.1, 1.01, 10])
def test_fraction_out_of_bounds_is_refused(fraction):
    with pytest.raises(ValueError, match=r'fraction must be in \(0, 1\]'):
        LabelSubsetDataset(LabelList(make_labels()), fraction=fraction)


def test_bad_arguments_and_labels_are_refused():
    with pytest.raises(TypeError, match='fraction must be a number'):
        LabelSubsetDataset(LabelList([0, 1]), fraction='10%')
    with pytest.raises(ValueError, match='min_per_class'):
        LabelSubsetDataset(LabelList([0, 1]), fraction=0.5, min_per_class=-1)
    with pytest.raises(ValueError, match='sample 1 of LabelList has label'):
        LabelSubsetDataset(LabelList([0, [1, 2]]), fraction=0.5)

    class NoLabel(LabelList):
        def get_data_info(self, i):
            return dict(frame_dir=f'clip{i}')

    with pytest.raises(KeyError, match="sample clip0 of NoLabel has no 'label'"):
        LabelSubsetDataset(NoLabel([0, 1]), fraction=0.5)


def test_fraction_one_keeps_everything():
    labels = make_labels()
    ds = LabelSubsetDataset(LabelList(labels), fraction=1.0)
    assert ds.indices.tolist() == list(range(len(labels)))


def test_get_labels_of_wrapped_dataset_is_preferred():
    class Fast(LabelList):
        def get_labels(self):
            return self.labels

        def get_data_info(self, i):
            raise AssertionError('get_data_info must not be called when get_labels exists')

    ds = LabelSubsetDataset(Fast(make_labels()), fraction=0.1, lazy_init=True)
    assert len(ds) == 19  # lazy: selected on first use


def test_counts_are_logged():
    with mock.patch('msclr_mm.datasets.label_subset.print_log') as log:
        LabelSubsetDataset(LabelList(make_labels()), fraction=0.1)
    msg = log.call_args[0][0]
    assert 'kept 19 of 173 clips' in msg and '5 classes, 1-10 clips per class' in msg


def test_wraps_an_mmaction2_dataset_from_config(tmp_path):
    anns = [
        dict(
            frame_dir=f'v{i:03d}',
            label=i % 3,
            total_frames=4,
            keypoint=np.zeros((1, 4, 17, 2), np.float32),
        )
        for i in range(30)
    ]
    ann_file = str(tmp_path / 'ann.pkl')
    mmengine.dump(
        dict(split=dict(train=[a['frame_dir'] for a in anns]), annotations=anns), ann_file
    )
    ds = LabelSubsetDataset(
        dataset=dict(type='PoseDataset', ann_file=ann_file, split='train', pipeline=[]),
        fraction=0.2,
        seed=0,
    )
    assert len(ds) == 6
    assert sorted(ds.get_labels()) == [0, 0, 1, 1, 2, 2]
    item = ds[0]
    assert item['frame_dir'] == f'v{ds.indices[0]:03d}' and item['label'] == ds.indices[0] % 3
    from mmaction.registry import DATASETS

    assert DATASETS.get('LabelSubsetDataset') is LabelSubsetDataset
