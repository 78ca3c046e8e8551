r"""t-SNE (or PCA) pictures of frozen encoder features, coloured by class, one panel per format.

Input: a features file (``.npz`` with ``features_<fmt>`` ``(N_f, C)``, ``labels`` ``(N,)``
and, when formats cover different clips, ``labels_<fmt>`` ``(N_f,)``), or a config and a
checkpoint from which the features are computed (and saved with ``--save-features``).

Examples:
    python tools/analysis/plot_embeddings.py --features feats.npz --out tsne.png
    python tools/analysis/plot_embeddings.py --config CFG --checkpoint CKPT \
        --save-features feats.npz --out tsne.png

"""

import argparse
import contextlib
import math
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import numpy as np  # noqa: E402


def compute_features(model, batches, max_batches=None):
    """Pooled encoder features of every clip, per format, with labels.

    Args:
        model: A ``MultiSkeletonRecognizer`` (anything with ``data_preprocessor`` and
            ``extract_feat(inputs) -> {view: {fmt: {'feat', 'index'}}}``).
        batches (Iterable[dict]): Collated batches (``multi_skeleton_collate``).
        max_batches (int, optional): Stop after this many batches. Defaults to None (all).

    Returns:
        dict[str, np.ndarray]: ``features_<fmt>`` ``(N_f, C)`` float32, ``labels_<fmt>``
        ``(N_f,)`` and ``labels`` ``(N,)`` of all clips, ready for ``np.savez``.

    """
    import torch

    feats, flabels, labels = {}, {}, []
    model.eval()
    with torch.no_grad():
        for b, batch in enumerate(batches):
            if max_batches is not None and b >= max_batches:
                break
            data = model.data_preprocessor(batch, False)
            y = np.asarray([int(ds.gt_label.reshape(-1)[0]) for ds in data['data_samples']])
            for groups in model.extract_feat(data['inputs']).values():
                for fmt, g in groups.items():
                    idx = g['index'].cpu().numpy()
                    feats.setdefault(fmt, []).append(g['feat'].float().cpu().numpy())
                    flabels.setdefault(fmt, []).append(y[idx])
            labels.append(y)
    if not feats:
        raise ValueError('compute_features: the batches held no clip')
    out = {'labels': np.concatenate(labels)}
    for fmt in feats:
        out[f'features_{fmt}'] = np.concatenate(feats[fmt]).astype(np.float32)
        out[f'labels_{fmt}'] = np.concatenate(flabels[fmt])
    return out


def features_from_config(config, checkpoint, split='test', max_batches=None, trusted=False):
    """Build the model and dataloader of ``config``, load ``checkpoint``, compute features.

    Args:
        config (str): Config file (a ``MultiSkeletonRecognizer`` model).
        checkpoint (str): Checkpoint to load (weights-only unless ``trusted``).
        split (str): ``'test'``, ``'val'`` or ``'train'``: whose dataloader. Defaults to
            ``'test'``.
        max_batches (int, optional): Stop after this many batches. Defaults to None.
        trusted (bool): Allow a full unpickle of the checkpoint. Defaults to False.

    Returns:
        dict[str, np.ndarray]: As :func:`compute_features`.

    """
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint

    import msclr_mm  # noqa: F401
    from msclr_mm.compat import trusted_checkpoints

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    ctx = trusted_checkpoints() if trusted else contextlib.nullcontext()
    with ctx:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    loader = Runner.build_dataloader(cfg[f'{split}_dataloader'])
    return compute_features(model, loader, max_batches)


def embed_2d(x, method='tsne', seed=0):
    """2-D embedding of ``x`` ``(N, C)``: t-SNE (scikit-learn) or PCA (numpy SVD).

    Args:
        x (np.ndarray): Features ``(N, C)``.
        method (str): ``'tsne'`` (falls back to PCA without scikit-learn) or ``'pca'``.
            Defaults to ``'tsne'``.
        seed (int): Random seed of t-SNE. Defaults to 0.

    Returns:
        tuple[np.ndarray, str]: ``(N, 2)`` coordinates and the method actually used.

    """
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    if method == 'tsne' and len(x) > 5:
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            print('scikit-learn is not installed: using PCA instead of t-SNE', file=sys.stderr)
        else:
            from threadpoolctl import threadpool_limits

            perplexity = float(min(30.0, (len(x) - 1) / 3))
            tsne = TSNE(2, perplexity=perplexity, init='pca', random_state=seed)
            # small inputs: one thread (OpenMP pools next to torch's spin and run 20x slower)
            with threadpool_limits(limits=1 if len(x) <= 5000 else None):
                return tsne.fit_transform(x), 't-SNE'
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    proj = x @ vt[:2].T
    if proj.shape[1] < 2:
        proj = np.pad(proj, ((0, 0), (0, 2 - proj.shape[1])))
    return proj, 'PCA'


