#!/usr/bin/env bash
# The CUDA build, `cargo build --release --features cuda`, on a machine without a
# GPU or a CUDA toolkit: NVIDIA's compiler, headers and libraries come
# from PyPI (scripts/cuda-requirements.txt, pinned), and the driver library
# libcuda, which only a GPU machine has, is linked against a stub built here from
# cudarc's own list of driver functions. At run time the real libcuda.so.1 (the
# stub's soname) is loaded. The result is target/cuda/release/xray; a separate
# target dir keeps the CPU build's cache. CUDA_COMPUTE_CAP picks the kernels'
# architecture (80: A100, 86: RTX 30xx, 89: L4 / RTX 40xx, 90: H100 / H200).
# Usage: scripts/cuda_build.sh [extra cargo args, e.g. --tests]. Exits 3 when the
# wheels cannot be installed (no PyPI), so that CI can skip, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${CUDA_VENV:-target/cuda-venv}
# (Re)installed when the pins change: the venv keeps a copy of what it holds.
if ! cmp -s scripts/cuda-requirements.txt "$venv/installed.txt"; then
  if ! { python3 -m venv "$venv" \
      && "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/cuda-requirements.txt; }; then
    echo "error: could not install the CUDA wheels of scripts/cuda-requirements.txt from PyPI" >&2
    exit 3
  fi
  cp scripts/cuda-requirements.txt "$venv/installed.txt"
fi
root=$(cd "$venv" && echo "$PWD"/lib/python3*/site-packages/nvidia/cu13)
[ -x "$root/bin/nvcc" ] || { echo "error: no nvcc under $root: remove $venv and rerun" >&2; exit 1; }

# The linker wants libX.so; the wheels ship only libX.so.N.
for lib in "$root"/lib/lib*.so.*; do
  base=$(basename "$lib"); ln -sf "$base" "$root/lib/${base%%.so.*}.so"
done

# The driver stub: every cu* function cudarc declares, as an empty symbol.
cudarc=$(cargo metadata --format-version 1 --locked --features cuda 2>/dev/null \
  | python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="cudarc").rsplit("/",1)[0])')
mkdir -p "$root/lib/stubs"
grep -o 'fn cu[A-Za-z0-9_]*(' "$cudarc/src/driver/sys/mod.rs" | sort -u \
  | sed 's/^fn \(.*\)($/void \1(void) {}/' > "$root/lib/stubs/cuda_stub.c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/stubs/libcuda.so" "$root/lib/stubs/cuda_stub.c"

export PATH="$root/bin:$PATH" CUDA_ROOT="$root"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-80} CUDARC_CUDA_VERSION=13040
cargo build --release --locked --features cuda --target-dir target/cuda "$@"
echo "built target/cuda/release/xray (CUDA 13.4, compute capability $CUDA_COMPUTE_CAP)"
