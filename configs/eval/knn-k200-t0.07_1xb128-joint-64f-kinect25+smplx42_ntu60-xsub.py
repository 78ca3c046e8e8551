# kNN evaluation of a SkeleMixCLR-family encoder (MS-SkeleMixCLR, MS-SkeleMixCLR+: pretrained
# on 64-frame clips, configs/msclr/msskelemixclr*-64f-*) on NTU-60 x-sub, on 64-frame clips as
# it was pretrained. Otherwise as the 50-frame kNN config (the encoder alone: any pretraining
# checkpoint of this encoder and these formats fits).
#   python tools/test.py configs/eval/knn-k200-t0.07_1xb128-joint-64f-kinect25+smplx42_ntu60-xsub.py \
#       work_dirs/msskelemixclr-plus_1xb128-joint-64f-kinect25+smplx42-300e_ntu60-xsub/epoch_300.pth
_base_ = [
    '../_base_/datasets/ntu60_xsub_eval_knn_64f.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='MultiSkeletonRecognizer',
    data_preprocessor=dict(
        type='SkeletonDataPreprocessor', stream='joint', non_blocking=True, move_data_samples=False
    ),
    backbone=dict(
        type='UnifiedSTGCN',
        formats=['kinect25', 'smplx42'],
        graph_mode='spatial',  # the SkeleMixCLR family's graph (also in its checkpoints)
    ),
    cls_head=None,  # no classifier: the encoder's features
)
