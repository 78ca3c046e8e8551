"""Op lists of the published recipes, as plain config dicts (fresh lists on every call)."""

from __future__ import annotations

from typing import Dict, List


def normal_augmentation(padding_ratio: int = 6, shear_amplitude: float = 0.5) -> List[Dict]:
    """SkeletonCLR / AimCLR normal augmentation: temporal crop, then shear.

    Args:
        padding_ratio (int): Reflect padding ``T // padding_ratio``. Defaults to 6.
        shear_amplitude (float): Shear range. Defaults to 0.5.

    Returns:
        list[dict]: Op configs for ``SkeletonDataPreprocessor(views=...)``.

    """
    return [
        dict(type='temporal_crop', padding_ratio=padding_ratio),
        dict(type='shear', amplitude=shear_amplitude),
    ]


def aimclr_extreme_augmentation() -> List[Dict]:
    """AimCLR's extreme ops, in the order of its feeder's ``_strong_aug`` after crop+shear.

    Spatial flip (p 0.5), rotation (30 deg about one axis, 1 deg about the others), time
    flip (p 0.5), Gaussian noise (std 0.01, p 0.5), temporal Gaussian blur (kernel 15,
    sigma 0.1-2, p 0.5), axis mask (p 0.5). Prepend :func:`normal_augmentation` and use
    ``start='input'`` for the feeder's independent draw, or chain them on the query's
    output with ``start='augmented'``.

    Returns:
        list[dict]: Op configs for a derived view.

    """
    return [
        dict(type='flip', p=0.5),
        dict(type='rotate', max_angle=30.0, minor_angle=1.0),
        dict(type='time_flip', p=0.5),
        dict(type='gaussian_noise', std=0.01, p=0.5),
        dict(type='gaussian_blur', kernel=15, sigma=(0.1, 2.0), p=0.5),
        dict(type='axis_mask', p=0.5),
    ]
