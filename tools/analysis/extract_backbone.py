r"""Write a pretraining checkpoint's encoder as a small, tensor-only file for sharing.

The output, ``{'state_dict': {name: tensor}, 'meta': {'source', 'prefix', 'formats'}}``,
holds only tensors and strings: it loads with ``torch.load(weights_only=True)`` anywhere.
Its keys have the prefix removed, so a config loads it with
``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` on the backbone (no ``prefix``).

Example:
    python tools/analysis/extract_backbone.py work_dirs/msaimclr/epoch_300.pth \
        msaimclr_backbone.pth --prefix backbone.

"""

import argparse
import contextlib
import os
import os.path as osp
import re
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from msclr_mm.compat import load_checkpoint_file, trusted_checkpoints  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='checkpoint written by tools/train.py')
    parser.add_argument('out', help='output file (.pth)')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help="keys of the encoder in the checkpoint's state_dict (default: backbone.)",
    )
    parser.add_argument('--overwrite', action='store_true', help='replace OUT if it exists')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow the checkpoint to unpickle arbitrary Python objects (trusted files only)',
    )
    return parser.parse_args(argv)


def extract_backbone(checkpoint, prefix='backbone.', trusted=False):
    """Return the tensor-only ``{'state_dict', 'meta'}`` of the encoder in ``checkpoint``.

    Args:
        checkpoint (str): Checkpoint path (mmengine layout, or a bare state dict).
        prefix (str): Key prefix of the encoder. Defaults to ``'backbone.'``.
        trusted (bool): Allow a full unpickle. Defaults to False.

    Returns:
        dict: ``state_dict`` (prefix removed, tensors cloned) and ``meta`` with ``source``
        (absolute path), ``prefix`` and ``formats`` (from the ``stems.<format>.`` keys).

    """
    ctx = trusted_checkpoints() if trusted else contextlib.nullcontext()
    with ctx:
        ckpt = load_checkpoint_file(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'{checkpoint}: expected a dict with a state_dict, got {type(ckpt)}')
    out = {}
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        if not isinstance(value, torch.Tensor):
            raise ValueError(f'{checkpoint}: {key} is a {type(value).__name__}, not a tensor')
        out[key[len(prefix) :]] = value.detach().clone().contiguous()
    if not out:
        heads = sorted({k.split('.')[0] + '.' for k in state})
        raise ValueError(
            f'{checkpoint}: no key of its state_dict starts with {prefix!r}; its key prefixes '
            f'are {heads}'
        )
    formats = []
    for key in out:
        m = re.match(r'stems\.([^.]+)\.', key)
        if m and m.group(1) not in formats:
            formats.append(m.group(1))
    meta = dict(source=osp.abspath(checkpoint), prefix=prefix, formats=formats)
    return dict(state_dict=out, meta=meta)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint!r} does not exist')
    if osp.exists(args.out) and not args.overwrite:
        raise SystemExit(f'{args.out} exists; pass --overwrite to replace it')
    try:
        result = extract_backbone(args.checkpoint, args.prefix, args.trust_checkpoint)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    folder = osp.dirname(osp.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    tmp = args.out + '.tmp'
    torch.save(result, tmp)
    os.replace(tmp, args.out)
    n = sum(v.numel() for v in result['state_dict'].values())
    print(
        f'wrote {args.out}: {len(result["state_dict"])} tensors, {n} values, formats '
        f'{result["meta"]["formats"]} (from {args.checkpoint}, prefix {args.prefix!r})'
    )


if __name__ == '__main__':
    main()
