# As `linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py`, on the NTU-60 cross-view split.
_base_ = ['./linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py']

train_dataloader = dict(dataset=dict(split='xview_train'))
val_dataloader = dict(dataset=dict(split='xview_val'))
test_dataloader = dict(dataset=dict(split='xview_val'))
