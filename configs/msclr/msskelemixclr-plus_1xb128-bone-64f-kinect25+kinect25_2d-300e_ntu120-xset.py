_base_ = [
    '../_base_/models/skelemixclr_plus.py',
    '../_base_/datasets/ntu120-xset_pretrain_64f.py',
    '../_base_/schedules/sgd_300e_pretrain_nodecay.py',
    '../_base_/default_runtime.py',
]

formats = ['kinect25', 'kinect25_2d']
ann_files = dict(kinect25='data/ntu120/kinect25.pkl', kinect25_2d='data/ntu120/kinect25_2d.pkl')
model = dict(backbone=dict(formats=formats), data_preprocessor=dict(stream='bone'))
train_dataloader = dict(dataset=dict(ann_files=dict(_delete_=True, **ann_files)))
val_dataloader = dict(
    dataset=dict(
        bank=dict(ann_files=dict(_delete_=True, **ann_files)),
        query=dict(ann_files=dict(_delete_=True, **ann_files)),
    )
)
test_dataloader = val_dataloader
# kNN on the val split every 50 epochs (schedule); keep the best by kNN top-1
default_hooks = dict(
    checkpoint=dict(interval=50, save_best='knn/top1', rule='greater', max_keep_ckpts=3)
)
