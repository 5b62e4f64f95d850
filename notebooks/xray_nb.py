"""Display helpers for walkthrough.ipynb.

They run the xray binary, cut Rust items out of src/ and draw small matrices as
HTML tables. None of them computes anything about the model: every number the
notebook shows comes from xray itself (mostly `xray inspect`, which prints one
real batch through a trained run as JSON).
"""

import html
import json
import os
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def binary():
    """$XRAY_BIN (the Docker image sets it), else the release build, else `xray`
    on PATH."""
    chosen = os.environ.get("XRAY_BIN")
    if chosen:
        return chosen
    built = pathlib.Path("target", "release", "xray")
    if (ROOT / built).is_file():
        # Relative to ROOT, where every call runs it (cwd=ROOT): the path the
        # notebook prints then names no one machine's folders.
        return str(built)
    found = shutil.which("xray")
    if found:
        return found
    raise FileNotFoundError(
        "no xray binary: build it with `cargo build --release` in "
        f"{ROOT}, or open the notebook in the Docker image (`make jupyter`)"
    )


def xray(*args):
    """Run `xray ARGS`, printing its output as it comes; raise if it fails."""
    words = [str(a) for a in args]
    print("$ xray", " ".join(words), flush=True)
    proc = subprocess.Popen(
        [binary(), *words],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        print(line.rstrip("\n").split("\r")[-1], flush=True)
    if proc.wait() != 0:
        raise RuntimeError(f"xray {' '.join(words)} exited with {proc.returncode}")


def xray_json(*args):
    """Run `xray ARGS` and parse what it prints as JSON."""
    words = [str(a) for a in args]
    done = subprocess.run(
        [binary(), *words], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"xray {' '.join(words)} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def read_json(path):
    return json.loads((ROOT / path).read_text())


def rust_item(path, needle, nth=1):
    """The Rust item whose first line contains `needle` (its `nth` occurrence),
    with the doc comments above it, up to the brace that closes it. Raises when
    the item is gone, so the notebook fails instead of showing stale code."""
    lines = (ROOT / path).read_text().splitlines()
    hits = [i for i, line in enumerate(lines) if needle in line]
    if len(hits) < nth:
        raise LookupError(f"{needle!r} not found {nth} time(s) in {path}")
    start = end = hits[nth - 1]
    while start > 0 and lines[start - 1].strip().startswith(("///", "#[")):
        start -= 1
    depth, opened = 0, False
    for end in range(hits[nth - 1], len(lines)):
        depth += lines[end].count("{") - lines[end].count("}")
        opened = opened or "{" in lines[end]
        if (opened and depth == 0) or (not opened and lines[end].rstrip().endswith(";")):
            break
    return start + 1, end + 1, "\n".join(lines[start : end + 1])


def show_rust(path, *needles):
    """Display items of one source file as they are in the tree right now."""
    from IPython.display import Markdown, display

    for needle in needles:
        first, last, code = rust_item(path, needle)
        display(Markdown(f"`{path}`, lines {first}–{last}:\n\n```rust\n{code}\n```"))


def _cell(text, background, colour="#000"):
    return (
        f'<td style="background:{background};color:{colour};padding:1px 4px;'
        f'text-align:center;font:11px monospace">{html.escape(str(text))}</td>'
    )


def _table(rows, row_labels, col_labels, title):
    head = "".join(
        f'<th style="font:10px monospace;writing-mode:vertical-rl;padding:1px">'
        f"{html.escape(c)}</th>"
        for c in col_labels
    )
    body = "".join(
        f'<tr><th style="font:10px monospace;text-align:right;padding-right:4px">'
        f"{html.escape(r)}</th>{''.join(cells)}</tr>"
        for r, cells in zip(row_labels, rows)
    )
    return (
        f'<div style="display:inline-block;vertical-align:top;margin:0 18px 12px 0">'
        f'<div style="font:bold 12px sans-serif;margin-bottom:4px">{html.escape(title)}</div>'
        f'<table style="border-collapse:collapse"><tr><th></th>{head}</tr>{body}</table></div>'
    )


def batch_table(batch):
    """A collated batch turned on its side: one row per position and, for each
    text, its token, its input_id and its attention_mask; [PAD] greyed."""
    n = len(batch["input_ids"])
    head = "".join(
        f'<th colspan="3" style="font:bold 11px sans-serif;padding:2px 8px">text {i}</th>'
        for i in range(n)
    )
    sub = '<th style="font:10px monospace">pos</th>' + "<th style='font:10px monospace'>token</th>"\
        "<th style='font:10px monospace'>input_ids</th><th style='font:10px monospace'>mask</th>" * n
    rows = []
    for j in range(len(batch["input_ids"][0])):
        cells = [f'<th style="font:10px monospace;padding:0 4px">{j}</th>']
        for i in range(n):
            real = batch["attention_mask"][i][j]
            token = batch["tokens"][i][j] if real else "[PAD]"
            shade = ("#fff", "#000") if real else ("#e0e0e0", "#999")
            cells += [
                _cell(token, *shade),
                _cell(batch["input_ids"][i][j], *shade),
                _cell(real, "#c8e6c9" if real else "#e0e0e0", "#000" if real else "#999"),
            ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<table style="border-collapse:collapse"><tr><th></th>'
        f"{head}</tr><tr>{sub}</tr>{''.join(rows)}</table>"
    )


def token_strip(tokens, ids):
    """One text as WordPiece tokens, each with its id underneath."""
    spans = "".join(
        '<span style="display:inline-block;margin:2px;padding:2px 4px;border:1px solid #ccc;'
        f'text-align:center;font:12px monospace">{html.escape(t)}<br>'
        f'<span style="color:#1565c0;font-size:10px">{i}</span></span>'
        for t, i in zip(tokens, ids)
    )
    return f"<div>{spans}</div>"


def bias_table(bias, tokens, title):
    """An additive mask (L, L): 0 (may look) light, MASK_FILL (may not) dark."""
    rows = [
        [_cell("0", "#e8f5e9") if v == 0 else _cell("−1e9", "#37474f", "#fff") for v in row]
        for row in bias
    ]
    return _table(rows, tokens, tokens, title)


def weights_table(weights, tokens, title):
    """Attention weights (L, L), rows summing to 1: darker is more weight."""
    top = max(max(row) for row in weights) or 1.0
    rows = [
        [
            _cell(f"{w:.2f}", f"rgba(21,101,192,{w / top:.3f})", "#fff" if w / top > 0.5 else "#000")
            for w in row
        ]
        for row in weights
    ]
    return _table(rows, tokens, tokens, title)


def side_by_side(*tables):
    from IPython.display import HTML, display

    display(HTML("".join(tables)))


def run_dir(quick):
    """The run the X-ray cells inspect: $XRAY_RUN when set (the committed
    notebook was executed against the real default run), else the quick run."""
    return pathlib.Path(os.environ.get("XRAY_RUN", quick))
