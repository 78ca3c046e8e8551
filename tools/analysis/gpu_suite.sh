#!/usr/bin/env bash
# Issue 8's GPU measurements, in one go, on a machine with one CUDA GPU (README § Speed).
#
#   bash tools/analysis/gpu_suite.sh [STAGES...]     (default: env graph step epoch supervised)
#
# Stages: env (versions), gcn (bench_gcn.py: the graph convolution as the trunk runs it vs
# one dense Kronecker-weight GEMM, fp32 and bf16, with the whole block for scale), graph (check_step_graph.py: cuda_graph_step against eager steps,
# same losses and weights, and its speed), step (benchmark.py on the MS-AimCLR NTU-60
# recipe: baseline and optimised variants, profiles; the uncompiled ones first, then the
# two that compile (about 2.5 min each, so with BUDGET=560 the last is likely stopped): the
# whole-step graph around inductor's fused trunk (gs+compile, the candidate default) and
# the configs' default bf16+cl+bat+cg+gf (trunk-only CUDA graphs); with gs, benchmark.py
# warms up until every format pair of the 'batch' rule replays, and reports under
# step_graph whether a timed step was eager or a capture); `env graph step` fits
# one 10-minute call; dense_gcn under the whole-step graph, as the byte counts of README §
# Speed make it the next lever, in every block and in every block but the last (dense=BITS,
# the last graph-first: the fewest bytes counted); graph_first='widening' (gf, the default)
# with and without;
# fuse_groups, which moves 30 % more bytes, via STEP_VARIANTS), supervised
# (bench_supervised.py), host (bench_host.py: the training loop with a null model step, what
# the host alone allows in seq/s; about a minute), epoch (one tools/train.py epoch over NTU-60-sized synthetic data,
# 40000 clips x kinect25 + smplx42, with the fastest variant of step, or EPOCH_VARIANT;
# the data are written in the background from the start, about 2 min on a 2-core CPU; each
# logged row averages its interval's iterations; epoch.json: tools/analysis/epoch_time.py's
# summary, the mean iteration time after the first interval and the epoch time it gives,
# also when the epoch is cut short), numerics (demo pretraining eager fp32 vs optimised,
# loss curves and kNN). Results go to $OUT (default work_dirs/gpu_suite): one log per stage.
# Wheels in .whl/ (mmengine, mmcv-lite, mmaction2 and their small dependencies, for a
# machine without a package index; fetch them with tools/analysis/gpu_wheels.sh before the
# device call, which carries .whl) are installed to /tmp/site first. The exit status is 0
# only if every stage succeeded; the last line names the stages that failed.
# BUDGET (seconds, e.g. 560 for a device call limited to 600): the whole call's time. Each
# stage then has a deadline that leaves every later stage its RESERVE_<stage> seconds
# (defaults in RESERVE below); its tools run under timeout(1) up to that deadline and keep
# what they measured when stopped (benchmark.py writes step.json with the variant in
# flight under "stopped"; the epoch stage summarises whatever iterations were logged); a
# stage with no time left is skipped. Stopped and skipped stages count as failed.
# Knobs (environment): DEVICE, SYN, RUNS, WORKERS, STEP_CLIPS, STEP_ITERS, STEP_WARMUP,
# STEP_VARIANTS, HOST_ITERS, HOST_WARMUP, GRAPH_STEPS, GRAPH_VARIANT, GRAPH_CFG (the graph stage's config, e.g. an
# MS-SkeleMixCLR recipe; default the MS-AimCLR one), EPOCH_CLIPS, EPOCH_VARIANT, CFG_OPTS (extra
# --cfg-options of the recipe), GCN_ARGS, SUPERVISED_ARGS, *_TIMEOUT, EPOCH_LOG_INTERVAL,
# BUDGET, RESERVE_*; defaults below.
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
# Sizes and the device (the defaults are the measurement; tests/tools/analysis/test_gpu_suite.py
# runs every stage but numerics on a CPU with tiny ones, so the GPU session cannot lose its
# minutes to a broken script)
DEVICE=${DEVICE:-cuda}
SYN=${SYN:-data/synthetic}
RUNS=${RUNS:-/tmp/gpu_suite_runs}
WORKERS=${WORKERS:-8}
STEP_CLIPS=${STEP_CLIPS:-4000}
STEP_ITERS=${STEP_ITERS:-30}
GRAPH_STEPS=${GRAPH_STEPS:-12}
EPOCH_CLIPS=${EPOCH_CLIPS:-40000}
EPOCH_DATA=$SYN/${EPOCH_CLIPS}clips
# extra --cfg-options for the recipe in the step, graph and epoch stages (e.g. a smaller batch)
read -r -a CFG_OPTS <<< "${CFG_OPTS:-}"
read -r -a GCN_ARGS <<< "${GCN_ARGS:-}"                # extra bench_gcn.py arguments
read -r -a SUPERVISED_ARGS <<< "${SUPERVISED_ARGS:-}"  # extra bench_supervised.py arguments
STAGES=${*:-env graph step epoch supervised}
FAILED=()
SUITE_START=$(date +%s)
BUDGET=${BUDGET:-}
# seconds a stage needs at the least to give a figure on the GPU (for BUDGET's deadlines)
declare -A RESERVE=(
    [env]=${RESERVE_env:-5} [gcn]=${RESERVE_gcn:-60} [graph]=${RESERVE_graph:-60}
    [step]=${RESERVE_step:-150} [host]=${RESERVE_host:-60} [epoch]=${RESERVE_epoch:-150}
    [supervised]=${RESERVE_supervised:-120} [numerics]=${RESERVE_numerics:-300}
)
STAGE_DEADLINE=  # set per stage with BUDGET (seconds since the epoch)

