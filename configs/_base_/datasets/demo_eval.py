# Labelled evaluation on the demo data (`python tools/data/make_demo_data.py --out-dir
# data/demo`): linear probe, semi-supervised and fine-tuning. Every sample holds all of its
# formats (`AllFormatViews`, one view per format named after it), so each format's
# classifier trains on its own view of the same clip. Clips are fed as the demo pretraining
# (`demo_pretrain.py`) fed them: 32 frames, one person (the NTU evaluation's 50 frames and
# two persons would show the encoder inputs it never saw in pretraining, and pool over a
# zero-padded second person). Training sees one fixed clip per sample, as the
# SkeletonCLR/AimCLR linear-evaluation feeders (no shear, no temporal crop); testing
# averages `num_clips` clips.
data_root = 'data/demo'
ann_files = dict(
    kinect25=f'{data_root}/kinect25.pkl',
    smpl24=f'{data_root}/smpl24.pkl',
    coco17=f'{data_root}/coco17.pkl',
)
# as `demo_pretrain.py` (tests/configs/test_eval_configs.py checks it)
clip_len = 32
num_person = 1  # the demo clips hold one person
num_classes = 10

train_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]
val_pipeline = train_pipeline
test_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, num_clips=2, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='MultiSkeletonDataset',
        ann_files=ann_files,
        num_person=num_person,
        split='xsub_train',
        repeat_per_format=False,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=40,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='MultiSkeletonDataset',
        ann_files=ann_files,
        num_person=num_person,
        split='xsub_val',
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
test_dataloader = dict(
    batch_size=40,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='MultiSkeletonDataset',
        ann_files=ann_files,
        num_person=num_person,
        split='xsub_val',
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
