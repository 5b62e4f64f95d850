#!/usr/bin/env bash
# xray against the PyTorch peer (../shared/peers/torch_ref), side by side on this
# machine: the identical model (vocab 30522, d_model 256, 4 heads, ffn 1024,
# 2 layers), batch 16, seq 256; inference by the brief's protocol and training
# steps with the last 30% of every row padded; at 1 and 2 threads, the two
# programs alternating, ROUNDS times. Prints tokens/s and the xray/PyTorch ratios
# (best round of each), and writes every raw JSON to target/bench/.
#
#   scripts/compare.sh                 # or: make bench
#   ROUNDS=3 THREADS="2" scripts/compare.sh
#   PEAK_GFLOPS_PER_CORE=250 scripts/compare.sh   # the core's f32 peak, if /proc/cpuinfo's clock is not it
#
# Benchmark on a quiet machine: any other process, even niced, wrecks 2-thread
# timings. The peer's venv is built on first use (PyPI's torch is ~5.8 GB).
set -euo pipefail
cd "$(dirname "$0")/.."

PEER=${PEER:-../shared/peers/torch_ref}
VENV=${TORCH_VENV:-/tmp/torchvenv}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-"1 2"}
INFER_STEPS=${INFER_STEPS:-50}
TRAIN_STEPS=${TRAIN_STEPS:-20}
OUT=target/bench
mkdir -p "$OUT"

if [ ! -f "$PEER/bench.py" ]; then
  echo "error: the PyTorch peer is not at $PEER; set PEER=path/to/torch_ref" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "setting up the peer's venv in $VENV (torch from PyPI, several GB)..."
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$PEER/requirements.txt"
fi
cargo build --release --locked
XRAY=target/release/xray
PEER_ABS=$(cd "$PEER" && pwd)

for round in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    echo "round $round, $t thread(s): PyTorch..."
    (cd "$PEER_ABS" && "$VENV/bin/python" bench.py --threads "$t" --seq-lens 256 \
      --iters "$INFER_STEPS" --train-iters "$TRAIN_STEPS") > "$OUT/torch_t${t}_r${round}.json"
    echo "round $round, $t thread(s): xray..."
    "$XRAY" profile --threads "$t" --seq-len 256 --batch-size 16 --steps "$INFER_STEPS" \
      > "$OUT/xray_infer_t${t}_r${round}.json"
    "$XRAY" profile --threads "$t" --seq-len 256 --batch-size 16 --steps "$TRAIN_STEPS" --train \
      > "$OUT/xray_train_t${t}_r${round}.json"
  done
done

"$VENV/bin/python" - "$OUT" "$ROUNDS" "$THREADS" "${PEAK_GFLOPS_PER_CORE:-}" <<'PY'
import json, sys
out, rounds, threads, peak_arg = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
load = lambda name: json.load(open(f"{out}/{name}"))
# Matmul FLOPs per token of the benchmarked model (padded positions are computed
# too): per layer 4 projections 2·D² each, the FFN 2·2·D·4D, and the two attention
# matmuls 2·2·L·D; forward only. A training step costs 3x a forward.
D, L, LAYERS = 256, 256, 2
FWD = LAYERS * (8 * D * D + 16 * D * D + 4 * L * D)
# f32 peak per core: PEAK_GFLOPS_PER_CORE if set, else 64 FLOP/cycle (AVX-512 with
# two FMA units; 32 with AVX2) at the clock /proc/cpuinfo reports.
cpuinfo = open("/proc/cpuinfo").read()
field = lambda key: next(l.split(":", 1)[1].strip() for l in cpuinfo.splitlines() if l.startswith(key))
flop_per_cycle = 64 if " avx512f" in cpuinfo else 32
PEAK_PER_CORE = float(peak_arg) if peak_arg else flop_per_cycle * float(field("cpu MHz")) / 1000
print(f"\n{field('model name')}: peak taken as {PEAK_PER_CORE:.0f} GFLOP/s per core"
      + ("" if peak_arg else f" ({flop_per_cycle} f32 FLOP/cycle at {field('cpu MHz')} MHz)"))
rows = []
print(f"\n{'threads':>7} {'pass':>9} {'PyTorch tok/s':>14} {'xray tok/s':>11} {'xray/PyTorch':>13}"
      f" {'PyTorch GFLOP/s':>16} {'xray GFLOP/s':>13}")
for t in threads:
    rs = range(1, rounds + 1)
    torch = [load(f"torch_t{t}_r{r}.json") for r in rs]
    best = {
        "inference": (max(x["forward"][0]["tokens_per_s"] for x in torch),
                      max(load(f"xray_infer_t{t}_r{r}.json")["tokens_per_s"] for r in rs)),
        # Both count every position of the batch, padded ones included.
        "training": (max(x["train_step"]["tokens_per_s"] for x in torch),
                     max(load(f"xray_train_t{t}_r{r}.json")["tokens_per_s"] for r in rs)),
    }
    peak = PEAK_PER_CORE * int(t)
    for name, (pt, xr) in best.items():
        flop = FWD * (3 if name == "training" else 1) / 1e9
        print(f"{t:>7} {name:>9} {pt:>14,.0f} {xr:>11,.0f} {xr / pt:>12.2f}x"
              f" {pt * flop:>9.0f} ({pt * flop / peak:.0%}) {xr * flop:>6.0f} ({xr * flop / peak:.0%})")
        rows.append({"threads": int(t), "pass": name, "torch_tokens_per_s": pt,
                     "xray_tokens_per_s": xr, "ratio": xr / pt,
                     "torch_gflops": pt * flop, "xray_gflops": xr * flop})
json.dump(rows, open(f"{out}/compare.json", "w"), indent=2)
print(f"\nraw JSON and compare.json in {out}/")
PY
