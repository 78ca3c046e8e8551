# MS-SkeletonCLR on the demo data: three skeleton conventions of the same clips (kinect25 3D,
# smpl24 3D, coco17 2D) as views; query and key formats drawn at random per sample.
# Sized for a few minutes on 2 CPU cores (30 epochs of 22 iterations, batch 16, 32 frames;
# momentum 0.99, queue 256 without own keys, temperature 0.2, lr 0.01, no dropout);
# kNN validation (xsub_val against xsub_train) every 10 epochs.
_base_ = [
    '../_base_/models/skeletonclr.py',
    '../_base_/datasets/demo_pretrain.py',
    '../_base_/schedules/sgd_30e_demo_pretrain.py',
    '../_base_/default_runtime.py',
]

formats = ['kinect25', 'smpl24', 'coco17']
# short-schedule MoCo settings (README "Results"): the key encoder follows within ~100 steps
# (momentum 0.99; 0.999 keeps it 90 % random for the whole run), a queue of 256 without a
# clip's own earlier keys (exclude_own_keys), temperature 0.2, no dropout
model = dict(
    backbone=dict(formats=formats, dropout=0.0),
    head=dict(temperature=0.2),
    momentum=0.99,
    queue_len=256,
    exclude_own_keys=True,
)
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=10, save_best='knn/top1', rule='greater')
)
randomness = dict(seed=0)
