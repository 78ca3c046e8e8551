# As `linear_1xb128-joint-64f-kinect25+smplx42-150e_ntu60-xsub.py`, on the motion stream
# (frame differences, computed by the data preprocessor), probing the motion-pretrained
# MS-SkeleMixCLR encoder.
_base_ = ['./linear_1xb128-joint-64f-kinect25+smplx42-150e_ntu60-xsub.py']

pretrained = (
    'work_dirs/msskelemixclr_1xb128-motion-64f-kinect25+smplx42-300e_ntu60-xsub/epoch_300.pth'
)
model = dict(
    data_preprocessor=dict(stream='motion'),
    backbone=dict(init_cfg=dict(checkpoint=pretrained)),
)
