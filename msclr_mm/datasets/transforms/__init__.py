"""Per-sample CPU transforms of multi-skeleton clips (numpy slicing only)."""

from .format_views import AllFormatViews, BatchFormat, SampleFormatViews
from .formatting import PackMultiSkeletonInputs, multi_skeleton_collate
from .frames import GatherSkeletonViews, SampleSkeletonFrames

__all__ = [
    'AllFormatViews',
    'BatchFormat',
    'GatherSkeletonViews',
    'PackMultiSkeletonInputs',
    'SampleFormatViews',
    'SampleSkeletonFrames',
    'multi_skeleton_collate',
]
