# SkeleMixCLR+: SkeleMixCLR with temperature 0.2 and BatchNorm in the projection MLP
# (64-frame clips: use a `*_pretrain_64f.py` dataset base).
_base_ = ['./skelemixclr.py']

model = dict(neck=dict(with_bn=True), head=dict(temperature=0.2))
