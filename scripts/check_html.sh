#!/usr/bin/env bash
# Open xray's attention page in headless Chromium with the network off and check
# that it renders: its script ran (token spans and a drawn canvas in the DOM) and
# a screenshot is not blank. Usage: scripts/check_html.sh [figures/attn.html]
set -euo pipefail
page="${1:-figures/attn.html}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "check_html: SKIPPED: chromium is not installed (apt-get install chromium)"
  exit 0
fi
[ -f "$page" ] || { echo "check_html: $page does not exist; run: xray attn --html" >&2; exit 1; }
page="$(realpath "$page")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# No proxy anywhere and background networking off: the page must work offline.
flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --disable-quic --proxy-server=127.0.0.1:9
  --proxy-bypass-list='<-loopback>' --user-data-dir="$work/profile" --window-size=1400,900)
"$browser" "${flags[@]}" --virtual-time-budget=3000 --dump-dom "file://$page" > "$work/dom.html" 2> "$work/stderr.log"
spans=$({ grep -o '<span style="background' "$work/dom.html" || true; } | wc -l)
options=$({ grep -o '<option value=' "$work/dom.html" || true; } | wc -l)
entropy=$({ grep -o '<td [cs]' "$work/dom.html" || true; } | wc -l)
methods=$(grep -c '<option value="integrated"' "$work/dom.html" || true)
# The heatmap's column labels (named in the canvas's aria-label) and the hover
# line, which shows the strongest cell until the pointer moves.
columns=$(grep -c 'aria-label="attention heatmap; columns (keys): ' "$work/dom.html" || true)
hover=$(grep -c 'id="hover">strongest cell: query ' "$work/dom.html" || true)
# Head cards, when the page was written with the faithfulness measurement.
cards=$(grep -c '<div class="card">' "$work/dom.html" || true)
wanted_cards=0
grep -q '"heads":\[{' "$page" && wanted_cards=1
# The slider of the heads forming, when the run measured its heads in training.
forming=$(grep -c '<table class="reads">' "$work/dom.html" || true)
wanted_forming=0
grep -q '"forming":{"points"' "$page" && wanted_forming=1
# Pages written before the column labels and the hover (no window_positions in
# their data) are checked as they were.
wanted_labels=1
grep -q '"window_positions":' "$page" || wanted_labels=0
"$browser" "${flags[@]}" --virtual-time-budget=3000 --screenshot="$work/shot.png" "file://$page" 2>> "$work/stderr.log"
bytes=$(stat -c %s "$work/shot.png")
echo "check_html: $spans highlighted tokens, $options menu options, $entropy head-entropy cells, column labels $columns, hover $hover, $cards head cards, forming $forming, screenshot $bytes bytes"
# A blank 1400x900 page compresses to a few KB; the heatmap alone is far larger.
if [ "$spans" -lt 3 ] || [ "$options" -lt 3 ] || [ "$entropy" -lt 2 ] || [ "$methods" -lt 1 ] \
  || [ "$columns" -lt "$wanted_labels" ] || [ "$hover" -lt "$wanted_labels" ] || [ "$cards" -lt "$wanted_cards" ] || [ "$forming" -lt "$wanted_forming" ] \
  || [ "$bytes" -lt 20000 ]; then
  echo "check_html: FAILED: the page did not render offline (see $work/stderr.log)" >&2
  cat "$work/stderr.log" >&2
  exit 1
fi
cp "$work/shot.png" "${2:-/tmp/attn_html_screenshot.png}"
echo "check_html: ok (screenshot in ${2:-/tmp/attn_html_screenshot.png})"
