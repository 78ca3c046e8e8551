# SkeleMixCLR: SkeletonCLR + SkeleMix trimmed/truncated views mixed by body part and time
# span within each (view, format) group, spatio-temporal mask pooling, extended positives.
_base_ = ['./skeletonclr.py']

# The SkeleMixCLR reference's encoder (net/st_gcn_swap.py) builds its graph with
# net.utils.ntu_rgb_d.Graph, strategy 'spatial': the AGCN partition (self, inward, outward,
# each normalised by its own degree), not ST-GCN's root/centripetal/centrifugal partition
# of SkeletonCLR and AimCLR. The adjacency is a buffer of the checkpoint, so an evaluation
# config loading this encoder gets the same graph.
model = dict(
    type='SkeleMixCLR',
    num_parts=(2, 3),
    temporal_span=(7, 11),
    backbone=dict(graph_mode='spatial'),
)
