import copy
import importlib
import sys
import types

import numpy as np
import pytest

import msclr_mm  # noqa: F401  (applies the stack fixes once the package __init__ lands)
from msclr_mm.skeletons import (
    PART_NAMES,
    SkeletonFormat,
    SkeletonFormatError,
    get_format,
    list_formats,
    register_format,
)

BUILTIN = {
    # name: (joints, edges, dim, unit, center)
    'kinect25': (25, 24, 3, 'm', 20),
    'kinect25_2d': (25, 24, 2, 'px', 20),
    'smpl24': (24, 23, 3, 'm', 9),
    'smplx42': (42, 39, 3, 'm', 9),
    'mhad43': (43, 45, 3, 'm', 8),
    'coco17': (17, 16, 2, 'px', 0),
    'openpose18': (18, 17, 2, 'px', 1),
    'h36m17': (17, 16, 3, 'mm', 0),
    'blazepose33': (33, 39, 3, 'm', 23),
    'blazepose33_2d': (33, 39, 2, 'px', 23),
}


def mmaction_graph():
    """mmaction2's Graph, importable even where ``import mmaction.models`` is broken."""
    try:
        return importlib.import_module('mmaction.models.utils.graph').Graph
    except ImportError:
        import mmaction

        stub = types.ModuleType('mmaction.models')
        stub.__path__ = [mmaction.__path__[0] + '/models']
        sys.modules['mmaction.models'] = stub
        return importlib.import_module('mmaction.models.utils.graph').Graph


def edge_set(edges):
    return {frozenset(e) for e in edges}


# --------------------------------------------------------------------------- built-ins
def test_builtin_names_registered():
    assert set(BUILTIN) <= set(list_formats())


@pytest.mark.parametrize('name', sorted(BUILTIN))
def test_builtin_counts(name):
    V, E, dim, unit, center = BUILTIN[name]
    fmt = get_format(name)
    assert fmt.name == name
    assert fmt.num_joints == V == len(fmt.joints) == len(set(fmt.joints))
    assert len(fmt.edges) == E
    assert fmt.dim == dim and fmt.is_2d == (dim == 2)
    assert fmt.unit == unit
    assert fmt.center == center
    assert fmt.in_channels == 3
    assert fmt.adjacency().shape == (3, V, V)
    assert fmt.adjacency().dtype == np.float32


@pytest.mark.parametrize('name', sorted(BUILTIN))
def test_builtin_flip_is_mirror(name):
    fmt = get_format(name)
    flip = np.asarray(fmt.flip)
    assert sorted(flip.tolist()) == list(range(fmt.num_joints))
    assert (flip[flip] == np.arange(fmt.num_joints)).all()
    assert {frozenset((fmt.flip[a], fmt.flip[b])) for a, b in fmt.edges} == edge_set(fmt.edges)
    assert {fmt.flip[j] for j in fmt.parts['left_arm']} == set(fmt.parts['right_arm'])
    assert {fmt.flip[j] for j in fmt.parts['left_leg']} == set(fmt.parts['right_leg'])
    assert {fmt.flip[j] for j in fmt.parts['trunk']} == set(fmt.parts['trunk'])
    # a real mirror moves something
    assert (flip != np.arange(fmt.num_joints)).any()


@pytest.mark.parametrize('name', sorted(BUILTIN))
def test_builtin_flip_respects_names(name):
    """Left joints map to right joints by name wherever names say left/right."""
    fmt = get_format(name)
    for i, j in enumerate(fmt.flip):
        a, b = fmt.joints[i].lower(), fmt.joints[j].lower()
        if 'left' in a:
            assert b == a.replace('left', 'right'), (a, b)
        elif 'right' in a:
            assert b == a.replace('right', 'left'), (a, b)
        else:
            assert i == j, (a, b)


@pytest.mark.parametrize('name', sorted(BUILTIN))
def test_builtin_parts_cover_once(name):
    fmt = get_format(name)
    assert tuple(sorted(fmt.parts)) == tuple(sorted(PART_NAMES))
    joints = [j for p in PART_NAMES for j in fmt.parts[p]]
    assert sorted(joints) == list(range(fmt.num_joints))


