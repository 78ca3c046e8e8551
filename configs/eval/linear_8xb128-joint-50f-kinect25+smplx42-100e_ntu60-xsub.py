# Linear evaluation at batch 1024 (8 GPUs x 128): lr 24, as the papers' large-batch setting.
#   bash tools/dist_train.sh configs/eval/linear_8xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py 8
_base_ = ['./linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py']

optim_wrapper = dict(optimizer=dict(lr=24.0))
