"""Merge run directories into one set of tables: ``l1bench report PATH...``.

A run directory is any directory holding a ``manifest.json``. Runs are found recursively under
each PATH (a single run, a multirun sweep, several sweeps, runs copied back from a cluster). For
each run the manifest decides:

* ``status: complete`` — its ``fits.csv`` (and ``robustness.csv``, ``contamination.csv`` when
  present) join the merge;
* any other status (``failed``, ``running``) — the run is listed under *failed or unfinished
  runs* in the summary, never silently dropped, and contributes no rows.

Runs whose configs differ only in swept keys line up as columns: every ``key=value`` override of
any run becomes a column (empty where a run did not set it), next to ``run_dir``. This module
does not import jax.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from l1bench import results

TABLES = ("fits.csv", "robustness.csv", "contamination.csv")


class Run(NamedTuple):
    """One run directory and its manifest."""

    path: Path
    manifest: dict


class Merged(NamedTuple):
    """The merge of many runs: one DataFrame per table name, and the runs that did not finish."""

    tables: dict[str, pd.DataFrame]
    complete: list[Run]
    incomplete: list[Run]


def find_runs(paths: Iterable[str | Path]) -> list[Run]:
    """All run directories under ``paths`` (sorted, unique); a missing path is an error."""
    found: dict[Path, Run] = {}
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"report: no such path {p}")
        for manifest in sorted(p.rglob("manifest.json")):
            run_dir = manifest.parent.resolve()
            try:
                found[run_dir] = Run(run_dir, json.loads(manifest.read_text()))
            except (OSError, json.JSONDecodeError) as err:
                found[run_dir] = Run(run_dir, {"status": "unreadable", "error": str(err)})
    return [found[k] for k in sorted(found)]


def _override_columns(run: Run) -> dict[str, str]:
    out = {}
    for item in run.manifest.get("overrides", []) or []:
        key, sep, value = str(item).partition("=")
        if sep:
            out[key.lstrip("+~")] = value
    return out


def merge(paths: Sequence[str | Path]) -> Merged:
    """Read and concatenate the tables of every complete run under ``paths``."""
    runs = find_runs(paths)
    complete = [r for r in runs if r.manifest.get("status") == "complete"]
    incomplete = [r for r in runs if r.manifest.get("status") != "complete"]
    keys = sorted({k for r in complete for k in _override_columns(r)})
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        parts = []
        for r in complete:
            f = r.path / name
            if not f.exists():
                continue
            df = pd.read_csv(f)
            overrides = _override_columns(r)
            for k in reversed(keys):
                df.insert(0, f"override.{k}", overrides.get(k, ""))
            df.insert(0, "run_dir", str(r.path))
            parts.append(df)
        if parts:
            tables[name] = pd.concat(parts, ignore_index=True)
    return Merged(tables, complete, incomplete)


def write_report(paths: Sequence[str | Path], out_dir: str | Path) -> Merged:
    """Merge ``paths`` and write ``fits.csv``, ``robustness.csv``, ``contamination.csv``,
    ``summary.md`` and ``summary.tex`` (the sections of a run's summary, over every run) to out_dir.

    A table the merge has no rows for is removed from out_dir (an earlier report's would
    otherwise stand beside this one's).

    Raises:
      ValueError: if out_dir is a run directory (it holds ``manifest.json``): the report would
        overwrite the run's own tables.
    """
    out_dir = Path(out_dir)
    if (out_dir / "manifest.json").exists():
        raise ValueError(
            f"{out_dir} is a run directory (it holds manifest.json): a report there would "
            "overwrite the run's own tables; choose another --out"
        )
    merged = merge(paths)
    for name in TABLES:
        if name in merged.tables:
            results.write_csv_atomic(out_dir / name, merged.tables[name])
        elif (out_dir / name).is_file():
            (out_dir / name).unlink()
    title = f"l1bench report — {len(merged.complete)} complete runs"
    failed = []
    if merged.incomplete:
        failed += ["## Failed or unfinished runs", ""]
        for r in merged.incomplete:
            err = r.manifest.get("error", "")
            failed.append(f"- `{r.path}`: {r.manifest.get('status', 'unknown')} {err}".rstrip())
        failed.append("")
    fits = merged.tables.get("fits.csv")
    if fits is not None and len(fits):
        # the same sections as a run's summary (robustness versus sparsity, at the selected λ,
        # fits), the swept keys as columns
        md, tex = results.run_summary(
            fits,
            merged.tables.get("robustness.csv"),
            title,
            merged.tables.get("contamination.csv"),
        )
        head, _, rest = md.partition("\n\n")
        text = "\n".join([head, "", *failed, rest])
        results.write_text_atomic(out_dir / "summary.tex", tex)
    else:
        text = "\n".join([f"# {title}", "", *failed, "No complete runs with fits were found."])
        if (out_dir / "summary.tex").is_file():
            (out_dir / "summary.tex").unlink()
    results.write_text_atomic(out_dir / "summary.md", text + "\n")
    return merged
