#!/usr/bin/env python3
"""Print one markdown row of docs/attention-recipes.md for a run folder that
`xray attn --faithfulness 500` has X-rayed (its faithfulness.json carries the
head statistics).

usage: scripts/recipe_row.py RUN_DIR TIME_FILE "train flags"
TIME_FILE is GNU time -v's report of the training command (wall, peak RSS).
"""
import json
import pathlib
import re
import sys


def cpu():
    info = pathlib.Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", info).group(1).strip()
    family = re.search(r"cpu family\s*:\s*(\d+)", info).group(1)
    number = re.search(r"\nmodel\s*:\s*(\d+)", info).group(1)
    flags = re.search(r"flags\s*:\s*(.*)", info).group(1).split()
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    amx = ", AMX" if "amx_tile" in flags else ""
    return f"{model} (family {family} model {number}, {simd}{amx})"


def wall_and_rss(time_file):
    text = pathlib.Path(time_file).read_text()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", text).group(1).strip()
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return wall, rss_kb / 1024 / 1024


def main():
    run, time_file, flags = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    summary = json.loads((run / "run_summary.json").read_text())
    last = summary["history"][-1]
    faith = json.loads((run / "faithfulness.json").read_text())
    methods = {m["method"]: m for m in faith["methods"]}
    route_name = "pooling" if "pooling" in methods else "attention"
    at10 = faith["fractions"].index(0.1)
    heads = faith["heads"]
    layers = sorted({h["layer"] for h in heads})

    def per_layer(key, fmt):
        return " / ".join(
            ", ".join(fmt.format(h[key]) for h in heads if h["layer"] == layer)
            for layer in layers
        )

    readers = [h for h in heads if h["sink_share"] < 0.5]
    # The heads that read the evidence (precision >= 0.8) by weight; with none,
    # the closest to reading it (by precision), never a structure head by weight.
    def reading(h):
        reads = h["precision_at_5"] >= 0.8
        return (reads, h["top5_x_uniform"] if reads else h["precision_at_5"])

    best = max(readers, key=reading, default=None)
    best_text = "–"
    if best:
        keys = ", ".join(f'"{k}"' for k, _ in best["top_keys"][:3])
        best_text = (
            f'L{best["layer"]}H{best["head"]}: {best["precision_at_5"]:.2f} at '
            f'{best["top5_x_uniform"]:.1f}x ({keys})'
        )
    sinks = ", ".join(
        f'L{h["layer"]}H{h["head"]} ({h["sink_share"]:.0%})' for h in heads if h["sink_share"] >= 0.5
    ) or "none"
    route = faith["route"]
    route_tokens = ", ".join(f'"{t}"' for t, _ in route["top_tokens"][:3])
    wall, rss = wall_and_rss(time_file)
    cells = [
        f"`{flags or '(default)'}`",
        f'{last["val_loss"]:.4f} / {last["val_acc"]:.4f}',
        f'{summary["test_accuracy"]:.4f}',
        f'{summary["train_seconds"]:.0f} s, {summary["train_tokens_per_s"]:,.0f} tok/s',
        f"{wall}, {rss:.2f} GB",
        per_layer("entropy", "{:.2f}"),
        per_layer("top_x_uniform", "{:.1f}"),
        best_text,
        sinks,
        f'{route_name}: {route["top_x_uniform"]:.1f}x, evidence {route["top_is_evidence"]:.0%} ({route_tokens})',
        " / ".join(
            f'{methods[m]["comprehensiveness"][at10]:.3f}' for m in (route_name, "rollout", "random")
        ),
        " / ".join(f'{methods[m]["sufficiency_aopc"]:.3f}' for m in (route_name, "random")),
        cpu(),
    ]
    print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
