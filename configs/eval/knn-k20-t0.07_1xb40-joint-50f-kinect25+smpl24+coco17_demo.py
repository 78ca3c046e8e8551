# kNN evaluation of the MS-AimCLR demo encoder, no training: training-split features are the
# memory bank, the val split is classified by weighted kNN (k=20, temperature 0.07) and
# 1-NN, per format and averaged over formats (`knn/top1`, `knn/nn1`, `knn/<fmt>_top1`).
#   python tools/test.py configs/eval/knn-k20-t0.07_1xb40-joint-50f-kinect25+smpl24+coco17_demo.py \
#       work_dirs/demo/pretrain/epoch_10.pth --cfg-options test_evaluator.k=10
_base_ = [
    '../_base_/models/aimclr.py',
    '../_base_/datasets/demo_eval_knn.py',
    '../_base_/default_runtime.py',
]

model = dict(backbone=dict(formats=['kinect25', 'smpl24', 'coco17']), queue_len=1024)
