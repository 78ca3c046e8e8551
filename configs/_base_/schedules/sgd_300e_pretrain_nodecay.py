# SkeleMixCLR+'s schedule: as sgd_300e_pretrain.py but a constant learning rate (the
# reference config's `step: [300]` with `num_epoch: 300`: the decay never comes).
_base_ = ['./sgd_300e_pretrain.py']

param_scheduler = []
