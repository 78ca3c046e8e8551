# Fine-tuning the whole network on the demo data from the MS-AimCLR demo checkpoint: the
# NTU fine-tune protocol (SGD lr 0.1 at batch 64, Nesterov, wd 1e-4, 5-epoch warm-up,
# x0.1 at 30 and 55 of 70) shrunk to 10 epochs at batch 16 (lr 0.025, warm-up 1 epoch, x0.1
# at 8).
_base_ = ['./linear_1xb16-joint-32f-kinect25+smpl24+coco17-5e_demo.py']

model = dict(backbone=dict(frozen_stages=-1, norm_eval=False))
train_cfg = dict(max_epochs=10, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.2, end_factor=1.0, begin=0, end=2, by_epoch=True),
    dict(type='MultiStepLR', milestones=[8], gamma=0.1, by_epoch=True),
]
# The per-format losses are summed: each classifier trains at lr 0.025; the encoder gets the
# sum of the F = 3 formats' gradients, so lr_mult 1/F with decay_mult F gives it the SGD update
# of the mean cross-entropy at lr 0.025, wd 1e-4 (see the NTU fine-tune config).
num_formats = 3
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.025, momentum=0.9, weight_decay=1e-4, nesterov=True),
    paramwise_cfg=dict(
        custom_keys=dict(backbone=dict(lr_mult=1.0 / num_formats, decay_mult=num_formats))
    ),
)
auto_scale_lr = dict(enable=False, base_batch_size=64)