def read_class_names(path):
    """One class name per line."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def plot_embeddings(
    features, out, method='tsne', max_points=3000, seed=0, class_names=None, title=None
):
    """Write a PNG with one scatter panel per format.

    Args:
        features (dict[str, np.ndarray]): As :func:`compute_features` (or a loaded npz).
        out (str): PNG path.
        method (str): ``'tsne'`` or ``'pca'``. Defaults to ``'tsne'``.
        max_points (int): Random subsample per format above this. Defaults to 3000.
        seed (int): Seed of the subsample and t-SNE. Defaults to 0.
        class_names (list[str], optional): Legend names. Defaults to None (indices).
        title (str, optional): Figure title. Defaults to None.

    Returns:
        list[str]: The formats plotted.

    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    formats = sorted(k[len('features_') :] for k in features if k.startswith('features_'))
    if not formats:
        raise ValueError('no features_<format> array in the features')
    rng = np.random.default_rng(seed)
    cols = min(3, len(formats))
    rows = math.ceil(len(formats) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 5.0 * rows), squeeze=False)
    all_labels = np.unique(np.concatenate([_labels(features, f) for f in formats]))
    cmap = plt.get_cmap('tab10' if len(all_labels) <= 10 else 'tab20')
    colour = {c: cmap(i % cmap.N) for i, c in enumerate(all_labels)}
    for ax, fmt in zip(axes.flat, formats):
        x = np.asarray(features[f'features_{fmt}'])
        y = _labels(features, fmt)
        if len(y) != len(x):
            raise ValueError(f'{fmt}: {len(x)} feature rows but {len(y)} labels')
        if len(x) > max_points:
            keep = np.sort(rng.choice(len(x), max_points, replace=False))
            x, y = x[keep], y[keep]
        xy, used = embed_2d(x, method, seed)
        for c in np.unique(y):
            m = y == c
            name = class_names[c] if class_names and c < len(class_names) else str(c)
            ax.scatter(xy[m, 0], xy[m, 1], s=8, color=colour[c], label=name, alpha=0.8)
        ax.set_title(f'{fmt} ({len(x)} clips, {used})')
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(formats) :]:
        ax.axis('off')
    if len(all_labels) <= 20:
        handles, names = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, names, loc='center right', title='class', markerscale=2)
        fig.subplots_adjust(right=0.85)
    if title:
        fig.suptitle(title)
    fig.savefig(out, dpi=120, bbox_inches='tight')
    plt.close(fig)
    return formats


def _labels(features, fmt):
    key = f'labels_{fmt}' if f'labels_{fmt}' in features else 'labels'
    return np.asarray(features[key]).astype(np.int64)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--features', help='.npz with features_<fmt> and labels')
    src.add_argument('--config', help='config of a MultiSkeletonRecognizer (with --checkpoint)')
    parser.add_argument('--checkpoint', help='checkpoint for --config')
    parser.add_argument('--split', default='test', choices=['train', 'val', 'test'])
    parser.add_argument('--max-batches', type=int)
    parser.add_argument('--save-features', help='write the computed features to this .npz')
    parser.add_argument('--out', required=True, help='PNG to write')
    parser.add_argument('--method', default='tsne', choices=['tsne', 'pca'])
    parser.add_argument('--max-points', type=int, default=3000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--class-names', help='text file, one class name per line')
    parser.add_argument('--title')
    parser.add_argument('--trust-checkpoint', action='store_true')
    args = parser.parse_args(argv)
    if args.config and not args.checkpoint:
        parser.error('--config needs --checkpoint')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.features:
        with np.load(args.features) as data:
            features = {k: data[k] for k in data.files}
    else:
        features = features_from_config(
            args.config, args.checkpoint, args.split, args.max_batches, args.trust_checkpoint
        )
        if args.save_features:
            np.savez(args.save_features, **features)
    names = read_class_names(args.class_names) if args.class_names else None
    formats = plot_embeddings(
        features, args.out, args.method, args.max_points, args.seed, names, args.title
    )
    print(f'wrote {args.out} ({", ".join(formats)})')


if __name__ == '__main__':
    main()