limited() {  # limited CAP CMD...: CMD under timeout(1) for CAP seconds (empty: none), and
             # with BUDGET no later than the stage's deadline; 124 when stopped
    local cap=$1 left
    shift
    if [[ -n $STAGE_DEADLINE ]]; then
        left=$((STAGE_DEADLINE - $(date +%s)))
        if ((left <= 0)); then
            echo "no time left in BUDGET for: $*"
            return 124
        fi
        if [[ -z $cap ]] || ((cap > left)); then cap=$left; fi
    fi
    if [[ -z $cap ]]; then
        "$@"
    else
        timeout -k 10 "$cap" "$@"
    fi
}

stage_env() {
    if command -v nvidia-smi >/dev/null; then nvidia-smi -L; fi
    nproc; free -g | head -2
    $PY -c 'import torch, mmengine, mmaction; print(torch.__version__, torch.version.cuda, mmengine.__version__, mmaction.__version__)'
}
stage_step() {
    limited "${STEP_TIMEOUT:-}" $PY tools/analysis/benchmark.py $CFG --device $DEVICE --synthetic $STEP_CLIPS --synthetic-dir $SYN \
        --num-workers $WORKERS --iters $STEP_ITERS --warmup ${STEP_WARMUP:-12} --profile \
        --json-out "$OUT/step.json" \
        --variants ${STEP_VARIANTS:-baseline bf16+cl+bat+gs+gf bf16+cl+bat+gs bf16+cl+bal+gs+gf bf16+cl+bat+gs+dense=1111111110+gf bf16+cl+bat+gs+dense bf16+cl+bat+gs+gf+cudnn bf16+cl+bat+gs+compile+gf bf16+cl+bat+cg+gf} \
        ${CFG_OPTS[@]:+--cfg-options "${CFG_OPTS[@]}"}
}
stage_gcn() {
    local rc=0
    limited "" $PY tools/analysis/bench_gcn.py --device $DEVICE --dtype bf16 --json-out "$OUT/gcn_bf16.json" "${GCN_ARGS[@]}" || rc=1
    limited "" $PY tools/analysis/bench_gcn.py --device $DEVICE --dtype fp32 --json-out "$OUT/gcn_fp32.json" "${GCN_ARGS[@]}" || rc=1
    return $rc
}
stage_graph() {  # float32, eager trunk: a correctness check first (exit 1 on a mismatch)
    local rc=0 run
    for run in noise_floor check; do
        limited "" $PY tools/analysis/check_step_graph.py ${GRAPH_CFG:-$CFG} --device $DEVICE --synthetic $STEP_CLIPS \
            --synthetic-dir $SYN --steps $GRAPH_STEPS --variant ${GRAPH_VARIANT:-cl+bal} \
            $([[ $run == noise_floor ]] && echo --noise-floor --timed 3) \
            --json-out "$OUT/graph_$run.json" ${CFG_OPTS[@]:+--cfg-options "${CFG_OPTS[@]}"} || rc=1
    done
    return $rc
}
stage_host() {  # the host side alone: loop, hooks, DataLoader and copies with a null model step
    limited "" $PY tools/analysis/bench_host.py $CFG --synthetic $STEP_CLIPS --synthetic-dir $SYN \
        --num-workers $WORKERS --iters ${HOST_ITERS:-45} --warmup ${HOST_WARMUP:-10} \
        --work-dir $RUNS/host --json-out "$OUT/host.json" ${CFG_OPTS[@]:+--cfg-options "${CFG_OPTS[@]}"}
}
stage_supervised() {
    local rc=0
    limited ${SUPERVISED_TIMEOUT:-600} $PY tools/analysis/bench_supervised.py --device $DEVICE \
        --batch 64 --frames 100 "${SUPERVISED_ARGS[@]}" \
        --kinds mmaction ours-nchw ours-cl ours-cl-dense ${SUPERVISED_COMPILE:+ours-cl-compile} || rc=1
    # the same step with the cross-entropy alone, so that it can be one CUDA graph (CUDA only)
    local graph_kinds=
    [[ $DEVICE == cuda ]] && graph_kinds="ours-cl-graph ${SUPERVISED_COMPILE:+ours-cl-compile-graph}"
    limited ${SUPERVISED_TIMEOUT:-600} $PY tools/analysis/bench_supervised.py --device $DEVICE \
        --batch 64 --frames 100 "${SUPERVISED_ARGS[@]}" --loss plain \
        --kinds mmaction ours-cl $graph_kinds || rc=1
    return $rc
}
prepare_epoch_data() {  # NTU-60-sized by default: 40000 clips x 2 formats, written and cached once
    [[ -f $EPOCH_DATA/cache.done ]] && return
    $PY tools/analysis/synthetic_skeletons.py --out-dir $EPOCH_DATA --clips $EPOCH_CLIPS \
        --frames 50 100 || return 1
    $PY - "$EPOCH_DATA" <<'PYEOF' || return 1
import sys

import msclr_mm  # noqa: F401
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope
init_default_scope('mmaction')
root = sys.argv[1]
DATASETS.build(dict(type='MultiSkeletonDataset', split='xsub_train', cache_dir=f'{root}/cache',
                    ann_files={f: f'{root}/{f}.pkl' for f in ('kinect25', 'smplx42')}))
PYEOF
    touch $EPOCH_DATA/cache.done
}
stage_epoch() {
    local variant_opts
    if [[ ${EPOCH_VARIANT:-} == config ]]; then
        variant_opts=
    elif [[ -n ${EPOCH_VARIANT:-} ]]; then
        variant_opts=$($PY tools/analysis/variant_options.py $EPOCH_VARIANT) || return 1
    else
        variant_opts=$($PY tools/analysis/variant_options.py --best "$OUT/step.json") || return 1
    fi
    echo "epoch variant options: $variant_opts"
    wait_data || { echo "the epoch's data could not be written: $OUT/epoch_data.log"; return 1; }
    local start=$(date +%s.%N) interval=${EPOCH_LOG_INTERVAL:-50} rc=0
    rm -rf $RUNS/epoch  # epoch_time.py reads the newest run there: this one
    # each logged row averages exactly its interval's iterations (window = interval)
    limited ${EPOCH_TIMEOUT:-600} $PY tools/train.py $CFG --work-dir $RUNS/epoch \
        --cfg-options $variant_opts \
        "train_dataloader.dataset.ann_files.kinect25=$EPOCH_DATA/kinect25.pkl" \
        "train_dataloader.dataset.ann_files.smplx42=$EPOCH_DATA/smplx42.pkl" \
        "train_dataloader.dataset.cache_dir=$EPOCH_DATA/cache" \
        "train_dataloader.num_workers=$WORKERS" train_dataloader.pin_memory=True \
        train_cfg.max_epochs=1 val_cfg=None val_dataloader=None val_evaluator=None \
        test_cfg=None test_dataloader=None test_evaluator=None \
        default_hooks.logger.interval=$interval log_processor.window_size=$interval \
        "${CFG_OPTS[@]}" || rc=$?
    if ((rc == 0)); then
        $PY -c "import sys, time; print('epoch_wall_s (build + 1 epoch + checkpoint)', time.time() - float(sys.argv[1]))" "$start"
    fi
    # the iterations' mean time and the epoch time it gives, also from a run stopped early
    $PY tools/analysis/epoch_time.py $RUNS/epoch --json-out "$OUT/epoch.json" || rc=1
    return $rc
}
DATA_PID=
wait_data() {  # with BUDGET, no later than the stage's deadline
    local rc=0
    if [[ -n $DATA_PID && -n $STAGE_DEADLINE ]]; then
        while kill -0 $DATA_PID 2>/dev/null && (($(date +%s) < STAGE_DEADLINE)); do sleep 1; done
        if kill -0 $DATA_PID 2>/dev/null; then
            echo "no time left in BUDGET: the epoch's data are still being written"
            return 1
        fi
    fi
    if [[ -n $DATA_PID ]]; then wait $DATA_PID || rc=1; fi
    DATA_PID=
    return $rc
}
stage_numerics() {  # same data, seed and format rule; eager fp32 NCHW vs bf16 channels-last
    local rc=0 v
    $PY tools/data/make_demo_data.py --out-dir data/demo || return 1
    for v in bal bf16+cl+bal+gf; do
        limited ${NUMERICS_TIMEOUT:-600} $PY tools/train.py configs/demo/msaimclr_demo.py \
            --work-dir $RUNS/numerics_$v --cfg-options randomness.seed=0 \
            $($PY tools/analysis/variant_options.py $v) || { rc=1; continue; }
        cp $RUNS/numerics_$v/*/vis_data/scalars.json "$OUT/numerics_${v//+/_}_scalars.json"
        grep -h "knn/" $RUNS/numerics_$v/*/*.log | tail -1
    done
    return $rc
}

