import copy
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from msclr_mm.datasets import MultiSkeletonDataset
from msclr_mm.datasets.skeleton_store import build_store
from msclr_mm.skeletons import get_format


def anon_kb():
    """Private dirty memory of this process (kB), from smaps_rollup.

    A worker's own copies are private dirty pages (fresh or copy-on-write); pages of the
    shared read-only map stay clean. (Anonymous alone misses copies that land in heap pages
    inherited from the parent.)
    """
    fields = {}
    with open('/proc/self/smaps_rollup') as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(':') and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    return fields['Private_Dirty']


class WorkerProbe(Dataset):
    """In a DataLoader worker: read every clip of every format; report the memory growth."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return 2

    def __getitem__(self, mode):
        before = anon_kb()
        kept, total = [], 0.0
        for i in range(self.ds.num_clips):
            for view in self.ds.get_data_info(i)['skeletons'].values():
                if mode == 1:
                    kept.append(np.array(view))  # what a per-worker copy would cost
                total += float(view.sum(dtype=np.float64))
        return dict(grow_kb=anon_kb() - before, total=total)


@pytest.fixture(scope='module')
def big_files(tmp_path_factory):
    """A 3D file big enough (about 18 MB float16 cache) to measure."""
    tmp = tmp_path_factory.mktemp('big')
    rng = np.random.default_rng(0)
    anns = [
        dict(frame_dir=f'c{i}', label=i % 5, total_frames=300,
             keypoint=rng.normal(size=(2, 300, 25, 3)).astype(np.float32))
        for i in range(200)
    ]  # fmt: skip
    path = tmp / 'k.pkl'
    path.write_bytes(pickle.dumps(dict(split={}, annotations=anns), protocol=4))
    return {'kinect25': str(path)}, str(tmp / 'cache')


@pytest.mark.skipif(not hasattr(__import__('os'), 'fork'), reason='needs fork')
def test_workers_do_not_copy_the_keypoints(big_files):
    files, cache = big_files
    ds = MultiSkeletonDataset(files, cache_dir=cache)
    store = ds.stores['kinect25']
    size_kb = store.keypoint.nbytes / 1024
    assert isinstance(store.keypoint, np.memmap) and store.keypoint.dtype == np.float16
    assert size_kb > 15_000
    loader = DataLoader(WorkerProbe(ds), batch_size=None, num_workers=1,
                        multiprocessing_context='fork')  # fmt: skip
    touch, copy_ = list(loader)
    assert touch['total'] == copy_['total'] != 0
    # the control proves the measurement sees a copy; reading the shared map adds ~nothing
    assert copy_['grow_kb'] > 0.8 * size_kb, copy_
    assert touch['grow_kb'] < 0.1 * size_kb, touch


def test_views_are_backed_by_the_map(big_files):
    files, cache = big_files
    ds = MultiSkeletonDataset(files, cache_dir=cache)
    view = ds.get_data_info(5)['skeletons']['kinect25']
    assert np.shares_memory(view, ds.stores['kinect25'].keypoint)
    assert not view.flags.writeable


def test_store_pickles_as_its_path_and_deepcopies_as_itself(big_files):
    files, cache = big_files
    store = build_store(files['kinect25'], get_format('kinect25'), cache_dir=cache)
    blob = pickle.dumps(store)
    assert len(blob) < 20_000  # the path and the format, not the data
    again = pickle.loads(blob)
    assert (
        isinstance(again.keypoint, np.memmap) and again.keypoint.filename == store.keypoint.filename
    )
    np.testing.assert_array_equal(again.clip(3), store.clip(3))
    assert copy.deepcopy(store) is store
    ds = MultiSkeletonDataset(files, cache_dir=cache)
    assert len(pickle.dumps(ds)) < 200_000  # spawned workers re-open the map
    assert torch.utils.data.get_worker_info() is None
