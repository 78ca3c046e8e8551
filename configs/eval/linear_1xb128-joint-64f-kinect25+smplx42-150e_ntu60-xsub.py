# Linear evaluation of a SkeleMixCLR-family encoder (MS-SkeleMixCLR, MS-SkeleMixCLR+, pretrained
# on 64-frame clips: configs/msclr/msskelemixclr*-64f-*) on NTU-60 x-sub, on 64-frame clips as
# it was pretrained. The SkeleMixCLR reference's probe
# (config/linear_eval/linear_eval_skelemixclr_multi_swap_ntu.yaml): window 64, SGD lr 3.0 at
# batch 128, wd 0, 150 epochs, x0.1 at 80. Otherwise as the 50-frame probe
# (`linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py`): encoder frozen in eval
# mode, one linear classifier per format (the per-format losses summed), the multi-skeleton
# ensemble over 10 clips at test.
# Default encoder: MS-SkeleMixCLR; MS-SkeleMixCLR+ has the same encoder weights' names:
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/msskelemixclr-plus_1xb128-joint-64f-kinect25+smplx42-300e_ntu60-xsub/epoch_300.pth
_base_ = [
    '../_base_/datasets/ntu60_xsub_eval_64f.py',
    '../_base_/schedules/sgd_100e_linear.py',
    '../_base_/default_runtime.py',
]

formats = ['kinect25', 'smplx42']
# The pretraining checkpoint (a whole MoCo-style model: only its `backbone.` weights are
# read, through the weights-only loader). Override with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
pretrained = (
    'work_dirs/msskelemixclr_1xb128-joint-64f-kinect25+smplx42-300e_ntu60-xsub/epoch_300.pth'
)

model = dict(
    type='MultiSkeletonRecognizer',
    # labels come packed from the workers and go to the device in one pinned copy per step
    data_preprocessor=dict(
        type='SkeletonDataPreprocessor', stream='joint', non_blocking=True, move_data_samples=False
    ),
    backbone=dict(
        type='UnifiedSTGCN',
        formats=formats,
        graph_mode='spatial',  # the SkeleMixCLR family's graph (also in its checkpoints)
        frozen_stages=10,  # all 10 blocks (and the per-format stems)
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    cls_head=dict(num_classes=60, dropout=0.0),
)

# the SkeleMixCLR reference: 150 epochs (lr 3.0, x0.1 at 80 as the 100-epoch probe)
train_cfg = dict(max_epochs=150)
default_hooks = dict(checkpoint=dict(interval=5, save_best='acc/top1', rule='greater'))
