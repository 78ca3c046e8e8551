# The supervised smoke run with our UnifiedSTGCN (quarter width, the contrastive baselines'
# encoder) in place of mmaction2's STGCN, still inside mmaction2's RecognizerGCN with its
# GCNHead. Data: `python tools/data/make_smoke_data.py` (25 joints, read as `kinect25`).
_base_ = ['../smoke/stgcn_smoke.py']

model = dict(
    backbone=dict(_delete_=True, type='UnifiedSTGCN', formats=['kinect25']),
    cls_head=dict(in_channels=256),
)
