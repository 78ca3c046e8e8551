import logging
import os
import os.path as osp
import pickle

import numpy as np
import pytest
from mmaction.registry import DATASETS

import msclr_mm  # noqa: F401
from msclr_mm.datasets import AnnotationError, MultiSkeletonDataset
from msclr_mm.datasets.annotations import load_annotation_file
from msclr_mm.datasets.normalize import normalize_clip
from msclr_mm.skeletons import get_format


def write(path, data):
    with open(path, 'wb') as f:
        pickle.dump(data, f)
    return str(path)


def test_join_and_values(demo_files, cache_dir):
    ds = DATASETS.build(
        dict(
            type='MultiSkeletonDataset', ann_files=demo_files, split='xsub_val', cache_dir=cache_dir
        )
    )
    raw = {f: load_annotation_file(p) for f, p in demo_files.items()}
    val = raw['kinect25']['split']['xsub_val']
    assert ds.num_clips == len(val) == 20
    assert len(ds) == 3 * 20  # one pass per format
    info = ds.get_data_info(7)
    assert info['frame_dir'] == val[7]
    assert info['formats'] == ('kinect25', 'smpl24', 'coco17')
    ann = {f: next(a for a in raw[f]['annotations'] if a['frame_dir'] == val[7]) for f in raw}
    assert (
        info['label'] == ann['kinect25']['label']
        and info['total_frames'] == ann['kinect25']['total_frames']
    )
    for f, view in info['skeletons'].items():
        assert view.dtype == np.float16 and view.shape == (
            info['total_frames'],
            2,
            get_format(f).num_joints,
            3,
        )
        a = ann[f]
        expected = normalize_clip(
            a['keypoint'], get_format(f), a.get('keypoint_score'), a.get('img_shape')
        )
        np.testing.assert_allclose(
            view.astype(np.float32).transpose(1, 0, 2, 3), expected, atol=4e-3, rtol=2e-3
        )
    # repetition: index k * num_clips + i is clip i again, tagged with format k
    again = ds.get_data_info(2 * 20 + 7)
    assert again['frame_dir'] == val[7] and again['epoch_format'] == 'coco17'
    test_ds = MultiSkeletonDataset(
        demo_files, split='xsub_val', cache_dir=cache_dir, test_mode=True
    )
    assert len(test_ds) == 20


def test_cache_is_built_once_and_keyed_by_settings(demo_files, tmp_path):
    cache = tmp_path / 'c'
    MultiSkeletonDataset({'kinect25': demo_files['kinect25']}, cache_dir=str(cache))
    first = sorted(os.listdir(cache))
    assert len(first) == 1 and first[0].startswith('kinect25-')
    mtime = osp.getmtime(cache / first[0] / 'keypoint.npy')
    MultiSkeletonDataset({'kinect25': demo_files['kinect25']}, cache_dir=str(cache))
    assert sorted(os.listdir(cache)) == first
    assert osp.getmtime(cache / first[0] / 'keypoint.npy') == mtime
    MultiSkeletonDataset({'kinect25': demo_files['kinect25']}, cache_dir=str(cache), align=False)
    assert len(os.listdir(cache)) == 2
    # the input folder is never written to
    assert sorted(os.listdir(osp.dirname(demo_files['kinect25']))) == [
        'coco17.pkl',
        'kinect25.pkl',
        'smpl24.pkl',
    ]


@pytest.fixture
def two_files(tmp_path, demo_files):
    """Editable copies of two demo files."""
    k = load_annotation_file(demo_files['kinect25'])
    s = load_annotation_file(demo_files['smpl24'])
    return tmp_path, k, s


def test_missing_policies(two_files, caplog):
    tmp, k, s = two_files
    gone = s['annotations'].pop(3)['frame_dir']
    s['split'] = {k: [f for f in v if f != gone] for k, v in s['split'].items()}
    files = dict(kinect25=write(tmp / 'k.pkl', k), smpl24=write(tmp / 's.pkl', s))
    ds = MultiSkeletonDataset(files, cache_dir=str(tmp / 'c'), missing='drop')
    assert ds.num_clips == len(k['annotations']) - 1
    assert gone not in [ds.get_data_info(i)['frame_dir'] for i in range(ds.num_clips)]
    keep = MultiSkeletonDataset(files, cache_dir=str(tmp / 'c'), missing='keep')
    infos = {
        keep.get_data_info(i)['frame_dir']: keep.get_data_info(i) for i in range(keep.num_clips)
    }
    assert infos[gone]['formats'] == ('kinect25',) and set(infos[gone]['skeletons']) == {'kinect25'}
    with pytest.raises(AnnotationError, match='clip is missing in this format') as info:
        MultiSkeletonDataset(files, cache_dir=str(tmp / 'c'), missing='raise')
    assert (
        info.value.frame_dir == gone
        and info.value.fmt == 'smpl24'
        and info.value.path.endswith('s.pkl')
    )


