# MS-SkeletonCLR on KARD: 3D world joints (openni15) and 2D depth-image joints (openni15_2d)
# of the same clips as two skeleton views; 32-frame clips. Sized for a short CPU run
# (MS-SkeletonCLR: about 2.5x cheaper per step than MS-AimCLR; 60 epochs of 16 steps, about
# 6.5 min on 2 CPU cores) with the demo's short-schedule MoCo settings. kNN validation (test
# split, even subjects, against the train split, odd subjects) every 10 epochs.
_base_ = [
    '../_base_/models/skeletonclr.py',
    '../_base_/datasets/kard_pretrain.py',
    '../_base_/schedules/sgd_30e_demo_pretrain.py',
    '../_base_/default_runtime.py',
]

clip_len = 32
# short-schedule MoCo settings, as configs/demo (README "Results")
model = dict(
    backbone=dict(formats=['openni15', 'openni15_2d'], dropout=0.0),
    head=dict(temperature=0.2),
    momentum=0.99,
    queue_len=256,
    exclude_own_keys=True,
)
train_dataloader = dict(
    dataset=dict(
        pipeline=[
            dict(type='SampleFormatViews', rule='random'),
            dict(type='SampleSkeletonFrames', clip_len=clip_len),
            dict(type='GatherSkeletonViews', dtype='float16'),  # as in _base_ (exact)
            dict(type='PackMultiSkeletonInputs'),
        ]
    )
)
eval_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, test_mode=True),
    dict(type='GatherSkeletonViews', dtype='float16'),
    dict(type='PackMultiSkeletonInputs'),
]
val_dataloader = dict(
    dataset=dict(bank=dict(pipeline=eval_pipeline), query=dict(pipeline=eval_pipeline))
)
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=60, val_interval=10)
param_scheduler = [dict(type='MultiStepLR', milestones=[50], gamma=0.1, by_epoch=True)]
default_hooks = dict(
    logger=dict(interval=4),
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='knn/top1', rule='greater'),
)
randomness = dict(seed=0)
