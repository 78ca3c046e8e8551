"""Derived formats: one convention's joints taken, in order, from another's.

Some pose estimators output a superset of another convention: MediaPipe's BlazePose-33
landmarks contain the 17 COCO keypoints. A subset is declared once here as
``(source format, target format) -> source joint index for each target joint`` and checked
against both formats (length, range, and that it commutes with their left/right flips), so
tools never hard-code joint numbers.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

from .format import SkeletonFormatError
from .registry import FormatSpec, get_format

_SUBSETS: Dict[Tuple[str, str], Tuple[int, ...]] = {}


def register_subset(source: FormatSpec, target: FormatSpec, indices: Sequence[int]) -> None:
    """Declare that ``target``'s joints are ``source``'s joints ``indices`` (0-based).

    Args:
        source (str | dict | SkeletonFormat): The larger convention.
        target (str | dict | SkeletonFormat): The derived convention.
        indices (Sequence[int]): For each target joint ``i``, the source joint
            ``indices[i]``.

    Raises:
        SkeletonFormatError: Wrong length, an index out of range, a repeated index, or a
            mapping that does not commute with the two formats' flips.

    """
    src, dst = get_format(source), get_format(target)
    idx = tuple(int(i) for i in indices)
    where = f"subset '{src.name}' -> '{dst.name}'"
    if len(idx) != dst.num_joints:
        raise SkeletonFormatError(f'{where}: {len(idx)} indices, expected {dst.num_joints}')
    if any(not 0 <= i < src.num_joints for i in idx) or len(set(idx)) != len(idx):
        raise SkeletonFormatError(
            f'{where}: indices must be distinct and in [0, {src.num_joints}), got {idx}'
        )
    for i, j in enumerate(idx):
        if src.flip[j] != idx[dst.flip[i]]:
            raise SkeletonFormatError(
                f'{where}: target joint {i} ({dst.joints[i]}) maps to source {j} '
                f'({src.joints[j]}), but their mirrors do not correspond'
            )
    _SUBSETS[(src.name, dst.name)] = idx


def get_subset(source: FormatSpec, target: FormatSpec) -> Tuple[int, ...]:
    """Source joint index of each ``target`` joint.

    Args:
        source (str | dict | SkeletonFormat): The larger convention.
        target (str | dict | SkeletonFormat): The derived convention.

    Returns:
        tuple[int, ...]: ``target.num_joints`` indices; ``x_target = x_source[..., idx, :]``.

    Raises:
        KeyError: When no such subset is declared.

    """
    key = (get_format(source).name, get_format(target).name)
    try:
        return _SUBSETS[key]
    except KeyError:
        raise KeyError(
            f"no subset declared from '{key[0]}' to '{key[1]}'; declared: {sorted(_SUBSETS)}"
        ) from None


# MediaPipe BlazePose landmarks in COCO-17 keypoint order (nose, eyes, ears, shoulders,
# elbows, wrists, hips, knees, ankles).
BLAZEPOSE_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
register_subset('blazepose33_2d', 'coco17', BLAZEPOSE_TO_COCO17)
