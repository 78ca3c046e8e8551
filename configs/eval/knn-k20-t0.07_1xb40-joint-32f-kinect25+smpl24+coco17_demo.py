# kNN evaluation of a demo encoder, no training: training-split features are the memory
# bank, the val split is classified by weighted kNN (k=20, temperature 0.07) and 1-NN, per
# format and averaged over formats (`knn/top1`, `knn/nn1`, `knn/<fmt>_top1`).
#   python tools/test.py configs/eval/knn-k20-t0.07_1xb40-joint-32f-kinect25+smpl24+coco17_demo.py \
#       work_dirs/demo/pretrain/epoch_30.pth --cfg-options test_evaluator.k=10
# The model is the encoder alone (`MultiSkeletonRecognizer` without classifiers): only the
# checkpoint's `backbone.` weights are read, so the checkpoint of any of the demo's
# multi-skeleton pretrainings fits (configs/demo/ms{aimclr,skeletonclr,skelemixclr}_demo.py,
# e.g. `tools/demo.sh`'s work_dirs/demo/pretrain/), whatever its queue length or neck.
# Clips as the demo pretraining (`demo_eval_knn.py`: 32 frames, one person).
_base_ = [
    '../_base_/datasets/demo_eval_knn.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='MultiSkeletonRecognizer',
    data_preprocessor=dict(
        type='SkeletonDataPreprocessor', stream='joint', non_blocking=True, move_data_samples=False
    ),
    backbone=dict(type='UnifiedSTGCN', formats=['kinect25', 'smpl24', 'coco17']),
    cls_head=None,  # no classifier: the encoder's features
)
