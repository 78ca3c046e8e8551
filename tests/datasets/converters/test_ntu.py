import os.path as osp

import numpy as np
import pytest

from msclr_mm.datasets.converters.common import ConversionError
from msclr_mm.datasets.converters.ntu import (
    NTU60_XSUB_TRAIN,
    NTU120_XSUB_TRAIN,
    NTUBody,
    assemble_actors,
    bodies_to_arrays,
    convert_skeleton_file,
    denoise_bodies,
    motion_energy,
    ntu_splits,
    parse_ntu_name,
    parse_skeleton_file,
    select_bodies,
    spread_noise_ratio,
    spread_valid_frames,
)
from msclr_mm.skeletons import get_format

from .helpers import body_joints, make_clip, write_skeleton

V = get_format('kinect25').num_joints
IMG = get_format('kinect25_2d').image_size
TWO = 'S001C003P008R002A058'


def test_parse_real_two_person_file(shared_data):
    path = osp.join(shared_data, 'ntu_raw', f'{TWO}.skeleton')
    with open(path) as f:
        header = int(f.readline())
        f.readline()  # body count of frame 0
        f.readline()  # body info
        f.readline()  # joint count
        joint0 = [float(v) for v in f.readline().split()]
    T, bodies = parse_skeleton_file(path, V)
    assert T == header == 70
    assert len(bodies) >= 2
    np.testing.assert_allclose(bodies[0].joints[0, 0], joint0, rtol=1e-6)


def test_convert_real_two_person_clip(shared_data):
    path = osp.join(shared_data, 'ntu_raw', f'{TWO}.skeleton')
    ann3, ann2 = convert_skeleton_file(path, V, IMG)
    assert ann3['frame_dir'] == ann2['frame_dir'] == TWO
    assert ann3['label'] == ann2['label'] == 57
    assert ann3['total_frames'] == ann2['total_frames'] == 70
    assert ann3['keypoint'].shape == (2, 70, V, 3)
    assert ann2['keypoint'].shape == (2, 70, V, 2)
    assert ann2['keypoint_score'].shape == (2, 70, V)
    assert ann2['img_shape'] == (1080, 1920)
    # both bodies are real people on most frames
    assert (np.abs(ann3['keypoint']).sum((2, 3)) > 0).sum(1).min() > 60
    # the two people stand apart (shaking hands at arm's length)
    d = np.linalg.norm(ann3['keypoint'][0, 0, 0] - ann3['keypoint'][1, 0, 0])
    assert 0.5 < d < 2.0
    scores = np.unique(ann2['keypoint_score'])
    assert set(scores.tolist()) <= {0.0, 0.5, 1.0} and 1.0 in scores


def test_parse_ntu_name():
    assert parse_ntu_name('/x/S017C002P045R001A120.skeleton') == dict(
        setup=17, camera=2, subject=45, replication=1, action=120
    )
    with pytest.raises(ConversionError, match='NTU pattern'):
        parse_ntu_name('clip_001.skeleton')


