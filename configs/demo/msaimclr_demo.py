# MS-AimCLR on the demo data: three skeleton conventions of the same clips (kinect25 3D,
# smpl24 3D, coco17 2D) as views; query and key formats drawn at random per sample.
_base_ = ['./aimclr_demo.py']

formats = ['kinect25', 'smpl24', 'coco17']
ann_files = dict(
    kinect25='data/demo/kinect25.pkl', smpl24='data/demo/smpl24.pkl', coco17='data/demo/coco17.pkl'
)
model = dict(backbone=dict(formats=formats))
train_dataloader = dict(dataset=dict(ann_files=dict(_delete_=True, **ann_files)))
val_dataloader = dict(
    dataset=dict(
        bank=dict(ann_files=dict(_delete_=True, **ann_files)),
        query=dict(ann_files=dict(_delete_=True, **ann_files)),
    )
)
test_dataloader = val_dataloader
