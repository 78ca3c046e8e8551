# Linear evaluation on the bone stream (the format's own bones / frame differences, computed
# by the data preprocessor); probe the bone-pretrained encoder, or the joint one.
_base_ = ['./linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py']

model = dict(data_preprocessor=dict(stream='bone'))
