#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build with CUDA, then check that
# a GPU run computes what a CPU run computes and time it against the brief's
# "< 2 min per epoch". Writes gpu-check/ (logs, metrics, a summary).
#   1. scripts/cuda_build.sh (CUDA 13.4 from PyPI; CUDA_COMPUTE_CAP=90 for H100/H200);
#   2. the same short training (--limit 2000) on --device cpu and --device cuda:
#      validation and test metrics within 1e-3;
#   3. the brief's profiler on the GPU: xray profile --device cuda --seq-len 256,
#      inference and --train;
#   4. one default IMDb epoch on the GPU, its wall time.
# Usage: CUDA_COMPUTE_CAP=90 scripts/gpu_check.sh [--skip-epoch]
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,compute_cap,memory.total --format=csv,noheader \
  || { echo "error: nvidia-smi found no GPU: this check needs one" >&2; exit 1; }
if [ -d ../shared/data/hf ]; then
  export HF_HOME="${HF_HOME:-$(realpath ../shared/data/hf)}" HF_HUB_OFFLINE=1
fi
CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)}
export CUDA_COMPUTE_CAP
scripts/cuda_build.sh
# cuBLAS, cuRAND and the runtime come from the wheels; libcuda.so.1 is the driver's.
venv=${CUDA_VENV:-target/cuda-venv}
LD_LIBRARY_PATH="$(cd "$venv" && echo "$PWD"/lib/python3*/site-packages/nvidia/cu13/lib):${LD_LIBRARY_PATH:-}"
export LD_LIBRARY_PATH
xray=target/cuda/release/xray
out=gpu-check
rm -rf "$out" && mkdir -p "$out"

for dev in cpu cuda; do
  echo "== short training on $dev"
  /usr/bin/time -v -o "$out/short-$dev.time" "$xray" train --dataset imdb --limit 2000 \
    --device "$dev" --name "short-$dev" --out "$out/$dev" | tee "$out/short-$dev.log"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
m = {d: json.load(open(f"{out}/{d}/metrics/final_metrics.json")) for d in ("cpu", "cuda")}
diff = {k: abs(m["cpu"][k] - m["cuda"][k]) for k in ("val_loss", "test_accuracy", "test_f1")}
print("cpu vs cuda:", json.dumps(diff))
assert all(v <= 1e-3 for v in diff.values()), f"the GPU run differs from the CPU run by more than 1e-3: {diff}"
PY

echo "== profile on cuda"
"$xray" profile --device cuda --seq-len 256 | tee "$out/profile-inference.json"
"$xray" profile --device cuda --seq-len 256 --train | tee "$out/profile-train.json"

if [ "${1:-}" != "--skip-epoch" ]; then
  echo "== one default IMDb epoch on cuda"
  /usr/bin/time -v -o "$out/epoch.time" "$xray" train --dataset imdb --device cuda \
    --name epoch-cuda --out "$out/epoch" | tee "$out/epoch.log"
  grep -E "Elapsed|Maximum resident" "$out/epoch.time"
fi
nvidia-smi --query-gpu=name --format=csv,noheader > "$out/gpu.txt"
echo "gpu check passed on $(cat "$out/gpu.txt"); logs in $out/"
