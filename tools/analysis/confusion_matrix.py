"""Confusion-matrix PNG from a ``tools/test.py --dump`` pickle (ensemble or one format).

Example:
    python tools/analysis/confusion_matrix.py preds.pkl --out cm.png [--format kinect25]

"""

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import numpy as np  # noqa: E402

from msclr_mm.evaluation.report import read_dump  # noqa: E402


def confusion(labels, preds, num_classes):
    """Counts ``(K, K)``: row = true class, column = predicted class.

    Args:
        labels (np.ndarray): ``(N,)`` true classes.
        preds (np.ndarray): ``(N,)`` predicted classes.
        num_classes (int): ``K``.

    Returns:
        np.ndarray: ``(K, K)`` int64 counts.

    """
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(preds)), 1)
    return cm


def plot_confusion(cm, out, class_names=None, normalize=True, title=None):
    """Write the matrix as a PNG (rows normalised to recall when ``normalize``).

    Args:
        cm (np.ndarray): ``(K, K)`` counts from :func:`confusion`.
        out (str): PNG path.
        class_names (list[str], optional): Tick labels. Defaults to None (indices).
        normalize (bool): Divide each row by its count. Defaults to True.
        title (str, optional): Title. Defaults to None.

    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    k = cm.shape[0]
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    size = min(4 + 0.25 * k, 30)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(shown, cmap='Blues', vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label='recall' if normalize else 'clips')
    step = max(1, k // 60)
    ticks = np.arange(0, k, step)
    names = class_names if class_names else [str(i) for i in range(k)]
    ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90, fontsize=7 if k > 20 else 9)
    ax.set_yticks(ticks, [names[i] for i in ticks], fontsize=7 if k > 20 else 9)
    ax.set_xlabel('predicted class')
    ax.set_ylabel('true class')
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    v = shown[i, j]
                    text = f'{v:.2f}' if normalize else str(int(v))
                    colour = 'white' if v > (0.5 if normalize else shown.max() / 2) else 'black'
                    ax.text(j, i, text, ha='center', va='center', fontsize=8, color=colour)
    if title:
        ax.set_title(title)
    fig.savefig(out, dpi=120, bbox_inches='tight')
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dump', help='.pkl written by tools/test.py --dump')
    parser.add_argument('--out', required=True, help='PNG to write')
    parser.add_argument(
        '--format', help="one format's scores (pred_scores_per_format) instead of the ensemble"
    )
    parser.add_argument('--counts', action='store_true', help='raw counts, not row-normalised')
    parser.add_argument('--class-names', help='text file, one class name per line')
    parser.add_argument('--trust-dump', action='store_true')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    d = read_dump(args.dump, trusted=args.trust_dump)
    scores, labels, what = d.pred_score, d.labels, 'ensemble'
    if args.format:
        if args.format not in d.per_format:
            raise SystemExit(
                f'{args.dump} has no scores of format {args.format!r}; it has '
                f'{sorted(d.per_format) or "none (no pred_scores_per_format)"}'
            )
        scores = d.per_format[args.format]
        have = ~np.isnan(scores).any(axis=1)
        scores, labels, what = scores[have], labels[have], args.format
    names = None
    if args.class_names:
        with open(args.class_names) as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) != scores.shape[1]:
            raise SystemExit(f'{args.class_names} has {len(names)} names for {scores.shape[1]}')
    preds = scores.argmax(axis=1)
    cm = confusion(labels, preds, scores.shape[1])
    top1 = float((preds == labels).mean())
    title = f'{osp.basename(args.dump)}: {what}, top-1 {100 * top1:.2f} % ({len(labels)} clips)'
    plot_confusion(cm, args.out, names, not args.counts, title)
    print(f'wrote {args.out} ({title})')


if __name__ == '__main__':
    main()
