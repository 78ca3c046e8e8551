from collections import Counter

import numpy as np
import pytest

from msclr_mm.datasets.transforms import AllFormatViews, SampleFormatViews

FORMATS = ('kinect25', 'smpl24', 'coco17')


def draw(t, n=3000, formats=FORMATS, **extra):
    np.random.seed(0)
    return [t(dict(formats=formats, **extra))['view_formats'] for _ in range(n)]


def test_random_is_uniform_and_independent():
    out = draw(SampleFormatViews('random'))
    pairs = Counter((o['query'], o['key']) for o in out)
    assert len(pairs) == 9  # same-format pairs happen too
    for count in pairs.values():
        assert abs(count / 3000 - 1 / 9) < 0.025
    same = sum(o['query'] == o['key'] for o in out) / 3000
    assert abs(same - 1 / 3) < 0.03


def test_cross_always_differs_and_is_uniform():
    out = draw(SampleFormatViews('cross'))
    assert all(o['query'] != o['key'] for o in out)
    q = Counter(o['query'] for o in out)
    assert all(abs(c / 3000 - 1 / 3) < 0.03 for c in q.values())
    assert (
        draw(SampleFormatViews('cross'), n=5, formats=('smpl24',))
        == [dict(query='smpl24', key='smpl24')] * 5
    )


def test_anchor_fixes_one_side():
    out = draw(SampleFormatViews('anchor', anchor='kinect25', anchor_view='key'))
    assert all(o['key'] == 'kinect25' and o['query'] != 'kinect25' for o in out)
    assert Counter(o['query'] for o in out).keys() == {'smpl24', 'coco17'}
    # a clip without the anchor format falls back to random
    out = draw(SampleFormatViews('anchor', anchor='kinect25'), n=300, formats=('smpl24', 'coco17'))
    assert {o['key'] for o in out} == {'smpl24', 'coco17'}


def test_epoch_rule_uses_the_repetition_format():
    out = draw(SampleFormatViews('epoch'), n=200, epoch_format='coco17')
    assert all(o['query'] == 'coco17' for o in out)
    assert len({o['key'] for o in out}) == 3


def test_bad_arguments():
    with pytest.raises(ValueError, match='rule='):
        SampleFormatViews('sometimes')
    with pytest.raises(ValueError, match='needs anchor'):
        SampleFormatViews('anchor')
    with pytest.raises(ValueError, match='distinct view names'):
        SampleFormatViews(views=('q', 'q'))


def test_all_format_views():
    assert AllFormatViews()(dict(formats=FORMATS))['view_formats'] == {f: f for f in FORMATS}
    assert AllFormatViews(['smpl24'])(dict(formats=FORMATS))['view_formats'] == {'smpl24': 'smpl24'}
