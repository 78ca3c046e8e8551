# kNN evaluation on NTU RGB+D 60 cross-subject with 64-frame clips, for encoders pretrained
# on 64 frames (SkeleMixCLR, SkeleMixCLR+ and their MS- versions). As
# `ntu60_xsub_eval_knn.py` otherwise.
_base_ = ['./ntu60_xsub_eval_knn.py']

clip_len = 64

eval_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]
test_dataloader = dict(
    dataset=dict(bank=dict(pipeline=eval_pipeline), query=dict(pipeline=eval_pipeline))
)
