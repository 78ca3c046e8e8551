# AimCLR on the demo data, one format (kinect25): the single-skeleton baseline to compare
# MS-AimCLR with. Sized for a few minutes on 2 CPU cores.
_base_ = [
    '../_base_/models/aimclr.py',
    '../_base_/datasets/demo_pretrain.py',
    '../_base_/schedules/sgd_300e_pretrain.py',
    '../_base_/default_runtime.py',
]

formats = ['kinect25']
model = dict(backbone=dict(formats=formats), queue_len=1024, mining_epoch=6)
train_dataloader = dict(
    dataset=dict(ann_files=dict(_delete_=True, kinect25='data/demo/kinect25.pkl'))
)
val_dataloader = dict(
    dataset=dict(
        bank=dict(ann_files=dict(_delete_=True, kinect25='data/demo/kinect25.pkl')),
        query=dict(ann_files=dict(_delete_=True, kinect25='data/demo/kinect25.pkl')),
    )
)
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=10, val_interval=5)
param_scheduler = [dict(type='MultiStepLR', milestones=[8], gamma=0.1, by_epoch=True)]
optim_wrapper = dict(optimizer=dict(lr=0.05))
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=5, save_best='knn/top1', rule='greater')
)
randomness = dict(seed=0)
