# Semi-supervised evaluation on the demo data with 10 % of the labels (class-balanced,
# seeded, at least one clip per class: `LabelSubsetDataset`), fine-tune protocol.
_base_ = ['./finetune_1xb16-joint-50f-kinect25+smpl24+coco17-10e_demo.py']

labelled = dict(
    type='MultiSkeletonDataset',
    ann_files=dict(
        kinect25='data/demo/kinect25.pkl',
        smpl24='data/demo/smpl24.pkl',
        coco17='data/demo/coco17.pkl',
    ),
    split='xsub_train',
    repeat_per_format=False,
    pipeline=[
        dict(type='AllFormatViews'),
        dict(type='SampleSkeletonFrames', clip_len=50, test_mode=True),
        dict(type='GatherSkeletonViews'),
        dict(type='PackMultiSkeletonInputs'),
    ],
)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='LabelSubsetDataset',
        fraction=0.1,
        seed=0,
        min_per_class=1,
        dataset=labelled,
    )
)
