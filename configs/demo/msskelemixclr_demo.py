# MS-SkeleMixCLR on the demo data: three skeleton conventions of the same clips (kinect25 3D,
# smpl24 3D, coco17 2D) as views; query and key formats drawn at random per sample.
# Sized for a few minutes on 2 CPU cores (10 epochs of 11 iterations, batch 32, 32 frames);
# kNN validation (xsub_val against xsub_train) after the last epoch.
_base_ = [
    '../_base_/models/skelemixclr.py',
    '../_base_/datasets/demo_pretrain.py',
    '../_base_/schedules/sgd_demo_pretrain.py',
    '../_base_/default_runtime.py',
]

formats = ['kinect25', 'smpl24', 'coco17']
# 32 input frames give T' = 8 feature frames: mix spans of 4-5 (7-11 of 16 at 64 frames)
model = dict(backbone=dict(formats=formats), queue_len=512, temporal_span=(4, 5))
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=5, save_best='knn/top1', rule='greater')
)
randomness = dict(seed=0)
