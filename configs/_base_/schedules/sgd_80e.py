# Supervised ST-GCN schedule (mmaction2's): SGD + Nesterov, cosine over 80 epochs.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=80, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0, T_max=80, by_epoch=True, convert_to_iter_based=True)
]

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0005, nesterov=True)
)

auto_scale_lr = dict(enable=False, base_batch_size=128)
