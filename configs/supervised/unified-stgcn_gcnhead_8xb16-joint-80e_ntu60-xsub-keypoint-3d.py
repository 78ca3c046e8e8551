# UnifiedSTGCN (msclr_mm) + GCNHead in RecognizerGCN (both mmaction2's), supervised, on
# mmaction2's NTU-60 3D pickle: the stock pieces and ours in one config. The backbone is
# the full-width ST-GCN shape (64x4, 128x3, 256x3, strides at blocks 5 and 8), the same
# shape as mmaction2's `STGCN` with `graph_cfg=dict(layout='nturgb+d', mode='stgcn_spatial')`.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_80e.py']

model = dict(
    type='RecognizerGCN',
    backbone=dict(
        type='UnifiedSTGCN',
        formats=['kinect25'],
        channels=(64, 64, 64, 64, 128, 128, 128, 256, 256, 256),
        dropout=0.0,
    ),
    cls_head=dict(type='GCNHead', num_classes=60, in_channels=256),
)

dataset_type = 'PoseDataset'
ann_file = 'data/skeleton/ntu60_3d.pkl'
train_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSampleFrames', clip_len=100),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSampleFrames', clip_len=100, num_clips=1, test_mode=True),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='PreNormalize3D'),
    dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
    dict(type='UniformSampleFrames', clip_len=100, num_clips=10, test_mode=True),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='RepeatDataset',
        times=5,
        dataset=dict(
            type=dataset_type, ann_file=ann_file, pipeline=train_pipeline, split='xsub_train'
        ),
    ),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file,
        pipeline=val_pipeline,
        split='xsub_val',
        test_mode=True,
    ),
)
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file,
        pipeline=test_pipeline,
        split='xsub_val',
        test_mode=True,
    ),
)

val_evaluator = [dict(type='AccMetric')]
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=16)
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0, T_max=16, by_epoch=True, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=100))