def test_missing_count_is_logged(two_files):
    from mmengine.logging import MMLogger

    tmp, k, s = two_files
    gone = {a['frame_dir'] for a in s['annotations'][:2]}
    del s['annotations'][0:2]
    s['split'] = {k: [f for f in v if f not in gone] for k, v in s['split'].items()}
    files = dict(kinect25=write(tmp / 'k.pkl', k), smpl24=write(tmp / 's.pkl', s))
    logger = MMLogger.get_current_instance()
    records = []

    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    logger.addHandler(handler)
    try:
        MultiSkeletonDataset(files, cache_dir=str(tmp / 'c'))
    finally:
        logger.removeHandler(handler)
    assert any('dropped 2 of' in r for r in records), records


def test_frames_must_agree_across_formats(two_files):
    tmp, k, s = two_files
    a = s['annotations'][5]
    a['keypoint'] = a['keypoint'][:, :-1]
    a['total_frames'] -= 1
    files = dict(kinect25=write(tmp / 'k.pkl', k), smpl24=write(tmp / 's.pkl', s))
    with pytest.raises(
        AnnotationError,
        match=r"total_frames=\d+ in format 'smpl24' but total_frames=\d+ in format 'kinect25'",
    ) as info:
        MultiSkeletonDataset(files, cache_dir=str(tmp / 'c'))
    assert info.value.frame_dir == a['frame_dir']


def test_labels_must_agree_across_formats(two_files):
    tmp, k, s = two_files
    s['annotations'][2]['label'] += 1
    files = dict(kinect25=write(tmp / 'k.pkl', k), smpl24=write(tmp / 's.pkl', s))
    with pytest.raises(AnnotationError, match="label=.* in format 'smpl24'"):
        MultiSkeletonDataset(files, cache_dir=str(tmp / 'c'))


def test_splits_must_agree_across_formats(two_files):
    """A clip in one format's train split and another's val split would leak."""
    tmp, k, s = two_files
    train, val = sorted(s['split'])[0], sorted(s['split'])[1]
    moved = s['split'][train].pop(0)
    s['split'][val].append(moved)
    files = dict(kinect25=write(tmp / 'k.pkl', k), smpl24=write(tmp / 's.pkl', s))
    for split in (train, val):
        with pytest.raises(AnnotationError, match='expected every format to put each clip') as e:
            MultiSkeletonDataset(files, split=split, cache_dir=str(tmp / 'c'))
        assert e.value.frame_dir == moved and e.value.field == 'split'
    assert 's.pkl' in e.value.path or 'k.pkl' in e.value.path
    # a format that files the clip under no split of this benchmark leaks nothing (another
    # benchmark's splits, e.g. x-view's for x-sub, legitimately share clips)
    s['split'][val].remove(moved)
    s['split']['xview_val'] = [moved]
    files['smpl24'] = write(tmp / 's2.pkl', s)
    ds = MultiSkeletonDataset(files, split=train, cache_dir=str(tmp / 'c'))
    assert moved in [ds.get_data_info(i)['frame_dir'] for i in range(ds.num_clips)]
    from msclr_mm.datasets.multi_skeleton_dataset import split_family

    assert [split_family(n) for n in ('xsub_train', 'xset_val', 'train')] == ['xsub', 'xset', '']


def test_frames_without_anyone_are_not_sampled(two_files):
    """Leading frames before the first detection and gaps are skipped (any format counts)."""
    from msclr_mm.datasets.transforms import SampleSkeletonFrames

    tmp, k, s = two_files
    a_k, a_s = k['annotations'][0], s['annotations'][0]
    T = a_k['total_frames']
    empty = set(range(0, 8)) | set(range(20, 24))  # before the first detection, and a gap
    for t in empty:
        a_k['keypoint'][:, t] = 0
        if t != 21:  # frame 21 still holds the person in smpl24: kept
            a_s['keypoint'][:, t] = 0
    files = dict(kinect25=write(tmp / 'k.pkl', k), smpl24=write(tmp / 's.pkl', s))
    ds = MultiSkeletonDataset(files, cache_dir=str(tmp / 'c'))
    row = next(
        i for i in range(ds.num_clips) if ds.get_data_info(i)['frame_dir'] == a_k['frame_dir']
    )
    info = ds.get_data_info(row)
    kept = [t for t in range(T) if t not in empty or t == 21]
    np.testing.assert_array_equal(info['frame_index'], kept)
    assert info['valid_frames'] == len(kept)
    for sampler in (SampleSkeletonFrames(clip_len=50), SampleSkeletonFrames(50, 3, test_mode=True)):
        for _ in range(20):
            inds = sampler(dict(info))['frame_inds']
            assert set(inds.ravel()) <= set(kept)
    assert {7, 8, 24} & set(SampleSkeletonFrames(clip_len=T)(dict(info))['frame_inds'].ravel())
    # a clip with someone on every frame up to the last keeps the plain path
    other = ds.get_data_info(row + 1 if row + 1 < ds.num_clips else row - 1)
    assert 'frame_index' not in other


