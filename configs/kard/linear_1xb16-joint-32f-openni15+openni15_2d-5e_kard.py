# Linear probe on KARD (`python tools/data/kard_to_pkl.py ../shared/data/kard/kard_15j.npz
# --out-dir data/kard`): the MS-SkeletonCLR KARD encoder (`configs/kard/msskeletonclr_kard.py`)
# frozen, one linear classifier per view (openni15 3D world, openni15_2d image), trained on
# the odd subjects (`train`), tested on the even subjects (`test`) with the two-format
# ensemble. The demo probe's short schedule (5 epochs, feature_norm=True), each classifier at
# lr 0.05: its rate when the README's KARD figures were measured (the per-format losses were
# then averaged: lr 0.1 over 2 formats; they are summed since 2026-12-01).
#   python tools/train.py configs/kard/linear_1xb16-joint-32f-openni15+openni15_2d-5e_kard.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAINING_CHECKPOINT
_base_ = ['../eval/linear_1xb16-joint-32f-kinect25+smpl24+coco17-5e_demo.py']

formats = ['openni15', 'openni15_2d']
ann_files = dict(openni15='data/kard/openni15.pkl', openni15_2d='data/kard/openni15_2d.pkl')
clip_len = 32


def _pipeline(num_clips):
    return [
        dict(type='AllFormatViews'),
        dict(type='SampleSkeletonFrames', clip_len=clip_len, num_clips=num_clips, test_mode=True),
        dict(type='GatherSkeletonViews'),
        dict(type='PackMultiSkeletonInputs'),
    ]


model = dict(
    backbone=dict(
        formats=formats,
        init_cfg=dict(checkpoint='work_dirs/msskeletonclr_kard/best_knn_top1_epoch_5.pth'),
    ),
    cls_head=dict(num_classes=18),
)
_data = dict(ann_files=dict(_delete_=True, **ann_files), num_person=1)
train_dataloader = dict(dataset=dict(split='train', pipeline=_pipeline(1), **_data))
val_dataloader = dict(dataset=dict(split='test', pipeline=_pipeline(1), **_data))
test_dataloader = dict(dataset=dict(split='test', pipeline=_pipeline(2), **_data))
optim_wrapper = dict(optimizer=dict(lr=0.05))
