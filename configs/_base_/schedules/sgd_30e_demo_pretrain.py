# The demo pretraining schedule (30 epochs of 22 steps of batch 16 on a CPU): SGD momentum
# 0.9, wd 1e-4, lr 0.01 (batch 16 on the demo, 32 on KARD), x0.1 at epoch 25; kNN
# validation every 10 epochs.
# Measured on the demo (README "Results"): lr 0.05 for 10 epochs left kNN at or below a
# random encoder's; with this schedule, the demo configs' short-schedule MoCo settings and
# batch 16, MS-AimCLR ends 0.19 / 0.13 (kNN top1 / 1-NN, mean of 7 seeds) above its random
# initialisation with estimated BatchNorm statistics, and below the one as initialised.
_base_ = ['./sgd_demo_pretrain.py']

train_cfg = dict(max_epochs=30, val_interval=10)
param_scheduler = [dict(type='MultiStepLR', milestones=[25], gamma=0.1, by_epoch=True)]
optim_wrapper = dict(optimizer=dict(lr=0.01))
