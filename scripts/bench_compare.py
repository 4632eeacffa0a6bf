#!/usr/bin/env python3
"""Run one benchmark script against two source trees, alternately, and print both medians.

Each round runs the tree's own copy of the script (``TREE/scripts/SCRIPT``) with that tree first
on ``PYTHONPATH`` and as the working directory, old then new, then new then old the next round,
so a noisy machine weighs on both alike. Every figure the script prints is then the median over
the rounds: each output line is printed once per tree with its numbers replaced by their medians
(a line is matched across rounds by its text without numbers and its place among such lines).

    python scripts/bench_compare.py --old ../wt-old --new . [--rounds 3] bench_promote.py --runs 3 --sites 1000
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")  # 1,000 is one number


def run_once(tree: Path, script: str, args: list[str]) -> str:
    """The script's standard output, run from ``tree`` with ``tree`` first on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{os.environ.get('PYTHONPATH', '')}".rstrip(os.pathsep)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(tree / "scripts" / script), *args], cwd=tree, env=env, capture_output=True, text=True, check=False)
    print(f"# {tree}: {script} exited {proc.returncode} after {time.perf_counter() - start:.0f}s", file=sys.stderr, flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}/scripts/{script} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc.stdout


def keyed(output: str) -> list[tuple[tuple[str, int], str, list[float]]]:
    """Each line as (its text without numbers and its place among equal ones, the line, its numbers)."""
    seen: Counter[str] = Counter()
    out = []
    for line in output.splitlines():
        shape = _NUMBER.sub("#", line)
        out.append(((shape, seen[shape]), line, [float(n.replace(",", "")) for n in _NUMBER.findall(line)]))
        seen[shape] += 1
    return out


def medians(outputs: list[str]) -> list[str]:
    """The first round's lines with every number replaced by its median over the rounds."""
    rounds = [{key: numbers for key, _, numbers in keyed(output)} for output in outputs]
    lines = []
    for key, line, numbers in keyed(outputs[0]):
        columns = [r[key] for r in rounds if key in r and len(r[key]) == len(numbers)]
        values = iter([statistics.median(column) for column in zip(*columns, strict=True)])
        lines.append(_NUMBER.sub(lambda m, values=values: _like(m.group(), next(values)), line))
    return lines


def _like(original: str, value: float) -> str:
    """``value`` written as ``original`` was (its decimals, its thousands separator); ``original`` itself when equal."""
    if float(original.replace(",", "")) == value:
        return original
    decimals = len(original.partition(".")[2])
    return f"{value:,.{decimals}f}" if "," in original else f"{value:.{decimals}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="the source tree to compare against")
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=1, help="runs of the script per tree, alternating")
    parser.add_argument("script", help="a script under TREE/scripts/, e.g. bench_promote.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    opts = parser.parse_args()
    trees = {"old": opts.old.resolve(), "new": opts.new.resolve()}
    outputs: dict[str, list[str]] = {"old": [], "new": []}
    for n in range(opts.rounds):
        for name in ("old", "new") if n % 2 == 0 else ("new", "old"):
            outputs[name].append(run_once(trees[name], opts.script, opts.args))
    print(f"{opts.script} {' '.join(opts.args)}: medians of {opts.rounds} round(s) per tree, alternating")
    for name in ("old", "new"):
        print(f"\n== {name}: {trees[name]}")
        print("\n".join(medians(outputs[name])))


if __name__ == "__main__":
    main()
