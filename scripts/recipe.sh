#!/usr/bin/env bash
# One row of docs/attention-recipes.md: train a recipe on IMDb with the default
# command plus FLAGS, X-ray it on 500 validation reviews, append its row to
# scratch/recipes/rows.md. Runs live under scratch/recipes/NAME (git-ignored).
# Usage: scripts/recipe.sh NAME [xray train flags...]. One at a time, on a quiet
# machine: the row records the training time. XRAY=path/to/xray runs another
# build (one frozen before a change of defaults, for a queue of rows).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/recipe.sh NAME [xray train flags...]" >&2; exit 2; }
name=$1; shift
root=scratch/recipes/$name
xray=${XRAY:-target/release/xray}
[ -x "$xray" ] || { echo "build first: cargo build --release" >&2; exit 1; }
if [ -d ../shared/data/hf ]; then
  export HF_HOME="${HF_HOME:-$(realpath ../shared/data/hf)}" HF_HUB_OFFLINE=1
fi
mkdir -p "$root"
/usr/bin/time -v -o "$root/train.time" \
  "$xray" train --dataset imdb --name "$name" --out "$root" "$@" > "$root/train.log" 2>&1
"$xray" attn --run "$root/runs/$name" --out "$root" --faithfulness 500 --example 3 \
  > "$root/attn.log" 2>&1
python3 scripts/recipe_row.py "$root/runs/$name" "$root/train.time" "$*" | tee -a scratch/recipes/rows.md
