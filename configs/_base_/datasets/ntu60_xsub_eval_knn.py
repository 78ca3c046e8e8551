# kNN evaluation on NTU RGB+D 60 cross-subject: the train split is the memory bank, the val
# split is queried (weighted kNN and 1-NN per format, `KNNMetric`). One fixed 50-frame clip per
# sample, every format of the clip.
data_root = 'data/ntu60'
ann_files = dict(
    kinect25=f'{data_root}/kinect25.pkl',
    smplx42=f'{data_root}/smplx42.pkl',
)
clip_len = 50

eval_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]
test_dataloader = dict(
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
# knn/top1 (weighted kNN, mean over formats), knn/nn1 (1-NN), knn/<fmt>_top1, knn/<fmt>_nn1
test_evaluator = dict(type='KNNMetric', k=200, temperature=0.07)
test_cfg = dict(type='TestLoop')
