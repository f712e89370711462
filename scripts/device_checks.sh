#!/usr/bin/env bash
# Run ON THE GPU DEVICE (after scripts/device_prepare.sh here), from the repository root, e.g. through the
# device tool: command "bash scripts/device_checks.sh", carry [".whl", ".gl"], timeout_s 540.
# Uses the device image's own python3/torch/triton; installs only the carried wheels, into /tmp/amdeps.
# Writes every log to $OUT: the CUDA tests, the ActionBench evaluator benchmark (issue 6) and the per-stage
# benchmark at the official model sizes with random weights.
set -uo pipefail
OUT="${OUT:-/tmp/actionmesh-device}"
mkdir -p "$OUT"
for deb in .gl/*.deb; do dpkg -x "$deb" /; done
ldconfig
vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json  # EGL on the NVIDIA driver, not llvmpipe
[ -f "$vendor" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$vendor"
python3 -m pip install -q --no-index --no-deps --target /tmp/amdeps .whl/*.whl
export PYTHONPATH="$PWD:/tmp/amdeps" PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; python3 -c "import torch; print('torch', torch.__version__)"; } | tee "$OUT/machine.txt"
status=0
python3 -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py \
  tests/test_geometry_extraction.py::test_cuda_field_gives_the_cpu_mesh 2>&1 | tee "$OUT/gpu_tests.txt" || status=1
timeout 150 python3 scripts/bench_eval.py --device cuda 2>&1 | tee "$OUT/bench_eval.txt" || status=1
timeout 200 python3 -c "from actionmesh_core.cli import main; raise SystemExit(main(['bench', '--size', 'full', \
  '--device', 'cuda']))" 2>&1 | tee "$OUT/bench_full.txt" || status=1
exit $status
