import csv
import pickle

import mmengine
import numpy as np
import pytest
import torch

from msclr_mm.evaluation.report import (
    UnsafeDumpError,
    build_report,
    epoch_note,
    load_dump,
    read_dump,
    report_markdown,
    write_report,
)
from tests.conftest import run_python

LABELS = [0, 1, 2, 0]
NAMES = ['clipA', 'clipB', 'clipC', 'clipD']


def probs(pred, conf):
    """A probability row: ``conf`` on ``pred``, the rest shared by the other 2 classes."""
    p = np.full(3, (1 - conf) / 2)
    p[pred] = conf
    return p


# predicted class per clip (None: the clip lacks the format) and the confidence
STREAMS = {
    'joint': {'kinect25': ([0, 1, 2, 1], 0.8), 'smplx42': ([0, 2, 2, None], 0.6)},
    'bone': {'kinect25': ([1, 1, 2, 0], 0.7), 'smplx42': ([0, 1, 1, None], 0.5)},
}


def write_dump(path, stream, order=(0, 1, 2, 3)):
    """A list of dicts as mmengine's DumpResults writes it (tensors, metainfo, per format)."""
    samples = []
    for i in order:
        per_format = {
            f: torch.tensor(probs(preds[i], conf), dtype=torch.float32)
            for f, (preds, conf) in STREAMS[stream].items()
            if preds[i] is not None
        }
        ensemble = torch.stack(list(per_format.values())).mean(0)
        samples.append(
            dict(
                frame_dir=NAMES[i],
                formats=list(per_format),
                num_classes=3,
                gt_label=torch.tensor([LABELS[i]]),
                pred_score=ensemble,
                pred_label=ensemble.argmax().reshape(1),
                pred_scores_per_format=per_format,
            )
        )
    mmengine.dump(samples, str(path))
    return str(path)


@pytest.fixture
def dumps(tmp_path):
    # the bone dump lists the clips in another order: the report aligns them by frame_dir
    return {
        'joint': write_dump(tmp_path / 'joint.pkl', 'joint'),
        'bone': write_dump(tmp_path / 'bone.pkl', 'bone', order=(3, 1, 0, 2)),
    }


def test_read_dump_gives_arrays_with_nan_for_missing_formats(dumps):
    d = read_dump(dumps['joint'])
    assert d.labels.tolist() == LABELS and d.frame_dirs == NAMES
    assert d.pred_score.shape == (4, 3)
    assert set(d.per_format) == {'kinect25', 'smplx42'}
    assert np.isnan(d.per_format['smplx42'][3]).all()
    np.testing.assert_allclose(d.per_format['kinect25'][1], [0.1, 0.8, 0.1], rtol=1e-6)


def test_report_rows_hand_computed(dumps):
    report = build_report(dumps, epoch_kind='last')
    rows = {(r['stream'], r['skeleton']): r for r in report.rows}
    assert list(rows) == [
        ('joint', 'kinect25'), ('joint', 'smplx42'), ('joint', 'ensemble'),
        ('bone', 'kinect25'), ('bone', 'smplx42'), ('bone', 'ensemble'),
        ('fusion', 'kinect25'), ('fusion', 'smplx42'), ('fusion', 'ensemble'),
    ]  # fmt: skip
    expected_top1 = {
        ('joint', 'kinect25'): 3 / 4,  # preds 0 1 2 1 vs labels 0 1 2 0
        ('joint', 'smplx42'): 2 / 3,  # 3 clips: 0 2 2 vs 0 1 2
        ('joint', 'ensemble'): 3 / 4,  # clip B: (.1,.8,.1)+(.2,.2,.6) -> class 1
        ('bone', 'kinect25'): 3 / 4,
        ('bone', 'smplx42'): 2 / 3,
        ('bone', 'ensemble'): 3 / 4,  # clip A: (.15,.7,.15)+(.5,.25,.25) -> class 1, wrong
        ('fusion', 'kinect25'): 3 / 4,  # clip D: .6*(.1,.8,.1)+.6*(.7,.15,.15) -> 1, wrong
        ('fusion', 'smplx42'): 2 / 3,  # clip B: (.2,.2,.6)+(.25,.5,.25) -> 2, wrong
        ('fusion', 'ensemble'): 3 / 4,
    }
    for key, top1 in expected_top1.items():
        assert rows[key]['top1'] == pytest.approx(top1), key
        assert rows[key]['top5'] == 1.0
    assert rows[('joint', 'smplx42')]['clips'] == 3 and rows[('fusion', 'smplx42')]['clips'] == 3
    assert rows[('joint', 'kinect25')]['clips'] == 4
    # class 0: clips A (right) and D (wrong); classes 1 and 2 right -> (1/2 + 1 + 1) / 3
    assert rows[('joint', 'kinect25')]['mean_class'] == pytest.approx(2.5 / 3)
    assert 'last-epoch' in report.note and 'joint:bone = 0.6:0.6' in report.note


