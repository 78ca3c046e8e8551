# Linear evaluation on NTU-120 cross-setup (data/ntu120/<format>.pkl, splits xset_train /
# xset_val). Other streams: --cfg-options model.data_preprocessor.stream=bone (or motion)
# with that stream's encoder, model.backbone.init_cfg.checkpoint=
# work_dirs/msaimclr_1xb128-bone-50f-kinect25+smplx42-300e_ntu120-xset/epoch_300.pth (the
# default below is the joint pretraining's).
_base_ = ['./linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py']

ann_files = dict(kinect25='data/ntu120/kinect25.pkl', smplx42='data/ntu120/smplx42.pkl')
pretrained = 'work_dirs/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu120-xset/epoch_300.pth'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(num_classes=120),
)
train_dataloader = dict(
    dataset=dict(ann_files=dict(_delete_=True, **ann_files), split='xset_train')
)
val_dataloader = dict(dataset=dict(ann_files=dict(_delete_=True, **ann_files), split='xset_val'))
test_dataloader = dict(dataset=dict(ann_files=dict(_delete_=True, **ann_files), split='xset_val'))
