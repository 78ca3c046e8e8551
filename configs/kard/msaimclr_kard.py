# MS-AimCLR on KARD: 3D world joints (openni15) and 2D depth-image joints (openni15_2d) of
# the same clips as two skeleton views. About 15 minutes on 2 CPU cores; kNN (test split
# against the train split) every 10 epochs.
_base_ = [
    '../_base_/models/aimclr.py',
    '../_base_/datasets/kard_pretrain.py',
    '../_base_/schedules/sgd_demo_pretrain.py',
    '../_base_/default_runtime.py',
]

model = dict(backbone=dict(formats=['openni15', 'openni15_2d']), queue_len=512, mining_epoch=1000)
train_cfg = dict(max_epochs=30, val_interval=10)
param_scheduler = [dict(type='MultiStepLR', milestones=[25], gamma=0.1, by_epoch=True)]
default_hooks = dict(
    logger=dict(interval=8), checkpoint=dict(interval=10, save_best='knn/top1', rule='greater')
)
randomness = dict(seed=0)
