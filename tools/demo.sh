#!/usr/bin/env bash
# The main job: MS-AimCLR on the demo data, end to end, on a CPU.
#
#   bash tools/demo.sh [train.py/test.py arguments]
#
# 1. makes the demo data in data/demo (if absent; existing files are never replaced),
# 2. pretrains MS-AimCLR on it (configs/demo/msaimclr_demo.py),
# 3. for each stream (joint, bone, motion), trains the per-format linear probes on the frozen
#    pretrained encoder (configs/eval/linear_*-<stream>-*_demo.py) and tests them with the
#    multi-skeleton ensemble, dumping the predictions (tools/test.py --dump),
# 4. prints the report: a row per format, the ensemble, and the fusion of the streams
#    (tools/analysis/report.py).
#
# Paths are relative to the current directory (the configs read data/demo); outputs go to
# $WORK_DIR (default work_dirs/demo): pretrain/, probe_<stream>/, dumps/, report/, logs/.
# A stage that finished before is reused (delete its folder to redo it); an interrupted
# pretraining resumes from its last checkpoint.
#
# Arguments: `--cfg-options k=v ...` go to every run (pretraining, probes, tests); any other
# argument (e.g. --amp, --seed 1, --deterministic) goes to the two training stages.
# Stage-specific config options: PRETRAIN_OPTIONS="k=v ..." and PROBE_OPTIONS="k=v ..."
# (the probes' options also reach their tests).
# Environment: WORK_DIR, STREAMS (default "joint bone motion"), PYTHON (default python),
# VERBOSE=1 (show the full mmengine logs; by default only the progress lines are shown and
# the full logs go to $WORK_DIR/logs/).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
WORK_DIR="${WORK_DIR:-work_dirs/demo}"
STREAMS="${STREAMS:-joint bone motion}"
DATA_DIR="data/demo"
PRETRAIN_CONFIG="$REPO/configs/demo/msaimclr_demo.py"
PROBE_PATTERN="$REPO/configs/eval/linear_1xb16-%s-32f-kinect25+smpl24+coco17-5e_demo.py"
export PYTHONUNBUFFERED=1

COMMON_OPTS=()
TRAIN_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --cfg-options)
            shift
            while [ $# -gt 0 ] && [[ "$1" != --* ]]; do
                COMMON_OPTS+=("$1")
                shift
            done
            ;;
        *)
            TRAIN_ARGS+=("$1")
            shift
            ;;
    esac
done
read -r -a PRETRAIN_EXTRA <<< "${PRETRAIN_OPTIONS:-}"
read -r -a PROBE_EXTRA <<< "${PROBE_OPTIONS:-}"

START=$SECONDS
mkdir -p "$WORK_DIR/logs" "$WORK_DIR/dumps"

stage() {
    echo
    echo "==> [$(($SECONDS - START)) s] $*"
}

# run LOG CMD...: run a tool, full output to LOG, progress lines (or everything) on screen.
run() {
    local log="$1"
    shift
    echo "    \$ $*"
    echo "    (full log: $log)"
    local status=0
    if [ "${VERBOSE:-0}" = 1 ]; then
        "$@" 2>&1 | tee "$log" || status=$?
    else
        # one pipeline, read to its end: every progress line is shown (following the log
        # with `tail -f --pid` could stop before the last lines of a short stage)
        set +e
        "$@" 2>&1 | tee "$log" |
            { grep --line-buffered -E 'Epoch\(|Saving checkpoint|wrote |Error|error:' || true; }
        status=${PIPESTATUS[0]}
        set -e
    fi
    if [ "$status" != 0 ]; then
        echo "!! failed (exit $status); the last lines of $log:" >&2
        tail -n 30 "$log" >&2
        exit "$status"
    fi
}

