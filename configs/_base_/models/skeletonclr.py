# SkeletonCLR (MoCo v2 on skeletons) with the baselines' quarter-width ST-GCN encoder.
# Listing several formats in `backbone.formats` (and the dataset's `ann_files`) makes it
# multi-skeleton (MS-SkeletonCLR); `data_preprocessor.stream` picks joint / bone / motion.

normal_aug = [dict(type='temporal_crop'), dict(type='shear', amplitude=0.5)]
# The reference's `weights_init` (processor/pretrain.py of SkeletonCLR, AimCLR, SkeleMixCLR
# and MS-CLR): convolution and linear weights ~ N(0, 0.02), biases 0, BatchNorm weights
# ~ N(1, 0.02). The key encoder starts as a copy of the initialised query encoder (MoCo).
reference_init = [
    dict(type='Normal', layer=['Conv1d', 'Conv2d', 'Linear'], mean=0.0, std=0.02, bias=0.0),
    dict(type='Normal', layer=['BatchNorm1d', 'BatchNorm2d'], mean=1.0, std=0.02, bias=0.0),
]

model = dict(
    type='SkeletonCLR',
    data_preprocessor=dict(
        type='SkeletonDataPreprocessor',
        views=dict(query=dict(ops=normal_aug), key=dict(ops=normal_aug)),
        stream='joint',
        # no host synchronisation in the data path: pinned batches copied asynchronously,
        # labels (unused by the contrastive losses) left on the host
        non_blocking=True,
        move_data_samples=False,
    ),
    # On CUDA: channels-last trunk (channels_last=None: per device) compiled with CUDA graphs
    # (static shapes: one graph per (batch, format) shape; the 'batch' format rule of the
    # pretraining data gives 2 per pass with two formats); eager on a CPU.
    # The first GPU step compiles (about 2.5 min). compile=False turns it off.
    backbone=dict(
        type='UnifiedSTGCN',
        formats=['kinect25'],
        compile='reduce-overhead',
        init_cfg=reference_init,
    ),
    neck=dict(
        type='ProjectionNeck',
        in_channels=256,
        hid_channels=256,
        out_channels=128,
        init_cfg=reference_init,
    ),
    head=dict(type='ContrastiveHead', temperature=0.07),
    queue_len=32768,
    feat_dim=128,
    momentum=0.999,
)
