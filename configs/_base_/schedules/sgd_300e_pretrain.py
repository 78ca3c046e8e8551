# Contrastive pretraining schedule (SkeletonCLR / AimCLR / MS-CLR): SGD momentum 0.9,
# wd 1e-4, lr 0.1 at batch 128, x0.1 at epoch 250, 300 epochs.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_begin=1, val_interval=50)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [dict(type='MultiStepLR', milestones=[250], gamma=0.1, by_epoch=True)]

# bf16 autocast on CUDA (a plain float32 OptimWrapper on a CPU), without GradScaler, whose
# found_inf read-back syncs every step; the contrastive logits and losses stay float32
optim_wrapper = dict(
    type='AutocastOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
)

auto_scale_lr = dict(enable=False, base_batch_size=128)
