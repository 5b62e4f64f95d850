#!/usr/bin/env python3
"""README's results table is rendered from the committed metrics, so the two
cannot disagree: this renders it again and fails when README's copy differs.

usage: scripts/check_numbers.py [--root DIR] [--write] [--paths]
  --write  rewrite README's table from metrics/ instead of checking it
  --paths  also fail on committed text that names a machine's absolute path to
           a binary, a data cache or a run folder, or a scratch/ path
Exit 0 when everything agrees, 1 with one line per disagreement.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

BEGIN = "<!-- results-table: rendered by scripts/check_numbers.py --write -->"
END = "<!-- results-table: end -->"


def load(root, name):
    return json.loads((root / "metrics" / name).read_text())


def best_reading_head(heads):
    """Of the heads whose role is reading, the one whose top-5 keys receive the
    most weight (attn::faithfulness::Faithfulness::reading_head, the same rule);
    files written before roles: those whose top keys are the evidence at least
    half the time."""
    if all("role" in h for h in heads):
        reading = [h for h in heads if h["role"] == "reading"]
    else:
        reading = [h for h in heads if h["precision_at_5"] >= 0.5]
    reading = reading or heads
    h = max(reading, key=lambda h: h["top5_x_uniform"])
    words = ", ".join(f'"{w}"' for w, _ in h.get("top_keys", [])[:3])
    return (
        f"layer {h['layer']}, head {h['head']}: {h['top5_x_uniform']:.1f}x uniform on its "
        f"5 top keys ({words}), evidence by IG {100 * h['precision_at_5']:.0f}% of the time"
    )


def entropy_ranges(heads):
    layers = sorted({h["layer"] for h in heads})
    spans = []
    for layer in layers:
        e = [h["entropy"] for h in heads if h["layer"] == layer]
        spans.append(f"{min(e):.2f}–{max(e):.2f}")
    return " / ".join(spans)


def render(root):
    final = load(root, "final_metrics.json")
    summary = load(root, "run_summary.json")
    provenance = load(root, "provenance.json")
    faithfulness = load(root, "faithfulness.json")
    last = summary["history"][-1]
    heads = faithfulness["heads"]
    wall = provenance["main_job_wall"].split(".")[0]
    row = [
        f"{final['val_loss']:.4f} / {last['val_acc']:.4f}",
        f"{final['test_accuracy']:.4f} / {final['test_f1']:.4f}",
        f"{summary['train_seconds']:.0f} s, {summary['train_tokens_per_s']:,.0f} tok/s",
        wall,
        f"{summary['peak_rss_gb']:.2f} GB",
        entropy_ranges(heads),
        best_reading_head(heads),
    ]
    header = [
        "val loss (kept weights) / acc (epoch's end), whole split",
        "test acc / macro F1",
        "training",
        "main job wall",
        "peak RSS",
        "head entropy per layer (1 = uniform)",
        f"best reading head ({faithfulness['examples']} val reviews)",
    ]
    lines = [
        f"Run `{provenance['run']}`, commit `{provenance['commit'][:7]}`, "
        f"{provenance['cpu']}, {provenance['cores']} cores, {provenance['date_utc'][:10]} "
        f"(`metrics/provenance.json`):",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        "| " + " | ".join(row) + " |",
    ]
    return "\n".join(lines)


def table_problems(root, write):
    readme = root / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        return [f"README.md: no results table between {BEGIN!r} and {END!r}"]
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    new = "\n" + render(root) + "\n"
    if write:
        readme.write_text(head + BEGIN + new + END + tail)
        return []
    if old == new:
        return []
    problems = []
    for a, b in zip(old.strip().splitlines(), new.strip().splitlines()):
        if a != b:
            problems.append(f"README.md results table: {a!r}\n  metrics/ say: {b!r}")
    return problems or ["README.md results table: differs from metrics/ in length"]


# A machine's absolute path to a binary, a data cache or a run folder.
MACHINE_PATH = re.compile(
    r"(?<![\w.~])/(?:[\w.\-]+/)*?(?:target/(?:release|debug)/|runs/[\w.\-]+|"
    r"data/hf\b|\.cache/huggingface)"
)
SCRATCH = re.compile(r"(?<![\w\-])scratch/")
# Where the rule applies: what the project writes and publishes, not the
# scripts and ignore files that name a scratch folder on purpose.
PUBLISHED = ("README.md", "docs/", "metrics/", "figures/", "notebooks/", "video/")


def path_problems(root):
    files = subprocess.run(
        ["git", "ls-files", *PUBLISHED], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    problems = []
    for name in files:
        try:
            text = (root / name).read_text()
        except (UnicodeDecodeError, OSError):
            continue  # a figure, a video: not text
        for n, line in enumerate(text.splitlines(), 1):
            for rule in (MACHINE_PATH, SCRATCH):
                m = rule.search(line)
                if m:
                    problems.append(f"{name}:{n}: names {m.group(0)!r}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=pathlib.Path(__file__).resolve().parent.parent, type=pathlib.Path)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--paths", action="store_true")
    args = ap.parse_args()
    problems = table_problems(args.root, args.write)
    if args.paths:
        problems += path_problems(args.root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} disagreement(s); README's table: scripts/check_numbers.py --write")
        sys.exit(1)
    print("README's results table agrees with metrics/" + (", no machine paths" if args.paths else ""))


if __name__ == "__main__":
    main()