def test_coefficients_change_the_fusion(dumps):
    # bone alone decides: the fusion equals bone's numbers
    report = build_report(dumps, coeffs={'joint': 0.0, 'bone': 1.0}, epoch_kind='best')
    rows = {(r['stream'], r['skeleton']): r for r in report.rows}
    # fused kinect25 = bone kinect25 (preds 1 1 2 0 -> A wrong, D right)
    assert rows[('fusion', 'kinect25')]['top1'] == pytest.approx(3 / 4)
    assert rows[('fusion', 'kinect25')]['mean_class'] == pytest.approx(
        rows[('bone', 'kinect25')]['mean_class']
    )
    assert 'best-epoch' in report.note and '0:1' in report.note


def test_markdown_and_csv_files(dumps, tmp_path):
    report = build_report(dumps, checkpoint='work_dirs/x/best_acc_top1_epoch_80.pth')
    md, csv_path = write_report(report, str(tmp_path / 'out'))
    text = open(md).read()
    assert text == report_markdown(report)
    assert text.splitlines()[0].startswith('Numbers from the best-epoch checkpoint')
    assert '| joint | kinect25 | 75.00 | 100.00 | 83.33 | 4 |' in text
    assert '| fusion | smplx42 | 66.67 | 100.00 |' in text
    with open(csv_path) as f:
        table = list(csv.DictReader(f))
    assert len(table) == 9 and table[0]['epoch'] == 'best'
    assert float(table[1]['top-1 (%)']) == pytest.approx(200 / 3, abs=1e-4)


def test_epoch_kind_from_flag_or_checkpoint_name():
    assert epoch_note('last')[0] == 'last'
    assert epoch_note(checkpoint='a/best_acc_top1_epoch_7.pth')[0] == 'best'
    assert epoch_note(checkpoint='a/epoch_100.pth')[0] == 'last'
    with pytest.raises(ValueError, match='contradicts the checkpoint name'):
        epoch_note('last', 'best_acc_top1_epoch_7.pth')
    with pytest.raises(ValueError, match='last or the best epoch'):
        epoch_note()
    with pytest.raises(ValueError, match="'model.pth' does not tell"):
        epoch_note(checkpoint='model.pth')


def test_dumps_with_different_labels_or_clips_are_refused(dumps, tmp_path):
    d = read_dump(dumps['joint'])
    other = read_dump(dumps['joint'])
    other.labels = other.labels.copy()
    other.labels[2] = 1
    with pytest.raises(ValueError, match="clip clipC: label 1 in stream 'bone'"):
        build_report({'joint': d, 'bone': other}, epoch_kind='last')
    short = write_dump(tmp_path / 'short.pkl', 'bone', order=(0, 1, 2))
    with pytest.raises(ValueError, match="stream 'bone' .* has 3 clips"):
        build_report({'joint': dumps['joint'], 'bone': short}, epoch_kind='last')


class Evil:
    def __reduce__(self):
        return (print, ('this ran while loading',))


def test_dump_with_code_is_refused(tmp_path, capsys):
    path = tmp_path / 'evil.pkl'
    with open(path, 'wb') as f:
        pickle.dump([dict(pred_score=torch.ones(2), gt_label=torch.tensor([0]), x=Evil())], f)
    with pytest.raises(UnsafeDumpError, match='builtins.print is not allowed'):
        load_dump(str(path))
    assert 'this ran' not in capsys.readouterr().out


