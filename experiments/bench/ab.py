"""Interleaved A/B of l1bench's own speed rows: this checkout against an earlier commit.

    python -m experiments.bench.ab --base 1d6cb8a                 # cases A-F, 2 rounds
    python -m experiments.bench.ab --base HEAD~3 --cases ABDF --rounds 3 --out /tmp/ab

checks the commit ``--base`` out into a temporary git worktree, then runs the speed suite's
l1bench rows only (``python -m experiments.bench --peers-from results/benchmarks.csv``, at the
suite's default sizes) alternately in the base checkout and in this one, ``--rounds`` times each,
one case at a time (base, head, base, head, ...), so both sides see the same machine load. Each
row's time is the median over the rounds of the suite's own median; the ratio is head / base
(above 1: this checkout is slower). Writes ``bench_ab.md`` and ``bench_ab.csv`` into ``--out``
(default ``results/``) with the machine, the load before and after, and the JAX backend.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from experiments.bench import common

ROOT = Path(__file__).resolve().parents[2]
KEY = ["case", "variant", "precision", "solver"]
SLOWER = 1.10  # a row more than 10% slower than the base fails the check


def _run_side(checkout: Path, case: str, out: Path, repeats: int | None) -> pd.DataFrame:
    """l1bench's rows of ``case``, run in ``checkout`` (its own package and bench code)."""
    peers = ROOT / "results" / "benchmarks.csv"
    cmd = [sys.executable, "-m", "experiments.bench", "--cases", case, "--out", str(out)]
    cmd += ["--peers-from", str(peers)]
    if repeats is not None:
        cmd += ["--repeats", str(repeats)]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    subprocess.run(cmd, cwd=checkout, env=env, check=True, stdout=subprocess.DEVNULL)
    table = pd.read_csv(out / "benchmarks.csv")
    return table[table.solver.str.startswith("l1bench")]


def compare(runs: pd.DataFrame) -> pd.DataFrame:
    """Median over rounds of each side's run time, per row, and the head / base ratio."""
    med = runs.groupby(KEY + ["side"]).run_s.median().unstack("side")
    med["ratio"] = med["head"] / med["base"]
    med["rounds"] = runs.groupby(KEY).run_s.size() // 2
    return med.reset_index()


def markdown(table: pd.DataFrame, info: dict, args, minutes: float) -> str:
    """The report: machine, load, backend, then one row per l1bench speed row."""
    lines = [
        "# Interleaved A/B of l1bench's speed rows",
        "",
        f"Command: `python -m experiments.bench.ab --base {args.base} --cases {args.cases} "
        f"--rounds {args.rounds}`; ran in {minutes:.1f} min. Base `{args.base_rev}`, head "
        f"`{args.head_rev}`{' (with uncommitted changes)' if args.dirty else ''}.",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores; JAX backend `{info['jax_backend']}` "
        f"({info['jax_devices']}); load average (1, 5, 15 min) at start {info['load']}, at end "
        f"{args.load_end}. Sides alternate case by case, so both see the same load.",
        "",
        "| case | variant | precision | base s | head s | head / base | rounds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        flag = " **(slower)**" if r.ratio > SLOWER else ""
        lines.append(
            f"| {r.case} | {r.variant} | {r.precision} | {r.base:.4g} | {r.head:.4g} | "
            f"{r.ratio:.3f}{flag} | {r.rounds} |"
        )
    worst = table.ratio.max()
    lines += [
        "",
        f"Worst ratio: {worst:.3f} (rows more than {SLOWER - 1:.0%} slower: "
        f"{int((table.ratio > SLOWER).sum())}).",
        "",
    ]
    return "\n".join(lines)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="the commit to compare against")
    ap.add_argument("--cases", default="ABCDEF", help="which cases of the suite, e.g. ABDF")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each side per case")
    ap.add_argument("--repeats", type=int, default=None, help="the suite's --repeats")
    ap.add_argument("--out", default=str(ROOT / "results"), help="directory for the two files")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    args.base_rev = _git("rev-parse", "--short", args.base)
    args.head_rev = _git("rev-parse", "--short", "HEAD")
    args.dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    info = common.machine()
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        _git("worktree", "add", "--detach", str(base), args.base_rev)
        try:
            for case in dict.fromkeys(args.cases.upper()):
                for r in range(args.rounds):
                    for side, checkout in (("base", base), ("head", ROOT)):
                        out = Path(tmp) / f"{side}-{case}-{r}"
                        part = _run_side(checkout, case, out, args.repeats)
                        rows.append(part.assign(side=side, round=r))
                        print(f"case {case} round {r} {side}: {part.run_s.round(4).tolist()}")
        finally:
            _git("worktree", "remove", "--force", str(base))
    args.load_end = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    table = compare(pd.concat(rows, ignore_index=True))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "bench_ab.csv", index=False)
    text = markdown(table, info, args, (time.perf_counter() - t0) / 60)
    (out / "bench_ab.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
