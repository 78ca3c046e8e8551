# Supervised smoke run: mmaction2's own STGCN + GCNHead in RecognizerGCN on the tiny
# pickle written by `python tools/data/make_smoke_data.py`. Proves that the stack trains,
# validates, checkpoints, tests and resumes on CPU in about a minute.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_80e.py']

model = dict(
    type='RecognizerGCN',
    backbone=dict(
        type='STGCN',
        graph_cfg=dict(layout='nturgb+d', mode='stgcn_spatial'),
        base_channels=16,
        num_stages=4,
        inflate_stages=[3],
        down_stages=[3],
    ),
    cls_head=dict(type='GCNHead', num_classes=3, in_channels=32),
)

dataset_type = 'PoseDataset'
ann_file = 'data/smoke/ntu25_smoke.pkl'
train_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSampleFrames', clip_len=20),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSampleFrames', clip_len=20, num_clips=1, test_mode=True),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='PackActionInputs'),
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=ann_file, pipeline=train_pipeline, split='train'),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, ann_file=ann_file, pipeline=val_pipeline, split='val', test_mode=True
    ),
)
test_dataloader = val_dataloader

val_evaluator = [dict(type='AccMetric')]
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=20, val_interval=5)
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0, T_max=20, by_epoch=True, convert_to_iter_based=True)
]
optim_wrapper = dict(optimizer=dict(lr=0.1))
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=5))
randomness = dict(seed=0)
