# kNN evaluation on the demo data: the train split is the memory bank, the val split is
# queried (weighted kNN and 1-NN per format, `KNNMetric`). One fixed clip per sample, every
# format of the clip, fed as the demo pretraining (`demo_pretrain.py`) fed them: 32 frames,
# one person.
data_root = 'data/demo'
ann_files = dict(
    kinect25=f'{data_root}/kinect25.pkl',
    smpl24=f'{data_root}/smpl24.pkl',
    coco17=f'{data_root}/coco17.pkl',
)
# as `demo_pretrain.py` (tests/configs/test_eval_configs.py checks it)
clip_len = 32
num_person = 1  # the demo clips hold one person

eval_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]
test_dataloader = dict(
    batch_size=40,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='multi_skeleton_collate'),
    dataset=dict(
        type='KNNEvalDataset',
        bank=dict(
            type='MultiSkeletonDataset',
            ann_files=ann_files,
            num_person=num_person,
            split='xsub_train',
            pipeline=eval_pipeline,
            test_mode=True,
        ),
        query=dict(
            type='MultiSkeletonDataset',
            ann_files=ann_files,
            num_person=num_person,
            split='xsub_val',
            pipeline=eval_pipeline,
            test_mode=True,
        ),
    ),
)
# knn/top1 (weighted kNN, mean over formats), knn/nn1 (1-NN), knn/<fmt>_top1, knn/<fmt>_nn1
test_evaluator = dict(type='KNNMetric', k=20, temperature=0.07)
test_cfg = dict(type='TestLoop')