@pytest.mark.parametrize('name', sorted(BUILTIN))
def test_builtin_bones_are_tree(name):
    fmt = get_format(name)
    bones = fmt.bone_pairs()
    assert len(bones) == fmt.num_joints
    assert [c for c, _ in bones] == list(range(fmt.num_joints))
    assert bones[fmt.center] == (fmt.center, fmt.center)
    parent = dict(bones)
    edges = edge_set(fmt.edges)
    for j in range(fmt.num_joints):
        if j in fmt.isolated:
            assert parent[j] == j
            continue
        if j != fmt.center:
            assert frozenset((j, parent[j])) in edges
        path, cur = [j], j
        while cur != fmt.center:
            cur = parent[cur]
            assert cur not in path, 'cycle'
            path.append(cur)
    # a spanning tree: V - 1 - |isolated| real bones
    real = [b for b in bones if b[0] != b[1]]
    assert len(real) == fmt.num_joints - 1 - len(fmt.isolated)


def test_kinect_bones_are_the_reference_list():
    fmt = get_format('kinect25')
    expected = {(c, p) for c, p in fmt.edges} | {(20, 20)}
    assert set(fmt.bone_pairs()) == expected


def test_kinect_keeps_reference_hand_edges_not_mmaction2s():
    edges = edge_set(get_format('kinect25').edges)
    assert frozenset((21, 22)) in edges and frozenset((22, 7)) in edges
    assert frozenset((21, 7)) not in edges


def test_smplx_isolated_eyes():
    fmt = get_format('smplx42')
    assert fmt.isolated == (23, 24)
    assert fmt.joints[22] == 'jaw'
    A = fmt.adjacency('stgcn_spatial')
    # an isolated joint only keeps its self loop
    for j in fmt.isolated:
        assert A[:, j].sum() == pytest.approx(1.0) and A[0, j, j] == 1.0


def test_mhad_flip_is_a_graph_automorphism_of_the_reference_edges():
    from msclr_mm.skeletons.builtin import MHAD43_BRIDGE_EDGES, MHAD43_REFERENCE_EDGES

    fmt = get_format('mhad43')
    for edges in (MHAD43_REFERENCE_EDGES, MHAD43_BRIDGE_EDGES):
        mapped = {frozenset((fmt.flip[a], fmt.flip[b])) for a, b in edges}
        assert mapped == edge_set(edges)
    # the flip preserves degrees (necessary for an automorphism)
    deg = np.zeros(43, int)
    for a, b in fmt.edges:
        deg[a] += 1
        deg[b] += 1
    assert (deg[list(fmt.flip)] == deg).all()


def test_blazepose_centre_between_hips():
    fmt = get_format('blazepose33')
    assert fmt.center_joints == (23, 24)
    assert fmt.joints[23] == 'left_hip' and fmt.joints[24] == 'right_hip'


@pytest.mark.parametrize('name', ['kinect25', 'smpl24', 'coco17', 'h36m17'])
def test_scale_joints_are_hips_and_shoulders(name):
    fmt = get_format(name)
    hips, shoulders = fmt.scale_joints
    assert all('hip' in fmt.joints[j].lower() for j in hips)
    assert all('shoulder' in fmt.joints[j].lower() for j in shoulders)


def test_h36m_order():
    names = get_format('h36m17').joints
    assert names[0] == 'pelvis' and names[1] == 'right_hip' and names[4] == 'left_hip'
    assert names[8] == 'thorax' and names[11] == 'left_shoulder' and names[16] == 'right_wrist'


# --------------------------------------------------------------------------- adjacency
@pytest.mark.parametrize('mode', ['spatial', 'stgcn_spatial', 'binary'])
@pytest.mark.parametrize('name,layout', [('coco17', 'coco'), ('openpose18', 'openpose')])
def test_adjacency_equals_mmaction2_named_layout(name, layout, mode):
    Graph = mmaction_graph()
    ref = Graph(layout, 'binary_adj' if mode == 'binary' else mode)
    fmt = get_format(name)
    assert fmt.center == ref.center
    assert edge_set(fmt.edges) == edge_set(ref.inward)
    np.testing.assert_array_equal(fmt.adjacency(mode), ref.A.astype(np.float32))


@pytest.mark.parametrize('mode', ['spatial', 'stgcn_spatial'])
@pytest.mark.parametrize('name', ['kinect25', 'smpl24', 'smplx42', 'mhad43', 'h36m17'])
def test_adjacency_equals_mmaction2_dict_layout(name, mode):
    Graph = mmaction_graph()
    fmt = get_format(name)
    layout = dict(num_node=fmt.num_joints, inward=list(fmt.inward_edges()), center=fmt.center)
    np.testing.assert_array_equal(fmt.adjacency(mode), Graph(layout, mode).A.astype(np.float32))


