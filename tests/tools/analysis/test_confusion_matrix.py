import numpy as np
import pytest
from matplotlib.image import imread

from tests.evaluation.test_report import write_dump
from tools.analysis.confusion_matrix import confusion, main


def test_confusion_counts_rows_true_columns_predicted():
    cm = confusion([0, 0, 1, 2, 2], [0, 1, 1, 0, 2], 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


@pytest.mark.parametrize('fmt', [None, 'smplx42'])
def test_tool_writes_a_png_from_a_dump(tmp_path, capsys, fmt):
    dump = write_dump(tmp_path / 'joint.pkl', 'joint')
    out = tmp_path / 'cm.png'
    main([dump, '--out', str(out)] + (['--format', fmt] if fmt else []))
    msg = capsys.readouterr().out
    if fmt:
        assert 'smplx42, top-1 66.67 % (3 clips)' in msg
    else:
        assert 'ensemble, top-1 75.00 % (4 clips)' in msg
    img = imread(out)
    assert img.ndim == 3 and min(img.shape[:2]) > 200 and img[..., :3].std() > 0.05


def test_tool_unknown_format(tmp_path):
    dump = write_dump(tmp_path / 'joint.pkl', 'joint')
    with pytest.raises(SystemExit, match="no scores of format 'coco17'"):
        main([dump, '--out', str(tmp_path / 'x.png'), '--format', 'coco17'])
