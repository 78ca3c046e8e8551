# Semi-supervised evaluation with 1 % of the labels: the fine-tune protocol (whole
# network, same schedule) on a class-balanced, seeded 1 % of each class of the training
# split (`LabelSubsetDataset`, at least one clip per class; the same subset in every
# process). Another draw: --cfg-options train_dataloader.dataset.seed=1.
_base_ = ['./finetune_1xb64-joint-50f-kinect25+smplx42-70e_ntu60-xsub.py']

# the labelled clips: the fine-tune config's own training dataset (its formats, split,
# clip length and persons, one entry per clip), of which a class-balanced subset is kept
labelled = {{_base_.train_dataloader.dataset}}
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='LabelSubsetDataset',
        fraction=0.01,
        seed=0,
        min_per_class=1,
        dataset=labelled,
    )
)