def test_reference_style_input_options(two_files):
    tmp, k, s = two_files
    files = dict(kinect25=write(tmp / 'k.pkl', k), smpl24=write(tmp / 's.pkl', s))
    cache = str(tmp / 'c')
    default = MultiSkeletonDataset(files, cache_dir=cache)
    rel = MultiSkeletonDataset(files, cache_dir=cache, center='frame', align='frame')
    assert rel.stores['kinect25'].folder != default.stores['kinect25'].folder
    x = rel.get_data_info(0)['skeletons']['kinect25'].astype(np.float32)  # (T, M, V, 3)
    c = list(get_format('kinect25').center_joints)
    live = np.abs(x[:, 0]).sum((1, 2)) > 0
    np.testing.assert_allclose(x[live, 0][:, c].mean(1), 0, atol=2e-3)
    with pytest.raises(ValueError, match="MultiSkeletonDataset: center='root'"):
        MultiSkeletonDataset(files, cache_dir=cache, center='root')


def test_bad_file_is_reported_at_load(two_files):
    tmp, k, s = two_files
    s['annotations'][4]['keypoint'][0, 1, 2, 0] = np.nan
    files = dict(kinect25=write(tmp / 'k.pkl', k), smpl24=write(tmp / 's.pkl', s))
    with pytest.raises(AnnotationError, match='NaN') as info:
        MultiSkeletonDataset(files, cache_dir=str(tmp / 'c'))
    assert info.value.frame_dir == s['annotations'][4]['frame_dir'] and info.value.fmt == 'smpl24'
    files['smpl24'] = files['kinect25']  # a 25-joint file declared as SMPL-24
    with pytest.raises(AnnotationError, match="format 'smpl24' has V=24"):
        MultiSkeletonDataset(files, cache_dir=str(tmp / 'c'))


def test_unknown_split_and_arguments(demo_files, cache_dir):
    with pytest.raises(
        AnnotationError, match=r"has no split 'xview_train'; it has \['xsub_train', 'xsub_val'\]"
    ):
        MultiSkeletonDataset(demo_files, split='xview_train', cache_dir=cache_dir)
    with pytest.raises(ValueError, match='missing='):
        MultiSkeletonDataset(demo_files, missing='ignore', cache_dir=cache_dir)
    with pytest.raises(ValueError, match=r"formats \['smplx42'\] have no entry in ann_files"):
        MultiSkeletonDataset(demo_files, formats=['kinect25', 'smplx42'], cache_dir=cache_dir)


def test_inline_format(demo_files, tmp_path):
    inline = get_format('kinect25').to_dict()
    inline['name'] = 'my_kinect'
    ds = MultiSkeletonDataset(
        {'my_kinect': demo_files['kinect25']}, formats=[inline], cache_dir=str(tmp_path)
    )
    assert ds.format_names == ('my_kinect',)
    assert ds.get_data_info(0)['skeletons']['my_kinect'].shape[2] == 25


def test_subset_shares_the_store(demo_files, cache_dir):
    ds = MultiSkeletonDataset(demo_files, split='xsub_train', cache_dir=cache_dir)
    sub = ds.get_subset([0, 3])
    assert sub.num_clips == 2 and len(sub) == 6
    assert sub.get_data_info(1)['frame_dir'] == ds.get_data_info(3)['frame_dir']
    assert sub.stores['kinect25'] is ds.stores['kinect25']


@pytest.mark.parametrize('freeze', [True, False])
def test_workers_freeze_inherited_objects_once(demo_files, cache_dir, freeze):
    """gc.freeze() in each worker keeps its GC from copying the parent's heap (bench_memory)."""
    import gc

    from torch.utils.data import DataLoader

    ds = MultiSkeletonDataset(
        demo_files, split='xsub_train', cache_dir=cache_dir, gc_freeze_workers=freeze
    )
    parent = gc.get_freeze_count()
    loader = DataLoader(
        ds, batch_size=4, num_workers=2, collate_fn=lambda batch: gc.get_freeze_count()
    )
    counts = [c for c, _ in zip(loader, range(4))]
    assert gc.get_freeze_count() == parent  # the main process is left alone
    if freeze:
        assert all(c > parent for c in counts)
    else:
        assert counts == [parent] * 4
