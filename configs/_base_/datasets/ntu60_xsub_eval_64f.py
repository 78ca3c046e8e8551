# Labelled evaluation on NTU RGB+D 60 cross-subject with 64-frame clips, for encoders
# pretrained on 64 frames (SkeleMixCLR, SkeleMixCLR+ and their MS- versions: the
# `*_pretrain_64f.py` data bases). As `ntu60_xsub_eval.py` otherwise; the SkeleMixCLR
# reference probes at 64 frames (config/linear_eval/linear_eval_skelemixclr_multi_swap_ntu.yaml,
# `window_size: 64`, data pre-sampled to 64 frames).
_base_ = ['./ntu60_xsub_eval.py']

clip_len = 64

train_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]
val_pipeline = train_pipeline
test_pipeline = [
    dict(type='AllFormatViews'),
    dict(type='SampleSkeletonFrames', clip_len=clip_len, num_clips=10, test_mode=True),
    dict(type='GatherSkeletonViews'),
    dict(type='PackMultiSkeletonInputs'),
]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
