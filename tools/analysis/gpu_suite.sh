#!/usr/bin/env bash
# Issue 8's GPU measurements, in one go, on a machine with one CUDA GPU (README § Speed).
#
#   bash tools/analysis/gpu_suite.sh [STAGES...]     (default: env step supervised epoch)
#
# Stages: env (versions), step (benchmark.py on the MS-AimCLR NTU-60 recipe: baseline and
# optimised variants, profiles), compile (the same with torch.compile), supervised
# (bench_supervised.py), epoch (one tools/train.py epoch over NTU-60-sized synthetic data,
# 40000 clips x kinect25 + smplx42), numerics (demo pretraining eager fp32 vs optimised,
# loss curves and kNN). Results go to $OUT (default work_dirs/gpu_suite): one log per stage.
# Wheels in .whl/ (mmengine, mmcv-lite, mmaction2 and their small dependencies, for a
# machine without a package index) are installed to /tmp/site first.
set -uo pipefail
OUT=${OUT:-work_dirs/gpu_suite}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
PY=${PYTHON:-python3}
if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
CFG=configs/msclr/msaimclr_1xb128-joint-50f-kinect25+smplx42-300e_ntu60-xsub.py
SYN=data/synthetic
WORKERS=${WORKERS:-8}
STAGES=${*:-env step supervised epoch}

stage_env() {
    nvidia-smi -L; nproc; free -g | head -2
    $PY -c 'import torch, mmengine, mmaction; print(torch.__version__, torch.version.cuda, mmengine.__version__, mmaction.__version__)'
}
stage_step() {
    $PY tools/analysis/benchmark.py $CFG --device cuda --synthetic 4000 --synthetic-dir $SYN \
        --num-workers $WORKERS --iters 30 --profile --variants baseline bf16 bf16+cl
}
stage_compile() {
    $PY tools/analysis/benchmark.py $CFG --device cuda --synthetic 4000 --synthetic-dir $SYN \
        --num-workers $WORKERS --iters 30 --profile --variants bf16+cl+compile
}
stage_supervised() {
    $PY tools/analysis/bench_supervised.py --device cuda --batch 64 --frames 100 \
        --kinds mmaction ours-nchw ours-cl ${SUPERVISED_COMPILE:+ours-cl-compile}
}
stage_epoch() {
    local variant=${EPOCH_VARIANT:-bf16+cl}
    $PY tools/analysis/synthetic_skeletons.py --out-dir $SYN/40000clips --clips 40000
    local opts=(
        "train_dataloader.dataset.ann_files.kinect25=$SYN/40000clips/kinect25.pkl"
        "train_dataloader.dataset.ann_files.smplx42=$SYN/40000clips/smplx42.pkl"
        "train_dataloader.dataset.cache_dir=$SYN/40000clips/cache"
        "train_dataloader.num_workers=$WORKERS" train_dataloader.pin_memory=True
        train_cfg.max_epochs=1 train_cfg.val_interval=1000 default_hooks.logger.interval=100
    )
    case $variant in
        baseline) opts+=(optim_wrapper.type=OptimWrapper model.backbone.channels_last=False) ;;
        *) opts+=(optim_wrapper.type=AutocastOptimWrapper model.backbone.channels_last=True) ;;
    esac
    [[ $variant == *compile* ]] && opts+=(model.backbone.compile=True)
    local start=$(date +%s.%N)
    $PY tools/train.py $CFG --work-dir /tmp/epoch_run --cfg-options "${opts[@]}"
    echo "epoch_wall_s $(echo "$(date +%s.%N) - $start" | bc)"
}
stage_numerics() {
    $PY tools/data/make_demo_data.py --out-dir data/demo
    for v in baseline optimised; do
        local opts=(randomness.seed=0)
        [[ $v == baseline ]] && opts+=(optim_wrapper.type=OptimWrapper model.backbone.channels_last=False)
        [[ $v == optimised ]] && opts+=(optim_wrapper.type=AutocastOptimWrapper model.backbone.channels_last=True)
        $PY tools/train.py configs/demo/msaimclr_demo.py --work-dir /tmp/numerics_$v --cfg-options "${opts[@]}"
        cp /tmp/numerics_$v/*/vis_data/scalars.json "$OUT/numerics_${v}_scalars.json" 2>/dev/null
    done
}

for s in $STAGES; do
    echo "=== stage $s $(date +%T)"
    stage_$s 2>&1 | tee "$OUT/$s.log" | grep -v -e '^\s*$' -e Warning -e warn | tail -n 60
done
echo "=== done $(date +%T)"
