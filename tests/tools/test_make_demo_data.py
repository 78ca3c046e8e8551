import hashlib
import os

import numpy as np
import pytest

from msclr_mm.datasets import load_annotation_file, validate_annotations
from msclr_mm.datasets.annotations import check_alignment

from ..conftest import run_python

FORMATS = ('kinect25', 'smpl24', 'coco17')


def digest(folder):
    return {f: hashlib.sha1((folder / f'{f}.pkl').read_bytes()).hexdigest() for f in FORMATS}


@pytest.mark.slow
def test_make_demo_data(tmp_path):
    out = tmp_path / 'demo'
    proc = run_python(['tools/data/make_demo_data.py', '--out-dir', str(out)])
    assert sorted(os.listdir(out)) == sorted(f'{f}.pkl' for f in FORMATS)  # no temp files left
    assert 'wrote' in proc.stdout
    first = digest(out)
    # refuses to overwrite; nothing changes
    proc = run_python(['tools/data/make_demo_data.py', '--out-dir', str(out)], check=False)
    assert proc.returncode == 1 and '--overwrite' in proc.stderr
    assert digest(out) == first
    # deterministic
    run_python(['tools/data/make_demo_data.py', '--out-dir', str(out), '--overwrite'])
    assert digest(out) == first
    total = sum((out / f'{f}.pkl').stat().st_size for f in FORMATS)
    assert total < 20e6
    data = {f: load_annotation_file(str(out / f'{f}.pkl')) for f in FORMATS}
    for f, d in data.items():
        validate_annotations(d, f, f)
        assert len(d['annotations']) == 200
        assert len(d['split']['xsub_train']) == 120 and len(d['split']['xsub_val']) == 80
    check_alignment(data)
    labels = np.array([a['label'] for a in data['kinect25']['annotations']])
    assert np.bincount(labels).tolist() == [20] * 10