def test_truncated_file_names_line(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    make_clip(p, num_frames=5)
    lines = p.read_text().splitlines()
    p.write_text('\n'.join(lines[:40]) + '\n')
    with pytest.raises(ConversionError, match=r'S001C001P001R001A001.skeleton \(line \d+\).*'
                       r'(truncated|ends early)'):  # fmt: skip
        parse_skeleton_file(str(p), V)


def test_wrong_joint_count(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    rng = np.random.default_rng(0)
    write_skeleton(p, [[('1', body_joints(rng, num_joints=20))]], num_joints=20)
    with pytest.raises(ConversionError, match='joint count 20, expected 25'):
        parse_skeleton_file(str(p), V)


def test_non_number_and_header(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    p.write_text('abc\n')
    with pytest.raises(ConversionError, match='frame count'):
        parse_skeleton_file(str(p), V)
    make_clip(p, num_frames=3)
    text = p.read_text().splitlines()
    text[4] = text[4].replace(text[4].split()[0], 'nan?', 1)
    p.write_text('\n'.join(text))
    with pytest.raises(ConversionError, match='non-number'):
        parse_skeleton_file(str(p), V)


def test_select_bodies_denoises_and_ranks(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    rng = np.random.default_rng(1)
    frames = []
    for t in range(30):
        bodies = [
            ('still', body_joints(rng, centre=(1, 0, 3))),
            ('moving', body_joints(rng, centre=(np.sin(t / 4), 0, 3))),
        ]
        if t < 5:  # a short-lived ghost that moves a lot
            bodies.append(('ghost', body_joints(rng, centre=(5 * t, 0, 3))))
        wide = body_joints(rng, centre=(-2 + 0.3 * t, 0, 3), height=0.3)
        wide[:, 0] += np.linspace(-1, 1, V)  # wider than tall: furniture
        bodies.append(('wide', wide))
        frames.append(bodies)
    write_skeleton(p, frames)
    _, bodies = parse_skeleton_file(str(p), V)
    by_id = {b.body_id: b for b in bodies}
    assert spread_noise_ratio(by_id['wide']) == 1.0
    assert spread_noise_ratio(by_id['moving']) == 0.0
    assert motion_energy(by_id['wide']) > motion_energy(by_id['moving'])
    assert motion_energy(by_id['moving']) > motion_energy(by_id['still'])
    chosen = select_bodies(bodies, max_bodies=2)
    assert [b.body_id for b in chosen] == ['moving', 'still']
    assert [b.body_id for b in select_bodies(bodies, max_bodies=1)] == ['moving']
    # without denoising, the wide body and the ghost would win
    raw = select_bodies(bodies, max_bodies=2, min_frames=0, spread_ratio=1e9)
    assert [b.body_id for b in raw] == ['ghost', 'wide']


def test_missing_frames_are_zero(tmp_path):
    p = tmp_path / 'S001C001P001R001A007.skeleton'
    rng = np.random.default_rng(2)
    frames = [[] for _ in range(3)] + [[('1', body_joints(rng, state=1))] for _ in range(15)]
    frames += [[] for _ in range(2)]
    write_skeleton(p, frames)
    ann3, ann2 = convert_skeleton_file(str(p), V, IMG)
    assert ann3['total_frames'] == 20 and ann3['keypoint'].shape == (1, 20, V, 3)
    assert not ann3['keypoint'][:, :3].any() and not ann3['keypoint'][:, 18:].any()
    assert (np.abs(ann3['keypoint'][0, 3:18]).sum((1, 2)) > 0).all()
    np.testing.assert_array_equal(ann2['keypoint_score'][0, 3:18], 0.5)  # inferred joints
    assert not ann2['keypoint_score'][0, :3].any()
    assert ann3['label'] == 6


def test_no_body_returns_none(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    write_skeleton(p, [[] for _ in range(4)])
    assert convert_skeleton_file(str(p), V, IMG) == (None, None)


def test_splits_ntu60_and_ntu120():
    names = ['S001C001P001R001A001', 'S001C002P003R001A002', 'S002C003P008R002A060']
    s = ntu_splits(names)
    assert s['xsub_train'] == ['S001C001P001R001A001', 'S002C003P008R002A060']
    assert s['xsub_val'] == ['S001C002P003R001A002']
    assert s['xview_train'] == names[1:] and s['xview_val'] == names[:1]
    assert 'xset_train' not in s
    names120 = names + ['S018C001P045R001A061', 'S017C001P044R001A100']
    s = ntu_splits(names120)
    assert 'xview_train' not in s
    assert s['xsub_train'] == [names120[0], names120[2], names120[3]]
    assert s['xsub_val'] == [names120[1], names120[4]]
    assert s['xset_train'] == [names120[2], names120[3]]  # setups 2 and 18
    assert 45 in NTU120_XSUB_TRAIN and 45 not in NTU60_XSUB_TRAIN
    assert len(NTU60_XSUB_TRAIN) == 20 and len(NTU120_XSUB_TRAIN) == 53


# --- actors assembled across body-id changes (SGN / CTR-GCN get_two_actors_points) ---

NTU_RAW_NAMES = [f'S001C001P001R001A{a:03d}' for a in range(1, 11)] + [TWO]


def _old_select(bodies, max_bodies=2, min_frames=11, spread_ratio=0.8, max_noisy=0.69):
    """The selection before actors were assembled: each body id its own person."""
    kept = list(bodies)
    kept = [b for b in kept if len(b.frames) > min_frames] or kept
    kept = [b for b in kept if spread_noise_ratio(b, spread_ratio) <= max_noisy] or kept
    kept.sort(key=motion_energy, reverse=True)
    return kept[:max_bodies]


def _relabel(src, dst, switches):
    """Copy a .skeleton file, giving body ``old`` the id ``new`` from frame ``t`` on.

    ``switches`` maps an old id to ``[(t, new), ...]`` (increasing ``t``).
    """
    lines = open(src).read().splitlines()
    pos = 1
    for t in range(int(lines[0])):
        count = int(lines[pos])
        pos += 1
        for _ in range(count):
            bid, rest = lines[pos].split(' ', 1)
            new = bid
            for start, new_id in switches.get(bid, []):
                if t >= start:
                    new = new_id
            lines[pos] = f'{new} {rest}'
            pos += 2 + int(lines[pos + 1])
    with open(dst, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _person(rng, t, x0, amp, period=4.0):
    """(V, 12) joints of an upright person swaying around ``x0`` with amplitude ``amp``."""
    return body_joints(rng, centre=(x0 + amp * np.sin(t / period), 0, 3))


def _ids(schedule, t):
    """The body id in force at frame ``t``: ``schedule`` = [(first_frame, id), ...]."""
    return [bid for start, bid in schedule if t >= start][-1]


def _clip(path, num_frames, people, extra=()):
    """Write a clip: ``people`` = [(schedule, x0, amp(t)), ...]; ``extra`` = [(id, frames, x0, amp)]."""
    rng = np.random.default_rng(7)
    frames = []
    for t in range(num_frames):
        bodies = [(_ids(s, t), _person(rng, t, x0, amp(t))) for s, x0, amp in people]
        for bid, span, x0, amp in extra:
            if t in span:
                bodies.append((bid, _person(rng, t, x0, amp)))
        frames.append(bodies)
    write_skeleton(path, frames)
    return frames


def _present(kp3):
    """(M, T) bool: the slot holds a skeleton on that frame."""
    return np.abs(kp3).sum((2, 3)) > 0


def test_one_id_switch_keeps_one_actor(tmp_path):
    p1 = tmp_path / 'S001C001P001R001A001.skeleton'
    p0 = tmp_path / 'S001C001P001R001A002.skeleton'
    _clip(p1, 30, [([(0, '11'), (15, '12')], 0.0, lambda t: 0.3)])
    _clip(p0, 30, [([(0, '11')], 0.0, lambda t: 0.3)])  # same data, one id
    _, bodies = parse_skeleton_file(str(p1), V)
    assert [b.body_id for b in bodies] == ['11', '12']
    actors = select_bodies(bodies)
    assert len(actors) == 1 and actors[0].body_id == '11+12'
    np.testing.assert_array_equal(actors[0].frames, np.arange(30))
    ann3, ann2 = convert_skeleton_file(str(p1), V, IMG)
    ref3, ref2 = convert_skeleton_file(str(p0), V, IMG)
    assert ann3['keypoint'].shape == (1, 30, V, 3)
    assert _present(ann3['keypoint'])[0].all()
    np.testing.assert_array_equal(ann3['keypoint'], ref3['keypoint'])
    np.testing.assert_array_equal(ann2['keypoint'], ref2['keypoint'])
    np.testing.assert_array_equal(ann2['keypoint_score'], ref2['keypoint_score'])


def test_two_id_switches_keep_every_frame(tmp_path):
    # 103 frames, new ids at 35 and 70; the middle fragment is the stillest, so it is
    # merged last and must fill the gap between the two others (a span test would not)
    p1 = tmp_path / 'S001C001P001R001A001.skeleton'
    p0 = tmp_path / 'S001C001P001R001A002.skeleton'

    def amp(t):
        return 0.02 if 35 <= t < 70 else 0.4

    _clip(p1, 103, [([(0, 'a'), (35, 'b'), (70, 'c')], 0.0, amp)])
    _clip(p0, 103, [([(0, 'a')], 0.0, amp)])
    _, bodies = parse_skeleton_file(str(p1), V)
    by_id = {b.body_id: b for b in bodies}
    assert motion_energy(by_id['b']) < min(motion_energy(by_id['a']), motion_energy(by_id['c']))
    actors = select_bodies(bodies)
    assert [a.body_id for a in actors] == ['a+b+c']
    np.testing.assert_array_equal(actors[0].frames, np.arange(103))
    # the joints follow their frames
    for b in bodies:
        np.testing.assert_array_equal(actors[0].joints[b.frames], b.joints)
        np.testing.assert_array_equal(actors[0].xyz[b.frames], b.xyz)
        np.testing.assert_array_equal(actors[0].tracking[b.frames], b.tracking)
    ann3, ann2 = convert_skeleton_file(str(p1), V, IMG)
    ref3, ref2 = convert_skeleton_file(str(p0), V, IMG)
    assert ann3['keypoint'].shape == (1, 103, V, 3)
    assert _present(ann3['keypoint'])[0].sum() == 103
    np.testing.assert_array_equal(ann3['keypoint'], ref3['keypoint'])
    np.testing.assert_array_equal(ann2['keypoint'], ref2['keypoint'])
    np.testing.assert_array_equal(ann2['keypoint_score'], ref2['keypoint_score'])
    # the old per-id selection kept two fragments in two slots and dropped the third
    old = _old_select(bodies)
    assert len(old) == 2 and sum(len(b.frames) for b in old) < 103


@pytest.mark.parametrize('b_first', [False, True])
def test_two_people_one_re_ided(tmp_path, b_first):
    # person A at x=0 all along; person B at x=1.5 gets a new id at frame 20
    p = tmp_path / 'S001C001P001R001A058.skeleton'
    amp_a, amp_b = (0.1, 0.4) if b_first else (0.4, 0.1)
    _clip(
        p, 40, [([(0, 'A')], 0.0, lambda t: amp_a), ([(0, 'B1'), (20, 'B2')], 1.5, lambda t: amp_b)]
    )
    _, bodies = parse_skeleton_file(str(p), V)
    actors = select_bodies(bodies)
    expected = ['B1+B2', 'A'] if b_first else ['A', 'B1+B2']
    assert [a.body_id for a in actors] == expected
    ann3, _ = convert_skeleton_file(str(p), V, IMG)
    kp = ann3['keypoint']
    assert kp.shape == (2, 40, V, 3)
    assert _present(kp).all()  # both slots hold a person on every frame
    x = kp[..., 0].mean(-1)  # (M, T) mean joint x per slot
    slot_b = 0 if b_first else 1
    assert (np.abs(x[slot_b] - 1.5) < 0.6).all()  # B's slot is B on every frame
    assert (np.abs(x[1 - slot_b]) < 0.6).all()  # A's slot is A on every frame


def test_overlapping_extra_body_is_dropped(tmp_path):
    # A and B (re-IDed at 20) overlap all along; C, an upright but stiller third body on
    # frames 5..34, overlaps both actors and cannot merge: it is dropped
    p = tmp_path / 'S001C001P001R001A058.skeleton'
    _clip(
        p,
        40,
        [([(0, 'A')], 0.0, lambda t: 0.4), ([(0, 'B1'), (20, 'B2')], 1.5, lambda t: 0.3)],
        extra=[('C', range(5, 35), -1.5, 0.01)],
    )
    _, bodies = parse_skeleton_file(str(p), V)
    assert len(select_bodies(bodies, min_frames=0, spread_ratio=1e9)) == 2  # C is no noise
    actors = select_bodies(bodies)
    assert [a.body_id for a in actors] == ['A', 'B1+B2']
    assert [a.body_id for a in select_bodies(bodies, max_bodies=1)] == ['A']
    three = select_bodies(bodies, max_bodies=3)
    assert [a.body_id for a in three] == ['A', 'B1+B2', 'C']
    ann3, _ = convert_skeleton_file(str(p), V, IMG)
    assert ann3['keypoint'].shape == (2, 40, V, 3)
    assert _present(ann3['keypoint']).all()
    assert (ann3['keypoint'][..., 0].mean(-1) > -0.8).all()  # C (at x=-1.5) nowhere


def test_selection_is_deterministic_and_keeps_objects(tmp_path):
    p = tmp_path / 'S001C001P001R001A001.skeleton'
    make_clip(p, num_frames=20, two=True, noise_body=True)
    _, bodies = parse_skeleton_file(str(p), V)
    first = select_bodies(bodies)
    again = select_bodies(list(bodies))
    assert [a.body_id for a in first] == [a.body_id for a in again] == ['111', '222']
    by_id = {b.body_id: b for b in bodies}
    assert first[0] is by_id['111'] and first[1] is by_id['222']  # single bodies as parsed


@pytest.mark.parametrize('name', NTU_RAW_NAMES)
def test_real_clips_unchanged_by_actor_assembly(shared_data, name):
    path = osp.join(shared_data, 'ntu_raw', f'{name}.skeleton')
    T, bodies = parse_skeleton_file(path, V)
    old = _old_select(bodies)
    new = select_bodies(bodies)
    assert [b.body_id for b in new] == [b.body_id for b in old]
    assert all(a is b for a, b in zip(new, old))
    for got, want in zip(bodies_to_arrays(new, T, V), bodies_to_arrays(old, T, V)):
        np.testing.assert_array_equal(got, want)


def test_real_clip_with_two_id_switches(shared_data, tmp_path):
    # the reviewer's case: the one-person clip A001 (103 frames), new ids at 35 and 70
    name = 'S001C001P001R001A001'
    src = osp.join(shared_data, 'ntu_raw', f'{name}.skeleton')
    _, orig = parse_skeleton_file(src, V)
    (bid,) = [b.body_id for b in orig]
    dst = tmp_path / f'{name}.skeleton'
    _relabel(src, dst, {bid: [(35, 'x35'), (70, 'x70')]})
    _, bodies = parse_skeleton_file(str(dst), V)
    assert [len(b.frames) for b in bodies] == [35, 35, 33]
    assert sum(len(b.frames) for b in _old_select(bodies)) == 68  # the bug
    ann3, ann2 = convert_skeleton_file(str(dst), V, IMG)
    ref3, ref2 = convert_skeleton_file(src, V, IMG)
    assert ann3['keypoint'].shape == (1, 103, V, 3)
    assert _present(ann3['keypoint'])[0].all()
    np.testing.assert_array_equal(ann3['keypoint'], ref3['keypoint'])
    np.testing.assert_array_equal(ann2['keypoint'], ref2['keypoint'])
    np.testing.assert_array_equal(ann2['keypoint_score'], ref2['keypoint_score'])


def test_real_two_person_clip_with_id_switch(shared_data, tmp_path):
    # one of the two persons of A058 gets a new id at frame 30: still the same two tracks
    src = osp.join(shared_data, 'ntu_raw', f'{TWO}.skeleton')
    _, orig = parse_skeleton_file(src, V)
    first, second = (b.body_id for b in _old_select(orig))
    dst = tmp_path / f'{TWO}.skeleton'
    _relabel(src, dst, {second: [(30, 'new')]})
    ann3, ann2 = convert_skeleton_file(str(dst), V, IMG)
    ref3, ref2 = convert_skeleton_file(src, V, IMG)
    assert ann3['keypoint'].shape == ref3['keypoint'].shape == (2, 70, V, 3)
    assert _present(ann3['keypoint']).all()
    # the same two tracks; the slot order follows the most active body, which may now be
    # a fragment of the re-IDed person
    _, bodies = parse_skeleton_file(str(dst), V)
    top = max(bodies, key=motion_energy)
    perm = [0, 1] if top.body_id == first else [1, 0]
    np.testing.assert_array_equal(ann3['keypoint'], ref3['keypoint'][perm])
    np.testing.assert_array_equal(ann2['keypoint'], ref2['keypoint'][perm])
    np.testing.assert_array_equal(ann2['keypoint_score'], ref2['keypoint_score'][perm])


# --- SGN's denoising details (get_raw_skes_data.py / get_raw_denoised_data.py) ---


def _body(body_id, num_frames, x0=0.0, amp=0.0, wide_frames=(), seed=0, height=1.6):
    """An NTUBody built directly: upright, swaying by ``amp`` in x; sprawling on ``wide_frames``."""
    rng = np.random.default_rng(seed)
    joints = np.zeros((num_frames, V, 12), np.float32)
    for t in range(num_frames):
        joints[t] = body_joints(rng, centre=(x0 + amp * np.sin(t / 3), 0, 3), height=height)
    for t in wide_frames:  # wider than tall: a noisy frame
        joints[t, :, 0] = x0 + np.linspace(-1.5, 1.5, V)
    return NTUBody(body_id, np.arange(num_frames, dtype=np.int64), joints)


def test_motion_energy_is_sgns_pooled_variance(shared_data):
    path = osp.join(shared_data, 'ntu_raw', f'{TWO}.skeleton')
    _, bodies = parse_skeleton_file(path, V)
    for b in bodies:
        # SGN: np.sum(np.var(joints, axis=0)) on the body's joints as (F * 25, 3)
        want = np.sum(np.var(b.xyz.reshape(-1, 3).astype(np.float64), axis=0))
        assert motion_energy(b) == pytest.approx(want, rel=1e-9)
        half = np.arange(len(b.frames)) % 2 == 0
        assert motion_energy(b, half) == pytest.approx(
            np.sum(np.var(b.xyz[half].reshape(-1, 3).astype(np.float64), axis=0)), rel=1e-9
        )
    # the pooled variance counts the body's extent: a tall still body outranks a small
    # swaying one (the per-joint variance over time, used before, ranked them the other way)
    tall = _body('tall', 30, height=2.0)
    small = _body('small', 30, amp=0.3, height=0.5)
    assert motion_energy(tall) > motion_energy(small)
    per_joint = [float(b.xyz.var(axis=0).sum()) for b in (tall, small)]
    assert per_joint[0] < per_joint[1]
    assert [a.body_id for a in select_bodies([small, tall], max_bodies=1)] == ['tall']
    assert motion_energy(_body('none', 0)) == 0.0


def test_spread_threshold_is_sgns():
    # 200 frames; SGN drops a body whose noisy fraction is >= 0.69754 (we dropped > 0.69)
    wide = np.arange(139)  # 0.695: kept now, dropped before
    person = _body('P', 200, x0=1.5, amp=0.2, seed=1)
    almost = _body('almost', 200, amp=0.2, wide_frames=wide)
    assert spread_noise_ratio(almost) == pytest.approx(0.695)
    assert spread_valid_frames(almost).sum() == 61
    assert [b.body_id for b, _ in denoise_bodies([almost, person])] == ['almost', 'P']
    over = _body('over', 200, amp=0.2, wide_frames=np.arange(140))  # 0.70
    assert [b.body_id for b, _ in denoise_bodies([over, person])] == ['P']
    # the threshold is a parameter
    kept = denoise_bodies([almost, person], noisy_fraction=0.69)
    assert [b.body_id for b, _ in kept] == ['P']


def test_spread_step_stops_at_one_body():
    # every body is noisy: SGN drops them in input order while more than one is left, so
    # the last one stays (we kept all three before)
    noisy = [_body(f'n{i}', 30, x0=i, wide_frames=range(30), seed=i) for i in range(3)]
    assert [b.body_id for b, _ in denoise_bodies(noisy)] == ['n2']
    assert [b.body_id for b, _ in denoise_bodies(noisy[::-1])] == ['n0']
    # a single body is never dropped, nor are all bodies for their length
    assert [b.body_id for b, _ in denoise_bodies(noisy[:1])] == ['n0']
    short = [_body('s1', 5, wide_frames=range(5)), _body('s2', 8, x0=2, seed=3)]
    assert [b.body_id for b, _ in denoise_bodies(short)] == ['s2']  # spread still applies


def test_noisy_frames_do_not_rank_a_body():
    # A hardly moves but sprawls on 20 % of its frames, which inflates its pooled variance
    # above B's; SGN re-measures a kept body's motion on its valid frames only (the
    # smaller of the two), so B, the more active person, is actor 1
    a = _body('A', 50, amp=0.02, wide_frames=range(0, 50, 5))
    b = _body('B', 50, x0=1.5, amp=0.25, seed=2)
    assert motion_energy(a) > motion_energy(b)
    kept = denoise_bodies([a, b])
    (ka, ma), (kb, mb) = kept
    assert (ka.body_id, kb.body_id) == ('A', 'B')
    assert ma == pytest.approx(motion_energy(a, spread_valid_frames(a)))
    assert ma < motion_energy(a) and mb == motion_energy(b)  # B has no noisy frame
    assert [x.body_id for x in select_bodies([a, b])] == ['B', 'A']
    # ranked by the full-frame motion instead, A would come first
    assert [x.body_id for x in assemble_actors([a, b])] == ['A', 'B']
    with pytest.raises(ValueError, match='1 motions for 2 bodies'):
        assemble_actors([a, b], motions=[1.0])