# Options to pass after --cfg-options (none: nothing).
cfg_options() {
    if [ $# -gt 0 ]; then
        printf '%s\n' --cfg-options "$@"
    fi
}

# ---------------------------------------------------------------------------------- data
stage "data: $DATA_DIR"
have=0
for fmt in kinect25 smpl24 coco17; do
    [ -f "$DATA_DIR/$fmt.pkl" ] && have=$((have + 1))
done
if [ "$have" = 3 ]; then
    echo "    found $DATA_DIR/{kinect25,smpl24,coco17}.pkl (kept as they are)"
elif [ "$have" = 0 ]; then
    run "$WORK_DIR/logs/make_demo_data.log" \
        "$PYTHON" "$REPO/tools/data/make_demo_data.py" --out-dir "$DATA_DIR"
else
    echo "!! $DATA_DIR holds only some of kinect25.pkl, smpl24.pkl, coco17.pkl; it is not" \
        "replaced. Move it away (or complete it) and run again." >&2
    exit 1
fi

# ---------------------------------------------------------------------------- pretrain
PRE_DIR="$WORK_DIR/pretrain"
if [ -f "$PRE_DIR/DONE" ]; then
    stage "pretrain MS-AimCLR: done earlier ($(cat "$PRE_DIR/DONE")); delete $PRE_DIR to redo"
else
    stage "pretrain MS-AimCLR on the demo data ($PRETRAIN_CONFIG)"
    resume=()
    [ -f "$PRE_DIR/last_checkpoint" ] && resume=(--resume)
    mapfile -t opts < <(cfg_options "${COMMON_OPTS[@]}" "${PRETRAIN_EXTRA[@]}")
    run "$WORK_DIR/logs/pretrain.log" \
        "$PYTHON" "$REPO/tools/train.py" "$PRETRAIN_CONFIG" --work-dir "$PRE_DIR" \
        "${resume[@]}" "${TRAIN_ARGS[@]}" "${opts[@]}"
    cat "$PRE_DIR/last_checkpoint" > "$PRE_DIR/DONE"
fi
PRETRAINED="$(cat "$PRE_DIR/DONE")"
echo "    encoder: $PRETRAINED"

# -------------------------------------------------------------------- probes and tests
DUMPS=()
for stream in $STREAMS; do
    config="$(printf "$PROBE_PATTERN" "$stream")"
    [ -f "$config" ] || { echo "!! no probe config for stream '$stream': $config" >&2; exit 1; }
    probe_dir="$WORK_DIR/probe_$stream"
    dump="$WORK_DIR/dumps/$stream.pkl"
    mapfile -t opts < <(cfg_options "model.backbone.init_cfg.checkpoint=$PRETRAINED" \
        "${COMMON_OPTS[@]}" "${PROBE_EXTRA[@]}")
    if [ -f "$probe_dir/DONE" ]; then
        stage "linear probe, $stream stream: done earlier; delete $probe_dir to redo"
    else
        stage "linear probe, $stream stream: one classifier per format on the frozen encoder"
        run "$WORK_DIR/logs/probe_$stream.log" \
            "$PYTHON" "$REPO/tools/train.py" "$config" --work-dir "$probe_dir" --no-validate \
            "${TRAIN_ARGS[@]}" "${opts[@]}"
        ckpt="$(cat "$probe_dir/last_checkpoint")"
        stage "test, $stream stream: multi-skeleton ensemble, predictions to $dump"
        rm -f "$dump"
        run "$WORK_DIR/logs/test_$stream.log" \
            "$PYTHON" "$REPO/tools/test.py" "$config" "$ckpt" --work-dir "$probe_dir" \
            --dump "$dump" "${opts[@]}"
        echo "$ckpt" > "$probe_dir/DONE"
    fi
    DUMPS+=("$stream=$dump")
done

# ------------------------------------------------------------------------------ report
stage "report: each format, the ensemble$([ "${#DUMPS[@]}" -gt 1 ] && echo ', the fusion of the streams')"
"$PYTHON" "$REPO/tools/analysis/report.py" --dumps "${DUMPS[@]}" \
    --out-dir "$WORK_DIR/report" --epoch-kind last
echo
echo "==> done in $(($SECONDS - START)) s; report in $WORK_DIR/report/report.md"
