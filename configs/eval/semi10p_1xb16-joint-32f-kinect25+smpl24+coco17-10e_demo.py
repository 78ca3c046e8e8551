# Semi-supervised evaluation on the demo data with 10 % of the labels (class-balanced,
# seeded, at least one clip per class: `LabelSubsetDataset`), fine-tune protocol.
_base_ = ['./finetune_1xb16-joint-32f-kinect25+smpl24+coco17-10e_demo.py']

# the labelled clips: the fine-tune config's own training dataset (its formats, split,
# clip length and persons, one entry per clip), of which a class-balanced subset is kept
labelled = {{_base_.train_dataloader.dataset}}
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='LabelSubsetDataset',
        fraction=0.1,
        seed=0,
        min_per_class=1,
        dataset=labelled,
    )
)