def test_report_tool_prints_the_table_and_writes_files(dumps, tmp_path):
    out = tmp_path / 'rep'
    motion = write_dump(tmp_path / 'motion.pkl', 'joint')
    proc = run_python(
        [
            'tools/analysis/report.py',
            '--dumps', f'joint={dumps["joint"]}', f'bone={dumps["bone"]}', f'motion={motion}',
            '--coeffs', '0.6', '0.6', '0.4',
            '--out-dir', str(out),
            '--epoch-kind', 'last',
        ]
    )  # fmt: skip
    assert '| stream | skeleton | top-1 (%) | top-5 (%) | mean-class (%) | clips |' in proc.stdout
    assert '| motion | ensemble | 75.00 |' in proc.stdout
    assert 'joint:bone:motion = 0.6:0.6:0.4' in proc.stdout
    assert (out / 'report.md').read_text() == proc.stdout
    assert (out / 'report.csv').is_file()


def test_report_tool_errors(dumps, tmp_path):
    from tools.analysis.report import main

    with pytest.raises(SystemExit, match='--coeffs has 1 values for 2 streams'):
        main(['--dumps', f'joint={dumps["joint"]}', f'bone={dumps["bone"]}',
              '--coeffs', '1', '--out-dir', str(tmp_path), '--epoch-kind', 'last'])  # fmt: skip
    with pytest.raises(SystemExit, match='last or the best epoch'):
        main(['--dumps', f'joint={dumps["joint"]}', '--out-dir', str(tmp_path)])
    with pytest.raises(SystemExit, match='STREAM=PATH'):
        main(['--dumps', dumps['joint'], '--out-dir', str(tmp_path), '--epoch-kind', 'last'])


def _logit_dump(path, logits, label=1):
    """One clip, one format: the dump MultiSkeletonRecognizer writes, logits included."""
    z = torch.tensor(logits, dtype=torch.float32)
    p = torch.softmax(z, 0)
    sample = dict(
        frame_dir='clipA',
        gt_label=torch.tensor([label]),
        pred_score=p,
        pred_scores_per_format={'kinect25': p},
        pred_logits_per_format={'kinect25': z},
    )
    mmengine.dump([sample], str(path))
    return str(path)


def test_fusion_on_logits_as_the_reference_or_on_probabilities(tmp_path):
    # fused probabilities favour class 0, fused logits class 1 (the label)
    dumps = {
        'joint': _logit_dump(tmp_path / 'j.pkl', [5.0, 4.0, 0.0]),
        'bone': _logit_dump(tmp_path / 'b.pkl', [0.0, 4.5, 5.0]),
    }
    coeffs = dict(joint=0.5, bone=0.5)

    def fusion_top1(scores):
        report = build_report(dumps, coeffs=coeffs, scores=scores, epoch_kind='last')
        return {r['skeleton']: r['top1'] for r in report.rows if r['stream'] == 'fusion'}, report

    top1, report = fusion_top1('probs')
    assert top1 == {'kinect25': 0.0, 'ensemble': 0.0} and 'logits' not in report.note
    top1, report = fusion_top1('logits')
    assert top1 == {'kinect25': 1.0, 'ensemble': 1.0} and 'raw logits' in report.note
    proc = run_python(
        [
            'tools/analysis/report.py',
            '--dumps', f'joint={dumps["joint"]}', f'bone={dumps["bone"]}',
            '--coeffs', '0.5', '0.5', '--scores', 'logits',
            '--out-dir', str(tmp_path / 'out'), '--epoch-kind', 'last',
        ]
    )  # fmt: skip
    assert '| fusion | ensemble | 100.00 |' in proc.stdout and 'raw logits' in proc.stdout
    d = read_dump(dumps['bone'], scores='logits')
    np.testing.assert_allclose(d.pred_score[0], [0.0, 4.5, 5.0])
    with pytest.raises(ValueError, match='expected one of'):
        read_dump(dumps['bone'], scores='softmax')


def test_logits_asked_of_a_dump_without_them(dumps):
    with pytest.raises(KeyError, match="clipA has no 'pred_logits_per_format'"):
        read_dump(dumps['joint'], scores='logits')
