# kNN evaluation of a pretrained encoder on NTU-60 x-sub, no training: pooled encoder
# features of the training split form the memory bank, the val split is classified by
# weighted kNN (k=200, temperature 0.07, cosine similarity) and by 1-NN, per format
# (`knn/<fmt>_top1`, `knn/<fmt>_nn1`) and averaged over formats (`knn/top1`, `knn/nn1`).
# Run it on the pretraining checkpoint itself:
#   python tools/test.py configs/eval/knn-k200-t0.07_1xb128-joint-50f-kinect25+smplx42_ntu60-xsub.py \
#       work_dirs/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub/epoch_300.pth \
#       --cfg-options test_evaluator.k=20 test_evaluator.temperature=0.1
# The model is the encoder alone (`MultiSkeletonRecognizer` without classifiers: its
# predict() gives the pooled features, as the pretraining algorithms' predict() does), so
# only the checkpoint's `backbone.` weights are needed and read: a checkpoint of any
# contrastive model on this encoder and these formats fits (MS-SkeletonCLR, MS-AimCLR,
# MS-SkeleMixCLR, MS-SkeleMixCLR+), whatever its neck, queue length or key encoder. 50-frame
# clips, as the SkeletonCLR/AimCLR pretraining; for the 64-frame SkeleMixCLR family use
# `knn-k200-t0.07_1xb128-joint-64f-kinect25+smplx42_ntu60-xsub.py`. Other streams:
# --cfg-options model.data_preprocessor.stream=bone (or motion), on that stream's encoder.
_base_ = [
    '../_base_/datasets/ntu60_xsub_eval_knn.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='MultiSkeletonRecognizer',
    data_preprocessor=dict(
        type='SkeletonDataPreprocessor', stream='joint', non_blocking=True, move_data_samples=False
    ),
    backbone=dict(type='UnifiedSTGCN', formats=['kinect25', 'smplx42']),
    cls_head=None,  # no classifier: the encoder's features
)
