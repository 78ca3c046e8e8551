# Linear evaluation on the bone stream (the format's own bones, computed by the data
# preprocessor) of the bone-pretrained MS-AimCLR encoder
# (configs/msclr/msaimclr_1xb128-bone-50f-kinect25+smplx42-300e_ntu60-xsub.py): the papers'
# 3-stream numbers fuse one encoder per stream. To probe the joint encoder on bones instead:
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = ['./linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py']

pretrained = 'work_dirs/msaimclr_1xb128-bone-50f-kinect25+smplx42-300e_ntu60-xsub/epoch_300.pth'
model = dict(
    data_preprocessor=dict(stream='bone'),
    backbone=dict(init_cfg=dict(checkpoint=pretrained)),
)
