"""Batched skeleton augmentations on the device and ``SkeletonDataPreprocessor``."""

from .base import (
    AUGMENTS,
    SkeletonAugment,
    build_augment,
    host_shortcuts,
    register_augment,
    without_host_shortcuts,
)
from .presets import aimclr_extreme_augmentation, normal_augmentation
from .skeleton_data_preprocessor import SkeletonDataPreprocessor
from .spatial import AxisMask, Flip, GaussianNoise, Rotate, Shear, rotation_matrix
from .streams import STREAMS, bone_stream, convert_stream, motion_stream
from .temporal import GaussianBlur, TemporalCrop, TimeFlip, reflect_index

__all__ = [
    'AUGMENTS',
    'AxisMask',
    'Flip',
    'GaussianBlur',
    'GaussianNoise',
    'Rotate',
    'STREAMS',
    'Shear',
    'SkeletonAugment',
    'SkeletonDataPreprocessor',
    'TemporalCrop',
    'TimeFlip',
    'aimclr_extreme_augmentation',
    'bone_stream',
    'build_augment',
    'convert_stream',
    'host_shortcuts',
    'motion_stream',
    'normal_augmentation',
    'reflect_index',
    'register_augment',
    'rotation_matrix',
    'without_host_shortcuts',
]
