# As `linear_1xb128-bone-50f-kinect25+smplx42-100e_ntu60-xsub.py`, on the NTU-60 cross-view
# split, probing the cross-view pretraining's encoder
# (configs/msclr/msaimclr_1xb128-bone-50f-kinect25+smplx42-300e_ntu60-xview.py): the x-sub
# encoder saw the x-view test clips (unlabelled) in its pretraining.
_base_ = ['./linear_1xb128-bone-50f-kinect25+smplx42-100e_ntu60-xsub.py']

pretrained = 'work_dirs/msaimclr_1xb128-bone-50f-kinect25+smplx42-300e_ntu60-xview/epoch_300.pth'
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))
train_dataloader = dict(dataset=dict(split='xview_train'))
val_dataloader = dict(dataset=dict(split='xview_val'))
test_dataloader = dict(dataset=dict(split='xview_val'))
