# Fine-tuning the whole network (encoder trainable, BatchNorm in train mode, dropout 0.5 in
# the encoder as pretrained) from a pretraining checkpoint, one classifier per format, the
# multi-skeleton ensemble at test. Schedule of the AimCLR-family fine-tune configs (the
# AimCLR repository ships no fine-tune config; HiCLR's AimCLR-based
# config/release/gcn_ntu60/finetune/xsub_joint.yaml): SGD lr 0.1 at batch 64, Nesterov
# momentum 0.9, wd 1e-4, linear warm-up over 5 epochs, x0.1 at 30 and 55, 70 epochs.
_base_ = ['./linear_1xb128-joint-50f-kinect25+smplx42-100e_ntu60-xsub.py']

model = dict(backbone=dict(frozen_stages=-1, norm_eval=False))
train_dataloader = dict(batch_size=64)

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=70, val_begin=1, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.2, end_factor=1.0, begin=0, end=5, by_epoch=True),
    dict(type='MultiStepLR', milestones=[30, 55], gamma=0.1, by_epoch=True),
]
# The per-format losses are summed (MultiSkeletonRecognizer.parse_losses, as the MS-CLR
# reference): each classifier gets its own cross-entropy's gradient at lr 0.1, as the
# single-format recipe's classifier; the shared encoder gets the sum of the F = 2 formats'
# gradients, F times the mean cross-entropy's: at lr 0.1 it would take the mean's step at
# lr 0.1 * F (about F times a single-format encoder's step when the formats agree).
# lr_mult 1/F with decay_mult F gives the encoder exactly the SGD update (momentum, Nesterov
# and weight decay included) of the mean cross-entropy at lr 0.1 and wd 1e-4: the
# single-format recipe's encoder step. With other formats, set both to 1/F and F.
num_formats = 2
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True),
    paramwise_cfg=dict(
        custom_keys=dict(backbone=dict(lr_mult=1.0 / num_formats, decay_mult=num_formats))
    ),
)
auto_scale_lr = dict(enable=False, base_batch_size=64)