def test_adjacency_kinect_differs_from_mmaction2_ntu_only_at_hands():
    Graph = mmaction_graph()
    ours = get_format('kinect25').adjacency('binary')[0]
    theirs = Graph('nturgb+d', 'binary_adj').A[0]
    diff = np.argwhere(ours != theirs)
    assert {int(i) for i in diff.ravel()} == {7, 11, 21, 22, 23, 24}


def test_adjacency_values_small_graph():
    # path 0 - 1 - 2, centre 1
    fmt = SkeletonFormat.from_dict(
        dict(
            name='path3',
            joints=['a', 'b', 'c'],
            edges=[(0, 1), (1, 2)],
            center=1,
            flip=[2, 1, 0],
            parts=dict(trunk=[1], left_arm=[0], right_arm=[2], left_leg=[], right_leg=[]),
        )
    )
    A = fmt.adjacency('stgcn_spatial')
    # every column of the 1-hop neighbourhood is normalised by its degree (self included)
    deg = np.array([2, 3, 2])
    np.testing.assert_allclose(A.sum(0), (np.eye(3) + fmt.adjacency('binary')[0]) / deg)
    # self: diagonal; close: message from the farther joint to the centre
    np.testing.assert_allclose(np.diag(A[0]), 1 / deg)
    assert A[1, 0, 1] == pytest.approx(1 / 3) and A[2, 1, 0] == pytest.approx(1 / 2)
    assert A[2, 0, 1] == 0 and A[1, 1, 0] == 0
    with pytest.raises(ValueError, match='unknown adjacency mode'):
        fmt.adjacency('nope')


# --------------------------------------------------------------------------- inline / registry
KINECT_V1 = dict(
    name='kinect_v1_20',
    joints=[
        'HipCenter', 'Spine', 'ShoulderCenter', 'Head', 'ShoulderLeft', 'ElbowLeft',
        'WristLeft', 'HandLeft', 'ShoulderRight', 'ElbowRight', 'WristRight', 'HandRight',
        'HipLeft', 'KneeLeft', 'AnkleLeft', 'FootLeft', 'HipRight', 'KneeRight', 'AnkleRight',
        'FootRight',
    ],
    edges=[
        (0, 1), (1, 2), (2, 3), (2, 4), (4, 5), (5, 6), (6, 7), (2, 8), (8, 9), (9, 10),
        (10, 11), (0, 12), (12, 13), (13, 14), (14, 15), (0, 16), (16, 17), (17, 18), (18, 19),
    ],
    center=1,
    flip=[0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15],
    parts=dict(
        trunk=[0, 1, 2, 3], left_arm=[4, 5, 6, 7], right_arm=[8, 9, 10, 11],
        left_leg=[12, 13, 14, 15], right_leg=[16, 17, 18, 19],
    ),
    scale_joints=[[12, 16], [4, 8]],
    unit='mm',
)  # fmt: skip


def test_inline_dict_format_gets_everything():
    fmt = get_format(KINECT_V1)
    assert isinstance(fmt, SkeletonFormat)
    assert fmt.num_joints == 20 and fmt.dim == 3 and fmt.unit == 'mm'
    assert fmt.adjacency().shape == (3, 20, 20)
    assert fmt.bone_pairs()[0] == (0, 1) and fmt.bone_pairs()[1] == (1, 1)
    # round trip
    again = SkeletonFormat.from_dict(fmt.to_dict())
    assert again == fmt
    np.testing.assert_array_equal(again.adjacency(), fmt.adjacency())


def test_to_dict_round_trip_builtins():
    for name in BUILTIN:
        fmt = get_format(name)
        assert SkeletonFormat.from_dict(fmt.to_dict()) == fmt


def test_registry():
    fmt = register_format(dict(KINECT_V1, name='test_kinect_v1'))
    assert get_format('test_kinect_v1') is fmt
    assert get_format(fmt) is fmt
    assert 'test_kinect_v1' in list_formats()
    register_format(fmt)  # identical: fine
    with pytest.raises(KeyError, match='already registered'):
        register_format(dict(KINECT_V1, name='test_kinect_v1', unit='m'))
    with pytest.raises(KeyError, match="unknown skeleton format 'kinect26'.*kinect25"):
        get_format('kinect26')
    with pytest.raises(TypeError):
        get_format(25)


