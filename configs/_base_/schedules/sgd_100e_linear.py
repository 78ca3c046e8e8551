# Linear evaluation schedule: lr 3.0 at batch 128 (24 at 1024), wd 0, 100 epochs, x0.1 at 80.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [dict(type='MultiStepLR', milestones=[80], gamma=0.1, by_epoch=True)]

optim_wrapper = dict(optimizer=dict(type='SGD', lr=3.0, momentum=0.9, weight_decay=0.0))

auto_scale_lr = dict(enable=False, base_batch_size=128)
