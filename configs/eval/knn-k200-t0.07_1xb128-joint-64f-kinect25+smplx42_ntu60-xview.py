# As the 64-frame x-sub kNN config, on the NTU-60 cross-view split; evaluate the cross-view
# pretraining's checkpoint (e.g. work_dirs/msskelemixclr_1xb128-joint-64f-kinect25+smplx42-300e_ntu60-xview/epoch_300.pth).
_base_ = ['./knn-k200-t0.07_1xb128-joint-64f-kinect25+smplx42_ntu60-xsub.py']

test_dataloader = dict(dataset=dict(bank=dict(split='xview_train'), query=dict(split='xview_val')))
