# kNN evaluation of a pretrained encoder on NTU-60 x-sub, no training: pooled encoder
# features of the training split form the memory bank, the val split is classified by
# weighted kNN (k=200, temperature 0.07, cosine similarity) and by 1-NN, per format
# (`knn/<fmt>_top1`, `knn/<fmt>_nn1`) and averaged over formats (`knn/top1`, `knn/nn1`).
# Run it on the pretraining checkpoint itself:
#   python tools/test.py configs/eval/knn-k200-t0.07_1xb128-joint-50f-kinect25+smplx42_ntu60-xsub.py \
#       work_dirs/msaimclr/epoch_300.pth --cfg-options test_evaluator.k=20 test_evaluator.temperature=0.1
# The model is the pretraining algorithm (its predict() returns the query encoder's pooled
# features); SkeletonCLR, AimCLR and SkeleMixCLR checkpoints share those weights' names.
_base_ = [
    '../_base_/models/aimclr.py',
    '../_base_/datasets/ntu60_xsub_eval_knn.py',
    '../_base_/default_runtime.py',
]

model = dict(backbone=dict(formats=['kinect25', 'smplx42']))
