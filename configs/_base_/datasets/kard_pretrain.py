# Contrastive pretraining on KARD (`python tools/data/kard_to_pkl.py
# ../shared/data/kard/kard_15j.npz --out-dir data/kard`): the same 540 clips as 3D world
# joints (openni15, mm) and 2D depth-image joints (openni15_2d, px). Train split: odd
# subjects; one person per clip (M = 1). kNN validation queries the test split (even subjects) against the train split.
data_root = 'data/kard'
ann_files = dict(
    openni15=f'{data_root}/openni15.pkl',
    openni15_2d=f'{data_root}/openni15_2d.pkl',
)
clip_len = 50

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
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='MultiSkeletonDataset',
        ann_files=ann_files,
        split='train',
        pipeline=train_pipeline,
        num_person=1,
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
            split='train',
            pipeline=eval_pipeline,
            test_mode=True,
            num_person=1,
        ),
        query=dict(
            type='MultiSkeletonDataset',
            ann_files=ann_files,
            split='test',
            pipeline=eval_pipeline,
            test_mode=True,
            num_person=1,
        ),
    ),
)
# 15 training clips per class: k = 10 neighbours
val_evaluator = dict(type='KNNMetric', k=10, temperature=0.07)
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# With rule 'batch' a step may use no clip of some format, leaving that format's stem (data
# BatchNorm, edge importance) without gradient: distributed runs must tell DDP so.
find_unused_parameters = True
