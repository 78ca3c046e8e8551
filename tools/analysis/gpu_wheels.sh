#!/usr/bin/env bash
# The wheels gpu_suite.sh installs on the device machine, fetched here into .whl/ (gitignored).
#
#   bash tools/analysis/gpu_wheels.sh        # then run the device call with carry=['.whl']
#
# The device image (Python 3.12, torch with CUDA, no package index) lacks mmengine,
# mmcv-lite, mmaction2 and a few of their small dependencies; all are pure-Python wheels
# (about 2.4 MB), at the versions this project pins and tests (setup.py, DESIGN § Stack).
# Prepare them before the device call: on the device they cost nothing to carry and
# seconds to install (gpu_suite.sh installs .whl/*.whl into /tmp/site first).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${PYV:-3.12}" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl \
    mmengine==0.10.7 mmcv-lite==2.1.0 mmaction2==1.2.0 addict==2.4.0 yapf==0.43.0 \
    termcolor==3.3.0 platformdirs==4.14.9
ls .whl/*.whl
