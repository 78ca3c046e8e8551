"""Draw one clip in every given format side by side: a PNG of one frame, or a GIF over time.

Each PICKLE is drawn with its own format's edges (format from ``--format``, the pickle's
``meta`` or the file name stem, as in ``check_pkl.py``); 3D formats are shown as their
(x, y) projection with y up, 2D formats in image coordinates (y down). Every person of the
clip gets its own colour; joints that are all zero (absent) are not drawn.

Example:
    python tools/data/visualize.py data/ntu60/kinect25.pkl data/ntu60/kinect25_2d.pkl \
        --frame-dir S001C003P008R002A058 --frame 30 --out hug.png
    python tools/data/visualize.py data/ntu60/*.pkl --frame-dir S001C003P008R002A058 \
        --gif --out hug.gif
"""

import argparse
import os
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import animation  # noqa: E402

from msclr_mm.datasets import AnnotationError, load_annotation_file  # noqa: E402
from msclr_mm.datasets.converters.common import (  # noqa: E402
    ConversionError,
    check_outputs,
    fail,
)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from check_pkl import resolve_format  # noqa: E402

COLOURS = ('tab:blue', 'tab:red', 'tab:green', 'tab:orange')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('pickles', nargs='+', help='annotation pickles, one per format')
    parser.add_argument('--frame-dir', required=True, help='the clip to draw')
    parser.add_argument('--format', nargs='+', dest='formats', help='format of each pickle')
    parser.add_argument('--frame', type=int, default=0, help='frame for the PNG (default 0)')
    parser.add_argument('--gif', action='store_true', help='write an animated GIF instead')
    parser.add_argument('--fps', type=int, default=15, help='GIF frames per second')
    parser.add_argument('--out', required=True, help='output .png or .gif')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing image')
    return parser.parse_args(argv)


def clip_views(pickles, formats, frame_dir):
    """``[(fmt, xy (M, T, V, 2) with y up for 3D, present (M, T, V) bool)]`` per pickle."""
    views = []
    for k, path in enumerate(pickles):
        data = load_annotation_file(path)
        fmt = resolve_format(path, data, formats[k] if formats else None)
        ann = next((a for a in data['annotations'] if a.get('frame_dir') == frame_dir), None)
        if ann is None:
            raise ConversionError(f'{path}: no clip {frame_dir!r} (format {fmt.name!r})')
        kp = np.asarray(ann['keypoint'], np.float32)
        present = np.any(kp != 0, axis=-1)
        xy = kp[..., :2].copy()
        if fmt.is_2d:
            xy[..., 1] = -xy[..., 1]  # image y points down; draw upright
        views.append((fmt, xy, present))
    return views


def draw(axes, views, t):
    """Draw frame ``t`` of every view into its axis."""
    for ax, (fmt, xy, present) in zip(axes, views):
        ax.clear()
        T = xy.shape[1]
        ti = min(t, T - 1)
        for m in range(xy.shape[0]):
            colour = COLOURS[m % len(COLOURS)]
            p, ok = xy[m, ti], present[m, ti]
            for a, b in fmt.edges:
                if ok[a] and ok[b]:
                    ax.plot(p[[a, b], 0], p[[a, b], 1], '-', color=colour, lw=2)
            ax.plot(p[ok, 0], p[ok, 1], 'o', color=colour, ms=3)
        ax.set_title(f'{fmt.name} ({"2D" if fmt.is_2d else "3D x, y"})  frame {ti}/{T}')
        ax.set_aspect('equal')
        lim = xy[present]
        if len(lim):
            lo, hi = lim.min(0), lim.max(0)
            pad = 0.05 * float(max(hi - lo)) + 1e-6
            ax.set_xlim(lo[0] - pad, hi[0] + pad)
            ax.set_ylim(lo[1] - pad, hi[1] + pad)


def main(argv=None):
    args = parse_args(argv)
    if args.formats and len(args.formats) != len(args.pickles):
        return fail(f'--format got {len(args.formats)} names for {len(args.pickles)} pickles')
    suffix = '.gif' if args.gif else '.png'
    if not args.out.endswith(suffix):
        return fail(f'--out {args.out} must end in {suffix}')
    try:
        check_outputs([args.out], args.overwrite)
        views = clip_views(args.pickles, args.formats, args.frame_dir)
    except (ConversionError, AnnotationError) as exc:
        return fail(str(exc))
    T = max(xy.shape[1] for _, xy, _ in views)
    if not args.gif and not 0 <= args.frame < T:
        return fail(f'--frame {args.frame} is outside the clip ({T} frames)')
    fig, axes = plt.subplots(1, len(views), figsize=(4.5 * len(views), 4.5), squeeze=False)
    axes = axes[0]
    tmp = osp.join(osp.dirname(osp.abspath(args.out)), '.tmp.' + osp.basename(args.out))
    try:
        if args.gif:
            anim = animation.FuncAnimation(fig, lambda t: draw(axes, views, t), frames=T)
            anim.save(tmp, writer=animation.PillowWriter(fps=args.fps))
        else:
            draw(axes, views, args.frame)
            fig.tight_layout()
            fig.savefig(tmp, dpi=100, format='png')
        os.replace(tmp, args.out)
    finally:
        plt.close(fig)
        if osp.exists(tmp):
            os.unlink(tmp)
    what = f'{T} frames' if args.gif else f'frame {args.frame}'
    print(f'wrote {args.out} ({len(views)} format(s), {what})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