if [[ " $STAGES " == *" epoch "* ]]; then
    prepare_epoch_data > "$OUT/epoch_data.log" 2>&1 &
    DATA_PID=$!
fi
read -r -a STAGE_LIST <<< "$STAGES"
for i in "${!STAGE_LIST[@]}"; do
    s=${STAGE_LIST[$i]}
    echo "=== stage $s $(date +%T)"
    if ! declare -F stage_$s >/dev/null; then
        echo "unknown stage '$s' (env gcn graph step host epoch supervised numerics)"
        FAILED+=("$s")
        continue
    fi
    if [[ -n $BUDGET ]]; then  # leave the later stages their reserves
        later=0
        for t in "${STAGE_LIST[@]:i+1}"; do later=$((later + ${RESERVE[$t]:-0})); done
        STAGE_DEADLINE=$((SUITE_START + BUDGET - later))
        if (($(date +%s) >= STAGE_DEADLINE)); then
            echo "=== stage $s SKIPPED: no time left in BUDGET=$BUDGET (later stages reserve ${later} s)"
            FAILED+=("$s")
            continue
        fi
        echo "    (until $(date -d @$STAGE_DEADLINE +%T): BUDGET=$BUDGET, later stages reserve ${later} s)"
    fi
    stage_$s > >(tee "$OUT/$s.log" | grep -v -e '^\s*$' -e Warning -e warn | tail -n 60) 2>&1
    rc=$?
    wait $!  # the log's tail, printed before the next stage starts
    if (( rc != 0 )); then
        echo "=== stage $s FAILED (exit $rc): $OUT/$s.log"
        FAILED+=("$s")
    fi
done
if [[ -n $DATA_PID ]]; then pkill -P $DATA_PID; kill $DATA_PID; fi 2>/dev/null  # no epoch stage left to use them
wait_data || true
echo "=== done $(date +%T)${FAILED[*]:+; failed: ${FAILED[*]}}"
(( ${#FAILED[@]} == 0 ))
