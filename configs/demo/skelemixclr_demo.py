# SkeleMixCLR on the demo data, one format (kinect25): the single-skeleton baseline to compare
# MS-SkeleMixCLR with; everything else as in msskelemixclr_demo.py.
_base_ = ['./msskelemixclr_demo.py']

formats = ['kinect25']
ann_files = dict(kinect25='data/demo/kinect25.pkl')
model = dict(backbone=dict(formats=formats))
train_dataloader = dict(dataset=dict(ann_files=dict(_delete_=True, **ann_files)))
val_dataloader = dict(
    dataset=dict(
        bank=dict(ann_files=dict(_delete_=True, **ann_files)),
        query=dict(ann_files=dict(_delete_=True, **ann_files)),
    )
)
test_dataloader = val_dataloader