def _broken(**changes):
    d = copy.deepcopy(KINECT_V1)
    d['name'] = 'broken'
    for key, value in changes.items():
        if value is None:
            d.pop(key)
        else:
            d[key] = value
    return d


BROKEN = [
    (dict(edges=KINECT_V1['edges'] + [(2, 40)]), r'edges\[19\] = \(2, 40\).*out of range for 20'),
    (dict(edges=KINECT_V1['edges'] + [(3, 3)]), r'edges\[19\] = \(3, 3\) is a self-loop'),
    (dict(edges=KINECT_V1['edges'] + [(1, 0)]), r'edges\[19\] = \(1, 0\) duplicates edges\[0\]'),
    (dict(edges=KINECT_V1['edges'][:-1]), r'graph is not connected: joints \[19\]'),
    (dict(center=20), r'center = 20 is out of range'),
    (dict(flip=list(range(19))), r'flip has 19 entries, expected 20'),
    (dict(flip=[0, 0] + list(range(2, 20))), r'flip is not a permutation'),
    (
        dict(flip=[0, 1, 2, 3, 8, 9, 10, 11, 5, 6, 7, 4, 16, 17, 18, 19, 12, 13, 14, 15]),
        r'flip is not an involution: flip\[4\] = 8',
    ),
    (
        dict(flip=[0, 1, 2, 3, 8, 9, 11, 10, 4, 5, 7, 6, 16, 17, 18, 19, 12, 13, 14, 15]),
        r'flip maps edges\[5\] = \(5, 6\) to \(9, 11\)',
    ),
    (
        dict(
            parts=dict(
                trunk=[0, 1, 2, 3], left_arm=[4, 5, 6, 7, 12], right_arm=[8, 9, 10, 11],
                left_leg=[12, 13, 14, 15], right_leg=[16, 17, 18, 19],
            )
        ),
        r"joint 12 is in both parts 'left_arm' and 'left_leg'",
    ),
    (
        dict(parts=dict(trunk=[0, 1, 2, 3], left_arm=[4, 5, 6, 7], right_arm=[8, 9, 10, 11])),
        r'parts has keys',
    ),
    (
        dict(
            parts=dict(
                trunk=[0, 1, 2, 3], left_arm=[4, 5, 6, 7], right_arm=[8, 9, 10, 11],
                left_leg=[12, 13, 14, 15], right_leg=[16, 17, 18],
            )
        ),
        r'joints \[19\] belong to no part',
    ),
    (
        dict(
            parts=dict(
                trunk=[0, 1, 2, 3], left_arm=[4, 5, 6, 7], right_arm=[8, 9, 10, 11],
                left_leg=[12, 13, 14, 15, 19], right_leg=[16, 17, 18],
            )
        ),
        r"flip does not map parts\['left_leg'\] onto parts\['right_leg'\]",
    ),
    (dict(isolated=[19]), r'isolated\[0\] = 19 \(FootRight\) has edges'),
    (dict(bones=[(j, j) for j in range(20)]), r'bones\[0\] = \(0, 0\) is a self-bone'),
    (
        dict(bones=[(0, 1), (1, 1), (2, 1), (3, 2), (4, 0)] + [(j, j - 1) for j in range(5, 20)]),
        r'bones\[4\] = \(4, 0\) is not an edge',
    ),
    (dict(center=None), r"missing required keys \['center'\]"),
    (dict(colour='red'), r"unknown keys \['colour'\]"),
    (dict(dim=4), r'dim = 4 must be 2 or 3'),
    (dict(scale_joints=[[12], [4, 8]]), r'scale_joints\[0\] must be a flip-invariant set'),
    (dict(joints=KINECT_V1['joints'][:-1] + ['Head']), r"joints has duplicate names \['Head'\]"),
]  # fmt: skip


@pytest.mark.parametrize('changes,message', BROKEN, ids=[m[:30] for _, m in BROKEN])
def test_validation_errors_name_format_and_entry(changes, message):
    with pytest.raises(SkeletonFormatError, match=r"^format 'broken': " + message):
        get_format(_broken(**changes))


def test_error_is_value_error():
    assert issubclass(SkeletonFormatError, ValueError)


def test_format_is_frozen():
    fmt = get_format('kinect25')
    with pytest.raises(AttributeError):
        fmt.center = 0
    with pytest.raises(TypeError):
        fmt.parts['trunk'] = (0,)
