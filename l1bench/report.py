"""Merge run directories into one set of tables: ``l1bench report PATH...``.

A run directory is any directory holding a ``manifest.json``. Runs are found recursively under
each PATH (a single run, a multirun sweep, several sweeps, runs copied back from a cluster). For
each run the manifest decides:

* ``status: complete`` — its per-fit tables (:data:`TABLES`) join the merge;
* any other status (``failed``, ``running``, ``interrupted``) — the run is listed under *failed
  or unfinished runs* in the summary, never silently dropped, and contributes no rows.

Runs whose configs differ only in swept keys line up as columns: every ``key=value`` override of
any run becomes a column (empty where a run did not set it), next to ``run_dir``.

A fit is merged once. Its identity is the run's result-relevant config (the validated config
less :data:`l1bench.results.NOT_RESULTS` and the seed keys), the hash of its seed's data
(``data.seed_hashes`` in the manifest; the whole job's data hash for runs that lack it) and the
row's identity columns (:func:`l1bench.results.identity_columns`: every column that is not a
measured value, so grid axes a later table adds are included). A row whose identity an earlier
run already contributed (the PATHs in the order given, each one's runs sorted) — a copied
sweep, or a seed two jobs both fitted (``seed=0,1 n_seeds=2``) — is dropped from every table,
and a warning names the runs and seeds. The report also warns when the merged runs record
different results-schema versions (``schema_version``) or none. This module does not import jax.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
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
    """The merge of many runs: one DataFrame per table name, the runs that did not finish, and
    the warnings of the merge (duplicate fits dropped, differing schema versions)."""

    tables: dict[str, pd.DataFrame]
    complete: list[Run]
    incomplete: list[Run]
    warnings: list[str] = []


def find_runs(paths: Iterable[str | Path]) -> list[Run]:
    """All run directories under ``paths``, each once: those under the first path first, each
    path's sorted (the merge keeps the first of identical fits); a missing path is an error."""
    found: dict[Path, Run] = {}
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"report: no such path {p}")
        for run_dir in sorted({m.parent.resolve() for m in p.rglob("manifest.json")}):
            found.setdefault(run_dir, read_run(run_dir))
    return list(found.values())


def read_run(run_dir: str | Path) -> Run:
    """The run in ``run_dir``; an unreadable or missing manifest gives a status saying so."""
    run_dir = Path(run_dir).resolve()
    try:
        return Run(run_dir, json.loads((run_dir / "manifest.json").read_text()))
    except FileNotFoundError:
        return Run(run_dir, {"status": "no manifest"})
    except (OSError, json.JSONDecodeError) as err:
        return Run(run_dir, {"status": "unreadable", "error": str(err)})


def _override_columns(run: Run) -> dict[str, str]:
    out = {}
    for item in run.manifest.get("overrides", []) or []:
        key, sep, value = str(item).partition("=")
        if sep:
            out[key.lstrip("+~")] = value
    return out


def result_config(manifest: dict) -> dict:
    """The part of a run's config that decides its fits, seeds aside: the validated config (the
    composed one for runs without it) less :data:`~l1bench.results.NOT_RESULTS` and
    :data:`~l1bench.results.SEED_KEYS`."""
    config = manifest.get("config") or manifest.get("composed") or {}
    drop = (*results.NOT_RESULTS, *results.SEED_KEYS)
    return {k: v for k, v in config.items() if k not in drop}


def fit_keys(table: pd.DataFrame, manifest: dict) -> pd.Series:
    """One identity string per row of a run's table (see the module docstring)."""
    config = json.dumps(result_config(manifest), sort_keys=True, default=str)
    data = manifest.get("data") or {}
    job_hash = str(data.get("hash"))
    if "seed" in table.columns and data.get("seed_hashes"):
        seed_hash = table["seed"].astype(str).map(data["seed_hashes"]).fillna(job_hash)
    else:
        seed_hash = pd.Series(job_hash, index=table.index)
    columns = results.identity_columns(table)
    digest = hashlib.sha256(f"{config}|{','.join(columns)}".encode()).hexdigest()
    rows = pd.util.hash_pandas_object(table[columns], index=False).astype(str)
    return digest + "|" + seed_hash + "|" + rows


def _duplicate_warnings(repeats: dict[tuple[Path, Path], set]) -> list[str]:
    if not repeats:
        return []
    base = Path(os.path.commonpath([p.parent for pair in repeats for p in pair]))
    out = []
    for (dup, first), seeds in repeats.items():
        listed = ", ".join(map(str, sorted(seeds)))
        out.append(
            f"fits merged once (same config, seed and data; under {base}): "
            f"{dup.relative_to(base)} repeats {first.relative_to(base)} for "
            f"seed{'s' if len(seeds) > 1 else ''} {listed}"
        )
    return out


