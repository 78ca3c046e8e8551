"""Fixtures for the dataset tests: the demo data (generated once) and a cache folder."""

import os.path as osp
import pickle

import pytest

from msclr_mm.datasets.demo_body import make_demo_annotations

DEMO_FORMATS = ('kinect25', 'smpl24', 'coco17')


@pytest.fixture(scope='session')
def demo_dir(tmp_path_factory):
    """Folder with the demo pickles ``<format>.pkl`` (small: 4 subjects, 1 repetition)."""
    out = tmp_path_factory.mktemp('demo')
    data = make_demo_annotations(num_subjects=4, num_reps=1, num_train_subjects=2, seed=3)
    for name, d in data.items():
        with open(osp.join(out, f'{name}.pkl'), 'wb') as f:
            pickle.dump(d, f)
    return str(out)


@pytest.fixture(scope='session')
def demo_files(demo_dir):
    """ann_files dict of the demo data."""
    return {f: osp.join(demo_dir, f'{f}.pkl') for f in DEMO_FORMATS}


@pytest.fixture(scope='session')
def cache_dir(tmp_path_factory):
    """A cache folder shared by the session's datasets."""
    return str(tmp_path_factory.mktemp('cache'))
