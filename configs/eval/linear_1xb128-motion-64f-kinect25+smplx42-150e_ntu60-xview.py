# As `linear_1xb128-motion-64f-kinect25+smplx42-150e_ntu60-xsub.py`, on the NTU-60 cross-view
# split, probing the cross-view pretraining's encoder.
_base_ = ['./linear_1xb128-motion-64f-kinect25+smplx42-150e_ntu60-xsub.py']

pretrained = (
    'work_dirs/msskelemixclr_1xb128-motion-64f-kinect25+smplx42-300e_ntu60-xview/epoch_300.pth'
)
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))
train_dataloader = dict(dataset=dict(split='xview_train'))
val_dataloader = dict(dataset=dict(split='xview_val'))
test_dataloader = dict(dataset=dict(split='xview_val'))
