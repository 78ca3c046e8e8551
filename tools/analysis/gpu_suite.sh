#!/usr/bin/env bash
# Issue 8's GPU measurements, in one go, on a machine with one CUDA GPU (README § Speed).
#
#   bash tools/analysis/gpu_suite.sh [STAGES...]     (default: env graph step epoch supervised)
#
# Stages: env (versions), gcn (bench_gcn.py: the graph convolution as the trunk runs it vs
# one dense Kronecker-weight GEMM, fp32 and bf16, with the whole block for scale), graph (check_step_graph.py: cuda_graph_step against eager steps,
# same losses and weights, and its speed), step (benchmark.py on the MS-AimCLR NTU-60
# recipe: baseline and optimised variants, profiles; the uncompiled ones first, the
# configs' default bf16+cl+bal+cg last (it compiles: about 2.5 min); `env graph step` fits
# one 10-minute call; add bf16+cl+bal+cg+fuse via STEP_VARIANTS when time allows), supervised
# (bench_supervised.py), epoch (one tools/train.py epoch over NTU-60-sized synthetic data,
# 40000 clips x kinect25 + smplx42, with the fastest variant of step, or EPOCH_VARIANT;
# the data are written in the background from the start), numerics (demo pretraining eager fp32 vs optimised,
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
STAGES=${*:-env graph step epoch supervised}

stage_env() {
    nvidia-smi -L; nproc; free -g | head -2
    $PY -c 'import torch, mmengine, mmaction; print(torch.__version__, torch.version.cuda, mmengine.__version__, mmaction.__version__)'
}
stage_step() {
    $PY tools/analysis/benchmark.py $CFG --device cuda --synthetic 4000 --synthetic-dir $SYN \
        --num-workers $WORKERS --iters 30 --profile --json-out "$OUT/step.json" \
        --variants ${STEP_VARIANTS:-baseline bf16+cl+bal+gs bf16+cl+bal+gs+cudnn bf16+cl+bal+fuse+gs bf16+cl+bal+fuse+gs+cudnn bf16+cl+bal+gs+dense bf16+cl+bal+cg}
}
stage_gcn() {
    $PY tools/analysis/bench_gcn.py --device cuda --dtype bf16 --json-out "$OUT/gcn_bf16.json"
    $PY tools/analysis/bench_gcn.py --device cuda --dtype fp32 --json-out "$OUT/gcn_fp32.json"
}
stage_graph() {  # float32, eager trunk: a correctness check first (exit 1 on a mismatch)
    $PY tools/analysis/check_step_graph.py $CFG --device cuda --synthetic 4000 --synthetic-dir $SYN \
        --steps 12 --variant ${GRAPH_VARIANT:-cl+bal} --noise-floor --timed 3 \
        --json-out "$OUT/graph_noise_floor.json"
    $PY tools/analysis/check_step_graph.py $CFG --device cuda --synthetic 4000 --synthetic-dir $SYN \
        --steps 12 --variant ${GRAPH_VARIANT:-cl+bal} --json-out "$OUT/graph_check.json"
}
stage_supervised() {
    timeout ${SUPERVISED_TIMEOUT:-600} $PY tools/analysis/bench_supervised.py --device cuda \
        --batch 64 --frames 100 \
        --kinds mmaction ours-nchw ours-cl ours-cl-dense ${SUPERVISED_COMPILE:+ours-cl-compile}
    # the same step with the cross-entropy alone, so that it can be one CUDA graph
    timeout ${SUPERVISED_TIMEOUT:-600} $PY tools/analysis/bench_supervised.py --device cuda \
        --batch 64 --frames 100 --loss plain --kinds mmaction ours-cl ours-cl-graph \
        ${SUPERVISED_COMPILE:+ours-cl-compile-graph}
}
prepare_epoch_data() {  # NTU-60-sized: 40000 clips x 2 formats, written and cached once
    [[ -f $SYN/40000clips/cache.done ]] && return
    $PY tools/analysis/synthetic_skeletons.py --out-dir $SYN/40000clips --clips 40000 --frames 50 100
    $PY - <<'PYEOF'
import msclr_mm  # noqa: F401
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope
init_default_scope('mmaction')
root = 'data/synthetic/40000clips'
DATASETS.build(dict(type='MultiSkeletonDataset', split='xsub_train', cache_dir=f'{root}/cache',
                    ann_files={f: f'{root}/{f}.pkl' for f in ('kinect25', 'smplx42')}))
PYEOF
    touch $SYN/40000clips/cache.done
}
stage_epoch() {
    local variant_opts
    if [[ ${EPOCH_VARIANT:-} == config ]]; then
        variant_opts=
    elif [[ -n ${EPOCH_VARIANT:-} ]]; then
        variant_opts=$($PY tools/analysis/variant_options.py $EPOCH_VARIANT)
    else
        variant_opts=$($PY tools/analysis/variant_options.py --best "$OUT/step.json")
    fi
    echo "epoch variant options: $variant_opts"
    wait_data
    local start=$(date +%s.%N)
    timeout ${EPOCH_TIMEOUT:-600} $PY tools/train.py $CFG --work-dir /tmp/epoch_run \
        --cfg-options $variant_opts \
        "train_dataloader.dataset.ann_files.kinect25=$SYN/40000clips/kinect25.pkl" \
        "train_dataloader.dataset.ann_files.smplx42=$SYN/40000clips/smplx42.pkl" \
        "train_dataloader.dataset.cache_dir=$SYN/40000clips/cache" \
        "train_dataloader.num_workers=$WORKERS" train_dataloader.pin_memory=True \
        train_cfg.max_epochs=1 val_cfg=None val_dataloader=None val_evaluator=None \
        test_cfg=None test_dataloader=None test_evaluator=None default_hooks.logger.interval=50
    $PY -c "import sys, time; print('epoch_wall_s (build + 1 epoch + checkpoint)', time.time() - float(sys.argv[1]))" "$start"
}
DATA_PID=
wait_data() { [[ -n $DATA_PID ]] && wait $DATA_PID; DATA_PID=; }
stage_numerics() {  # same data, seed and format rule; eager fp32 NCHW vs bf16 channels-last
    $PY tools/data/make_demo_data.py --out-dir data/demo
    for v in bal bf16+cl+bal; do
        timeout ${NUMERICS_TIMEOUT:-600} $PY tools/train.py configs/demo/msaimclr_demo.py \
            --work-dir /tmp/numerics_$v --cfg-options randomness.seed=0 \
            $($PY tools/analysis/variant_options.py $v)
        cp /tmp/numerics_$v/*/vis_data/scalars.json "$OUT/numerics_${v//+/_}_scalars.json"
        grep -h "knn/" /tmp/numerics_$v/*/*.log | tail -1
    done
}

if [[ " $STAGES " == *" epoch "* ]]; then
    prepare_epoch_data > "$OUT/epoch_data.log" 2>&1 &
    DATA_PID=$!
fi
for s in $STAGES; do
    echo "=== stage $s $(date +%T)"
    stage_$s 2>&1 | tee "$OUT/$s.log" | grep -v -e '^\s*$' -e Warning -e warn | tail -n 60
done
echo "=== done $(date +%T)"