def _schema_warnings(runs: list[Run]) -> list[str]:
    versions = Counter(r.manifest.get("schema_version") for r in runs)
    out = []
    if None in versions:
        out.append(
            f"{results.plural(versions.pop(None), 'run')} record no results-schema version "
            f"(written before l1bench recorded one; this l1bench writes version "
            f"{results.SCHEMA_VERSION}): check that their columns mean what they do now"
        )
    if len(versions) > 1:
        listed = ", ".join(
            f"version {v}: {results.plural(n, 'run')}" for v, n in sorted(versions.items())
        )
        out.append(f"the merged runs have different results-schema versions ({listed})")
    return out


def merge(paths: Sequence[str | Path], runs: Sequence[Run] | None = None) -> Merged:
    """Read and concatenate the tables of every complete run under ``paths`` (or of ``runs``),
    each fit once (see the module docstring)."""
    runs = find_runs(paths) if runs is None else list(runs)
    complete = [r for r in runs if r.manifest.get("status") == "complete"]
    incomplete = [r for r in runs if r.manifest.get("status") != "complete"]
    keys = sorted({k for r in complete for k in _override_columns(r)})
    tables: dict[str, pd.DataFrame] = {}
    repeats: dict[tuple[Path, Path], set] = {}
    for name in TABLES:
        parts, first_run = [], {}
        for r in complete:
            f = r.path / name
            if not f.exists():
                continue
            df = pd.read_csv(f)
            ids = fit_keys(df, r.manifest)
            seen = ids.map(first_run)
            for first, g in df[seen.notna()].groupby(seen[seen.notna()]):
                repeats.setdefault((r.path, first), set()).update(g.get("seed", pd.Series()))
            first_run.update(dict.fromkeys(ids[seen.isna()], r.path))
            df = df[seen.isna()].copy()
            overrides = _override_columns(r)
            for k in reversed(keys):
                df.insert(0, f"override.{k}", overrides.get(k, ""))
            df.insert(0, "run_dir", str(r.path))
            parts.append(df)
        if parts:
            tables[name] = pd.concat(parts, ignore_index=True)
    warnings = _duplicate_warnings(repeats) + _schema_warnings(complete)
    return Merged(tables, complete, incomplete, warnings)


def _failed_section(runs: list[Run]) -> list[str]:
    if not runs:
        return []
    lines = ["## Failed or unfinished runs", ""]
    for r in runs:
        err = r.manifest.get("error", "")
        lines.append(f"- `{r.path}`: {r.manifest.get('status', 'unknown')} {err}".rstrip())
    return [*lines, ""]


def write_report(
    paths: Sequence[str | Path], out_dir: str | Path, sweep: Sequence[Run] | None = None
) -> Merged:
    """Merge ``paths`` and write ``fits.csv``, ``robustness.csv``, ``contamination.csv``,
    ``summary.md`` and ``summary.tex`` (the sections of a run's summary, over every run) to
    out_dir.

    A table the merge has no rows for is removed from out_dir (an earlier report's would
    otherwise stand beside this one's).

    Args:
      paths: run directories or folders holding them.
      out_dir: where the tables go.
      sweep: the runs of one sweep (:class:`l1bench.callbacks.ReportCallback`): the report
        covers only them, and its title says so and how many other run directories ``paths``
        holds.

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
    merged = merge(paths, sweep)
    for name in TABLES:
        if name in merged.tables:
            results.write_csv_atomic(out_dir / name, merged.tables[name])
        elif (out_dir / name).is_file():
            (out_dir / name).unlink()
    text = [*_failed_section(merged.incomplete)]
    if merged.warnings:
        text += ["## Warnings", "", *(f"- {w}" for w in merged.warnings), ""]
    title = report_title(merged, paths, sweep)
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
        text = [head, "", *text, rest]
        results.write_text_atomic(out_dir / "summary.tex", tex)
    else:
        text = [f"# {title}", "", *text, "No complete runs with fits were found."]
        if (out_dir / "summary.tex").is_file():
            (out_dir / "summary.tex").unlink()
    results.write_text_atomic(out_dir / "summary.md", "\n".join(text) + "\n")
    return merged


def report_title(
    merged: Merged, paths: Sequence[str | Path], sweep: Sequence[Run] | None = None
) -> str:
    """``l1bench report — 3 complete runs``, or for a sweep ``l1bench report — this sweep's 2
    jobs (2 complete; 6 other run directories under DIR are not in it ...)``."""
    done = len(merged.complete)
    if sweep is None:
        return f"l1bench report — {results.plural(done, 'complete run')}"
    mine = {r.path for r in sweep}
    others = sum(r.path not in mine for r in find_runs(paths))
    where = " ".join(map(str, paths))
    rest = ""
    if others:
        dirs = results.plural(others, "other run directory", "other run directories")
        rest = f"; {dirs} under {where} are not in it: `l1bench report {where}` merges them all"
    jobs = results.plural(len(sweep), "job")
    return f"l1bench report — this sweep's {jobs} ({done} complete{rest})"
