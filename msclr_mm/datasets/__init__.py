"""Multi-skeleton dataset, annotation loading/validation and per-sample CPU transforms."""

from .annotations import (
    AnnotationError,
    UnsafePickleError,
    check_alignment,
    load_annotation_file,
    validate_annotations,
)
from .label_subset import LabelSubsetDataset
from .multi_skeleton_dataset import MultiSkeletonDataset
from .normalize import normalize_clip
from .sample_list import SampleList
from .skeleton_store import SkeletonStore, build_store
from .transforms import (
    AllFormatViews,
    GatherSkeletonViews,
    PackMultiSkeletonInputs,
    SampleFormatViews,
    SampleSkeletonFrames,
    multi_skeleton_collate,
)

__all__ = [
    'AllFormatViews',
    'AnnotationError',
    'GatherSkeletonViews',
    'LabelSubsetDataset',
    'MultiSkeletonDataset',
    'PackMultiSkeletonInputs',
    'SampleFormatViews',
    'SampleList',
    'SampleSkeletonFrames',
    'SkeletonStore',
    'UnsafePickleError',
    'build_store',
    'check_alignment',
    'load_annotation_file',
    'multi_skeleton_collate',
    'normalize_clip',
    'validate_annotations',
]
