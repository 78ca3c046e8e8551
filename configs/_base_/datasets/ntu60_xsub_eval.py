# Labelled evaluation on NTU RGB+D 60 cross-subject (linear probe, semi-supervised,
# fine-tuning), one pickle per skeleton format (`tools/data/ntu_skeleton_to_pkl.py` for
# kinect25; `tools/data/arrays_to_pkl.py` for MeTRAbs SMPL-X 42). Every sample holds all of
# its formats (`AllFormatViews`). Training sees one fixed 50-frame clip per sample, as the
# SkeletonCLR/AimCLR linear-evaluation feeders (no shear, no temporal crop, data pre-sampled
# to 50 frames); testing averages 10 clips (`test_dataloader.dataset.pipeline.1.num_clips=1`
# gives the papers' single-clip protocol).
data_root = 'data/ntu60'
ann_files = dict(
    kinect25=f'{data_root}/kinect25.pkl',
    smplx42=f'{data_root}/smplx42.pkl',
)
clip_len = 50
num_classes = 60

train_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]
val_pipeline = train_pipeline
test_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, num_clips=10, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='MultiSkeletonDataset',
        ann_files=ann_files,
        split='xsub_train',
        repeat_per_format=False,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='MultiSkeletonDataset',
        ann_files=ann_files,
        split='xsub_val',
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
test_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='MultiSkeletonDataset',
        ann_files=ann_files,
        split='xsub_val',
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
