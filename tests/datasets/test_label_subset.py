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


@pytest.mark.parametrize('fraction', [0.5, 1.0])
def test_multi_skeleton_dataset_repeated_per_format_draws_distinct_clips(
    demo_files, cache_dir, fraction
):
    """repeat_per_format=True holds each clip once per format: the fraction is of clips."""
    cfg = dict(
        type='MultiSkeletonDataset', ann_files=demo_files, split='xsub_train', cache_dir=cache_dir
    )
    once = LabelSubsetDataset(dict(cfg, repeat_per_format=False), fraction=fraction, seed=0)
    each = LabelSubsetDataset(dict(cfg, repeat_per_format=True), fraction=fraction, seed=0)
    formats = each.dataset.format_names
    assert each.dataset.repeats == len(formats) == 3
    clips = [once.get_data_info(i)['frame_dir'] for i in range(len(once))]
    classes = each.dataset.num_clips // 2  # the fixture: 2 clips per class in xsub_train
    assert len(clips) == len(set(clips)) == round(fraction * 2) * classes
    # the same clips, each once per format (with that format as its epoch_format)
    seen = {}
    for i in range(len(each)):
        info = each.get_data_info(i)
        seen.setdefault(info['frame_dir'], []).append(info['epoch_format'])
    assert sorted(seen) == sorted(clips)
    assert all(sorted(f) == sorted(formats) for f in seen.values())
    assert len(each) == len(formats) * len(once)
    assert sorted(each.get_labels()) == sorted(once.get_labels() * len(formats))
    np.testing.assert_array_equal(each.clip_indices, once.clip_indices)


def test_multi_skeleton_dataset_clip_accessors(demo_files, cache_dir):
    from msclr_mm.datasets import MultiSkeletonDataset

    ds = MultiSkeletonDataset(demo_files, split='xsub_train', cache_dir=cache_dir)
    n = ds.num_clips
    assert len(ds) == 3 * n
    clips = ds.get_entry_clips()
    assert clips.tolist() == [i % n for i in range(3 * n)]
    labels = ds.get_clip_labels()
    assert len(labels) == n
    for i in (0, n - 1, n + 2, 3 * n - 1):
        info = ds.get_data_info(i)
        assert info['sample_idx'] == clips[i] and info['label'] == labels[clips[i]]


class FrameDirRepeated(LabelList):
    """Every clip at two indices (i and i + n), as a dataset repeated twice."""

    def __len__(self):
        return 2 * len(self.labels)

    def __getitem__(self, i):
        return (i, self.labels[i % len(self.labels)])

    def get_data_info(self, i):
        n = len(self.labels)
        return dict(frame_dir=f'clip{i % n:04d}', label=self.labels[i % n])


def test_entries_sharing_a_frame_dir_are_one_clip():
    labels = make_labels()
    ds = LabelSubsetDataset(FrameDirRepeated(labels), fraction=0.1, seed=3)
    plain = LabelSubsetDataset(LabelList(labels), fraction=0.1, seed=3)
    n = len(labels)
    np.testing.assert_array_equal(ds.clip_indices, plain.indices)
    assert ds.indices.tolist() == plain.indices.tolist() + (plain.indices + n).tolist()
    assert np.bincount(ds.get_labels()).tolist() == [20, 10, 2, 2, 4]


def test_entries_sharing_a_frame_dir_with_other_labels_are_refused():
    class Conflict(FrameDirRepeated):
        def get_data_info(self, i):
            info = super().get_data_info(i)
            if i == len(self.labels):
                info['label'] = info['label'] + 1
            return info

    with pytest.raises(ValueError, match=r'clip clip0000 of Conflict has label \d+ at index 0'):
        LabelSubsetDataset(Conflict([0, 1, 2]), fraction=1.0)


def test_bad_entry_clips_are_refused():
    class Clips(LabelList):
        def __init__(self, labels, entry_clips):
            super().__init__(labels)
            self.entry_clips = entry_clips

        def __len__(self):
            return len(self.entry_clips)

        def get_clip_labels(self):
            return self.labels

        def get_entry_clips(self):
            return self.entry_clips

    with pytest.raises(ValueError, match='outside'):
        LabelSubsetDataset(Clips([0, 1], [0, 2]), fraction=1.0)
    with pytest.raises(ValueError, match='clip 1 of Clips has no dataset index'):
        LabelSubsetDataset(Clips([0, 1], [0, 0]), fraction=1.0)
    ds = LabelSubsetDataset(Clips([0, 1, 1], [2, 0, 1, 2, 0]), fraction=0.5, seed=0)
    assert ds.clip_indices.tolist() in ([0, 1], [0, 2])
    kept = set(ds.clip_indices.tolist())
    assert ds.indices.tolist() == [i for i, c in enumerate([2, 0, 1, 2, 0]) if c in kept]
