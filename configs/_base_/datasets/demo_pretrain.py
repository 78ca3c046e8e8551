# Contrastive pretraining on the embedded demo data (`python tools/data/make_demo_data.py
# --out-dir data/demo`), 32-frame clips, with kNN validation (train split as memory bank, val split queried).
data_root = 'data/demo'
ann_files = dict(
    kinect25=f'{data_root}/kinect25.pkl',
    smpl24=f'{data_root}/smpl24.pkl',
    coco17=f'{data_root}/coco17.pkl',
)
clip_len = 32
num_person = 1  # the demo clips hold one person

train_pipeline = [
    # one format per view for the whole batch (the MS-CLR reference's batches): BatchNorm
    # sees one format, one trunk pass per view; 'balanced' spreads the formats instead
    dict(type='SampleFormatViews', rule='batch'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len),
    # float16: the store's values exactly, half the bytes to the GPU (the preprocessor
    # casts to float32 there) and less CPU per sample in the workers (README § Speed)
    dict(type='GatherSkeletonViews', dtype='float16'),
    dict(type='PackMultiSkeletonInputs'),
]
eval_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, test_mode=True),
    dict(type='GatherSkeletonViews', dtype='float16'),
    dict(type='PackMultiSkeletonInputs'),
]

train_dataloader = dict(
    pin_memory=True,
    # batch 16: twice the updates of batch 32 in the same CPU time; MS-AimCLR's kNN then
    # ends at least 0.10 above a random encoder's on each of 7 seeds (batch 32: 0.04 on one
    # of 5; README "Results")
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='MultiSkeletonDataset',
        ann_files=ann_files,
        split='xsub_train',
        pipeline=train_pipeline,
        num_person=num_person,
    ),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='KNNEvalDataset',
        bank=dict(
            type='MultiSkeletonDataset',
            ann_files=ann_files,
            split='xsub_train',
            pipeline=eval_pipeline,
            test_mode=True,
            num_person=num_person,
        ),
        query=dict(
            type='MultiSkeletonDataset',
            ann_files=ann_files,
            split='xsub_val',
            pipeline=eval_pipeline,
            test_mode=True,
            num_person=num_person,
        ),
    ),
)
val_evaluator = dict(type='KNNMetric', k=20, temperature=0.07)
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# With rule 'batch' a step may use no clip of some format, leaving that format's stem (data
# BatchNorm, edge importance) without gradient: distributed runs must tell DDP so.
find_unused_parameters = True
