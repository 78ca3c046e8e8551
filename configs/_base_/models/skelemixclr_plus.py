# SkeleMixCLR+ (the reference's skelemixclr_multi_swap_ntu.yaml): SkeleMixCLR with
# temperature 0.2, BatchNorm in the projection MLP and three independent mixes of the query
# per step (swap_params repeat 3); 64-frame clips (use a `*_pretrain_64f.py` dataset base)
# and no learning-rate decay (`schedules/sgd_300e_pretrain_nodecay.py`).
_base_ = ['./skelemixclr.py']

model = dict(neck=dict(with_bn=True), head=dict(temperature=0.2), num_mixes=3)
