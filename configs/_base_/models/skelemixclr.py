# SkeleMixCLR: SkeletonCLR + SkeleMix trimmed/truncated views mixed by body part and time
# span within each (view, format) group, spatio-temporal mask pooling, extended positives.
_base_ = ['./skeletonclr.py']

model = dict(type='SkeleMixCLR', num_parts=(2, 3), temporal_span=(7, 11))
