"""Per-sample CPU transforms of multi-skeleton clips (numpy slicing only)."""

from .format_views import AllFormatViews, SampleFormatViews
from .formatting import PackMultiSkeletonInputs, multi_skeleton_collate
from .frames import GatherSkeletonViews, SampleSkeletonFrames

__all__ = [
    'AllFormatViews',
    'GatherSkeletonViews',
    'PackMultiSkeletonInputs',
    'SampleFormatViews',
    'SampleSkeletonFrames',
    'multi_skeleton_collate',
]
