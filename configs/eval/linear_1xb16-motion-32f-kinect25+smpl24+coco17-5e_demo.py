# Linear evaluation on the demo data, motion stream (frame differences, from the data
# preprocessor), on the same encoder as the joint probe:
# the demo has no bone- or motion-pretraining config (configs/demo/ pretrains on joints).
_base_ = ['./linear_1xb16-joint-32f-kinect25+smpl24+coco17-5e_demo.py']

model = dict(data_preprocessor=dict(stream='motion'))
