# Linear evaluation of an MS-AimCLR (or any msclr_mm contrastive) encoder on NTU-60 x-sub:
# the encoder is frozen and stays in eval mode (frozen_stages covers every block,
# norm_eval=True), one linear classifier per skeleton format trains on that format's view
# of each clip (the formats' cross-entropies are summed, as the MS-CLR reference's
# linear_evaluation.py: each classifier trains at lr 3.0 as a single-format probe), and the
# test averages the formats' probabilities (the multi-skeleton ensemble) over 10 clips. SGD
# lr 3.0 at batch 128 (24 at 1024), wd 0, 100 epochs, x0.1 at 80 (SkeletonCLR/AimCLR
# linear_eval configs, MS-CLR's linear_eval_multi_aimclr_*_ensemble.yaml).
#
#   python tools/train.py configs/eval/linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH  (default: `pretrained` below)
#   python tools/test.py CONFIG work_dirs/<probe>/epoch_100.pth --dump joint.pkl
_base_ = [
    '../_base_/datasets/ntu60_xsub_eval.py',
    '../_base_/schedules/sgd_100e_linear.py',
    '../_base_/default_runtime.py',
]

formats = ['kinect25', 'smplx42']
# The pretraining checkpoint (a whole MoCo-style model: only its `backbone.` weights are
# read, through the weights-only loader). Override with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
pretrained = 'work_dirs/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub/epoch_300.pth'

model = dict(
    type='MultiSkeletonRecognizer',
    # labels come packed from the workers and go to the device in one pinned copy per step
    data_preprocessor=dict(
        type='SkeletonDataPreprocessor', stream='joint', non_blocking=True, move_data_samples=False
    ),
    backbone=dict(
        type='UnifiedSTGCN',
        formats=formats,
        frozen_stages=10,  # all 10 blocks (and the per-format stems)
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    cls_head=dict(num_classes=60, dropout=0.0),
)

default_hooks = dict(checkpoint=dict(interval=5, save_best='acc/top1', rule='greater'))
