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


def aimclr_extreme_augmentation(noise_std: float = 0.023) -> List[Dict]:
    """AimCLR's extreme ops, in the order of its feeder's ``_strong_aug`` after crop+shear.

    Spatial flip (p 0.5; left and right joints swapped without negating x, as the
    feeder's ``random_spatial_flip``), rotation (30 deg about one axis, 1 deg about the others),
    Gaussian noise (p 0.5), temporal Gaussian blur (kernel 15, sigma 0.1-2, p 0.5), axis
    mask (p 0.5): the feeder's default ``aug_method='12345'``, which every released
    config keeps (its time flip, op ``'6'``, is off). The feeder draws them after a crop
    and shear of its own: prepend :func:`normal_augmentation` and use ``start='input'``
    for that (as ``configs/_base_/models/aimclr.py``), or chain them on the query's
    output with ``start='augmented'``.

    Args:
        noise_std (float): Standard deviation of the noise, in the normalised clips'
            unit (torso lengths). Defaults to 0.023: the reference's 0.01 on NTU
            coordinates in metres, over NTU's median torso of 0.43 m.

    Returns:
        list[dict]: Op configs for a derived view.

    """
    return [
        dict(type='flip', p=0.5, mirror=False),
        dict(type='rotate', max_angle=30.0, minor_angle=1.0),
        dict(type='gaussian_noise', std=noise_std, p=0.5),
        dict(type='gaussian_blur', kernel=15, sigma=(0.1, 2.0), p=0.5),
        dict(type='axis_mask', p=0.5),
    ]
