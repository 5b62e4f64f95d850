#!/usr/bin/env python3
"""Print one markdown row of docs/attention-recipes.md's short-text table for a
run folder that `xray eval --by-length` has scored (its run_summary.json holds
the rows), with the temperature fitted after training when the run has one.

usage: scripts/length_row.py RUN_DIR "train flags"
"""
import json
import pathlib
import sys


def main():
    run, flags = pathlib.Path(sys.argv[1]), sys.argv[2]
    summary = json.loads((run / "run_summary.json").read_text())
    rows = summary["by_length"]["rows"]

    def at(cut, k=None):
        return next(r for r in rows if r["cut"] == cut and r["tokens"] == k)

    def cell(r):
        return f'{r["accuracy"]:.3f} / {r["loss"]:.3f} / {r["ece"]:.3f}'

    calibration = summary.get("calibration") or []
    temperature = (
        f'{calibration[0]["temperature"]:.3f} (val NLL {calibration[0]["nll_before"]:.4f} → '
        f'{calibration[0]["nll_after"]:.4f})'
        if calibration
        else "– (trained before calibration)"
    )
    # Whether the rows were scored through a temperature: eval reports it.
    served = summary["by_length"].get("temperature", 1.0)
    cells = [
        f"`{flags or '(default)'}`",
        cell(at("first", 8)),
        cell(at("first", 16)),
        cell(at("span", 16)),
        cell(at("first", 64)),
        cell(at("full")),
        f"{served:.3f}",
        temperature,
    ]
    print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
