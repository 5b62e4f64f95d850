#!/usr/bin/env bash
# Every committed artifact from one default run (`make artifacts`):
#   1. the main job, `xray train --dataset imdb`: runs/NAME, metrics/final_metrics.json,
#      metrics/run_summary.json, metrics/history.jsonl, figures/curves.png,
#      figures/heads_over_training.png;
#   2. its X-ray: figures/attn_*, figures/attn.html, figures/faithfulness.png,
#      figures/heads.png, metrics/faithfulness.json, the mask comparisons and minimal
#      pairs; then its test texts by length: figures/accuracy_by_length.png and the
#      rows in metrics/run_summary.json;
#   3. notebooks/walkthrough.ipynb executed against that run, outputs saved;
#   4. the video in English and Spanish (video/xray.mp4, video/xray_es.mp4) and
#      video/stills.png, three of its frames;
#   5. metrics/provenance.json: the run, commit, CPU and date all of them came from,
#      and the main job's wall time (its peak memory is the run's own measurement, in
#      metrics/run_summary.json); then README's results table from them.
# About 20 minutes on 2 cores (Zen 4), one step after the other; run it on a quiet machine
# (its wall time is the main job's measurement). ARGS="--limit 300" rehearses it in
# a few minutes (then do not commit what it wrote).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d ../shared/data/hf ]; then
  # Relative (every step runs from the project root), so that what the steps
  # print and the notebook saves names no one machine's folders.
  export HF_HOME="${HF_HOME:-../shared/data/hf}" HF_HUB_OFFLINE=1
fi
xray=target/release/xray
cargo build --release --locked
name="default-$(date -u +%Y%m%d-%H%M%S)"
# The code the run is made with: the commit now, and whether tracked files differ from it.
commit=$(git rev-parse HEAD)
dirty=$(git status --porcelain --untracked-files=no | head -c1)
run="runs/$name"
step() { echo "== $(date -u +%T) $*"; }

step "1/5 the main job: xray train --dataset imdb ${ARGS:-}"
# shellcheck disable=SC2086 # ARGS is a list of flags
/usr/bin/time -v -o target/artifacts-train.time "$xray" train --dataset imdb --name "$name" ${ARGS:-}

step "2/5 the X-ray of $run"
# The maps are named per layer: a default with fewer layers than the last one
# must not leave the old layers' maps behind.
rm -f figures/attn_*
"$xray" attn --run "$run" --example 3 --compare-causal --pairs --faithfulness 500 --html --json
"$xray" eval --run "$run" --by-length > target/artifacts-by-length.json

step "3/5 the notebook against $run"
# The Makefile's target (its venv and pinned nbclient), pointed at this run.
XRAY_RUN="$run" make notebook

step "4/5 the video, English and Spanish"
# English last: both write video/script.md, and the committed script is the English one.
"$xray" video --voice --lang es --out video/xray_es.mp4
"$xray" video --voice --lang en --out video/xray.mp4
# Three frames of the English video side by side, for the docs.
ffmpeg -loglevel error -y -ss 10 -i video/xray.mp4 -vf "fps=1/65,scale=640:-1,tile=3x1" \
  -frames:v 1 video/stills.png

step "5/5 metrics/provenance.json"
python3 - "$run" target/artifacts-train.time "${ARGS:-}" "$commit" "$dirty" <<'EOF'
import json, re, sys, datetime
run, time_file, args, commit, dirty = sys.argv[1:]
times = open(time_file).read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", times).group(1)
cpuinfo = open("/proc/cpuinfo").read()
field = lambda name: re.search(rf"^{name}\s*: (.*)$", cpuinfo, re.M).group(1).strip()
model = f"{field('model name')} (family {field('cpu family')}, model {field('model')})"
flags = field("flags").split()
provenance = {
    "run": run,
    "command": f"xray train --dataset imdb {args}".strip(),
    "commit": commit,
    "uncommitted_changes": bool(dirty),
    "cpu": model,
    "cpu_features": [f for f in ("avx2", "avx512f", "amx_tile") if f in flags],
    "cores": len(re.findall(r"^processor", cpuinfo, re.M)),
    "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "main_job_wall": wall,
    "made_by": "make artifacts (scripts/artifacts.sh)",
}
json.dump(provenance, open("metrics/provenance.json", "w"), indent=2)
print(json.dumps(provenance, indent=2))
EOF
# README's results table, rendered from the metrics just written.
python3 scripts/check_numbers.py --write
