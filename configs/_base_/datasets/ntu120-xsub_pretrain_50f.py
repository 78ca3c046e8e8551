# Contrastive pretraining data: NTU RGB+D 120 cross-subject, 50-frame clips.
# Splits `xsub_train` (training, kNN memory bank) and `xsub_val` (kNN queries) as written by
# `tools/data/ntu_skeleton_to_pkl.py`. The leaf config sets `ann_files` (one pickle per
# skeleton format, all under `data/ntu120/`); the default here is the paper's pair.
data_root = 'data/ntu120'
ann_files = dict(
    kinect25=f'{data_root}/kinect25.pkl',
    smplx42=f'{data_root}/smplx42.pkl',
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
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='MultiSkeletonDataset',
        ann_files=ann_files,
        split='xsub_train',
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
        type='KNNEvalDataset',
        bank=dict(
            type='MultiSkeletonDataset',
            ann_files=ann_files,
            split='xsub_train',
            pipeline=eval_pipeline,
            test_mode=True,
        ),
        query=dict(
            type='MultiSkeletonDataset',
            ann_files=ann_files,
            split='xsub_val',
            pipeline=eval_pipeline,
            test_mode=True,
        ),
    ),
)
val_evaluator = dict(type='KNNMetric', k=200, temperature=0.07)
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# With rule 'batch' a step may use no clip of some format, leaving that format's stem (data
# BatchNorm, edge importance) without gradient: distributed runs must tell DDP so.
find_unused_parameters = True
