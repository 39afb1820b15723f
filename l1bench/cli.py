"""The ``l1bench`` command: compose the config, run the pipeline, write the run directory.

``l1bench [overrides]`` runs one job (``-m`` for a Hydra multirun sweep);
``l1bench report PATH... [--out DIR]`` merges run directories into one table.

A job writes ``manifest.json`` with ``status: running`` first and ``complete`` last. Bad configs
and bad data stop a single run before any table is written (exit 2, a message naming the field).
Inside a sweep a failing job records ``status: failed`` with the error in its manifest and the
sweep goes on; the report lists it. With ``resume=true`` a job whose directory already holds a
complete manifest for the same overrides, the same composed config and (dataset=file) the same
file contents is skipped; a job that runs again logs why (:func:`rerun_reason`). Ctrl-C (a
``KeyboardInterrupt`` anywhere in a job or a sweep) records ``status: interrupted`` in the
running job's manifest, prints one line (:func:`interrupted_line`) and exits 130.

A single run prints its fits by status, the headline table (each penalty at its cross-validated
strength), the warnings and where the files are (:func:`l1bench.results.console_summary`); a
sweep's job prints one line and the sweep's report prints the merged headline.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import signal
import sys
import time
import traceback
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from l1bench import callbacks, results
from l1bench.config import Config, ConfigError, register_configs, unknown_key, validate
from l1bench.data import DataError

register_configs()
# jax logs a failed TPU probe at INFO on every start; Hydra would print it
logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
log = logging.getLogger("l1bench")

# the config tree lives at the top of the checkout (l1bench is installed editable)
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")


# config keys that do not change what a run computes: a resumed job may differ in them
NOT_RESULTS = results.NOT_RESULTS
# the job running in this process: its run directory and, while it runs, its manifest (for
# an interrupt's record and message)
CURRENT: dict[str, Any] = {}


def _plain(obj):
    """``obj`` as the manifest's JSON gives it back (lists, str keys, str for the rest)."""
    return json.loads(json.dumps(obj, default=str))


def _input_file(cfg: DictConfig) -> dict | None:
    """A dataset=file run's input: its resolved path and sha256 (None for other datasets)."""
    ds = cfg.get("dataset") or {}
    if ds.get("name") != "file" or not ds.get("path"):
        return None
    path = Path(str(ds.get("path"))).expanduser()
    if not path.is_file():
        return None
    return {"path": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _override_key(override: str) -> str:
    """The dotted key an override sets (``+a.b=1`` -> ``a.b``)."""
    return override.split("=", 1)[0].lstrip("+~")


def _result_overrides(overrides: list[str]) -> list[str]:
    """The overrides that can change what a job computes (not ``progress.*`` and the like)."""
    return sorted(o for o in overrides if _override_key(o).split(".")[0] not in NOT_RESULTS)


def config_changes(old: dict | None, new: dict, most: int = 3) -> list[str]:
    """The dotted keys whose values differ between two configs, as ``key: old -> new``
    (at most ``most``, then how many more), without :data:`NOT_RESULTS`."""
    flat = lambda c: pd.json_normalize(
        {k: v for k, v in (c or {}).items() if k not in NOT_RESULTS}, sep="."
    ).iloc[0]
    a, b = flat(old).to_dict(), flat(new).to_dict()
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k, "(absent)") != b.get(k, "(absent)"))
    shown = [f"{k}: {a.get(k, '(absent)')!r} -> {b.get(k, '(absent)')!r}" for k in keys[:most]]
    return shown + ([f"and {len(keys) - most} more"] if len(keys) > most else [])


def rerun_reason(run_dir: Path, overrides: list[str], composed: dict, input_file) -> str | None:
    """Why ``resume=true`` runs the job in ``run_dir`` (again), or None when it is already done:
    a complete manifest for the same overrides, the same composed config (an edited YAML is a
    different run) and, for dataset=file, the same file contents."""
    manifest = results.read_manifest(run_dir)
    if manifest is None:
        there = (Path(run_dir) / "manifest.json").exists()
        return "its manifest is unreadable" if there else "no earlier run in its directory"
    if manifest.get("status") != "complete":
        return f"the earlier run's status is {manifest.get('status')}"
    old, new = _result_overrides(manifest.get("overrides", [])), _result_overrides(overrides)
    if old != new:
        gone, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        return f"overrides changed: {' '.join(gone) or '(none)'} -> {' '.join(added) or '(none)'}"
    changed = config_changes(manifest.get("composed"), _plain(composed))
    if changed:
        return f"config changed: {'; '.join(changed)}"
    before = manifest.get("input_file")
    if before != input_file:
        sha = lambda f: (f or {}).get("sha256", "none")[:12]
        path = (input_file or before or {}).get("path")
        return f"input file changed: {path} (sha256 {sha(before)}... -> {sha(input_file)}...)"
    return None


@contextlib.contextmanager
def _warnings_logged():
    """Log a job's warnings as they come (into cli.log, not only stderr) and collect them for
    the manifest; library deprecation notices go to stderr as usual."""
    quiet = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
    messages: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        plain = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, quiet):
                return plain(message, category, filename, lineno, file, line)
            if str(message) not in messages:
                messages.append(str(message))
                log.warning("%s", message)

        warnings.showwarning = show
        yield messages


def _enable_compilation_cache(path: str | None) -> None:
    if not path:
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", str(Path(path).expanduser()))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_STARTED = False  # a job function ran (Hydra exiting before that is a composition error)


@hydra.main(config_path=CONFIG_DIR, config_name="config", version_base=None)
def _job(cfg: DictConfig) -> str | None:
    """One job: resume's check, the running manifest, the run; returns
    :data:`l1bench.callbacks.SKIPPED` when resume skips it (the sweep callback counts those)."""
    global _STARTED
    _STARTED = True
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    CURRENT["run_dir"] = run_dir
    overrides = [o for o in hc.overrides.task if not o.startswith("resume=")]
    multirun = hc.mode == RunMode.MULTIRUN
    composed = OmegaConf.to_container(cfg, resolve=True)
    input_file = _input_file(cfg)
    if cfg.get("resume"):
        reason = rerun_reason(run_dir, overrides, composed, input_file)
        if reason is None:
            if not multirun:  # a sweep says it once for all its skipped jobs
                log.info("resume: skipping %s: already complete", run_dir)
            return callbacks.SKIPPED
        log.info("resume: running %s: %s", run_dir, reason)
    manifest = {
        "config": composed,
        "input_file": input_file,
        "overrides": overrides,
        "schema_version": results.SCHEMA_VERSION,
        "job": {
            "name": hc.job.name,
            "num": hc.job.get("num"),
            "mode": str(hc.mode),
            "run_dir": str(run_dir),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    CURRENT["manifest"] = manifest
    try:
        results.write_json_atomic(run_dir / "manifest.json", {**manifest, "status": "running"})
        text = _run(cfg, run_dir, manifest, overrides, multirun)
    except KeyboardInterrupt:  # a launcher's worker process (main() handles SIGINT itself)
        mark_interrupted(run_dir, manifest)
        raise
    finally:
        CURRENT.pop("manifest", None)
    if text:
        print(text)
    return None


def mark_interrupted(run_dir: Path, manifest: dict) -> None:
    """Record ``status: interrupted`` for a job stopped by Ctrl-C (unless it had completed)."""
    if (results.read_manifest(run_dir) or {}).get("status") != "complete":
        results.write_json_atomic(run_dir / "manifest.json", {**manifest, "status": "interrupted"})


def _run(cfg: DictConfig, run_dir: Path, manifest: dict, overrides, multirun: bool) -> str:
    """Run the pipeline into ``run_dir``; returns what a single run prints ("" in a sweep)."""
    stale = results.clear_run_files(run_dir)  # an earlier run's tables in this directory
    if stale:
        log.info("removed an earlier run's %s from %s", ", ".join(stale), run_dir)
    from l1bench import pipeline  # imports jax: only inside the job process

    try:
        config = validate(cfg)
        _enable_compilation_cache(config.compilation_cache)
        log.info(
            "job %s: %s", HydraConfig.get().job.get("num", 0), " ".join(overrides) or "(defaults)"
        )
        with _warnings_logged() as messages:
            out = pipeline.run(config)
        manifest["warnings"] = messages
        t = out.info["timings"]
        log.info(
            "fitted %d fits in %.2f s (compile %.2f s, wall %.2f s)",
            len(out.fits),
            t.get("fit_s", 0.0),
            t.get("compile_s", 0.0),
            t["wall_s"],
        )
        pipeline.write(
            out,
            run_dir,
            {**manifest, "config": config_dict(config), "composed": manifest["config"]},
        )
    except (ConfigError, DataError) as err:
        kind = "config" if isinstance(err, ConfigError) else "data"
        results.write_json_atomic(
            run_dir / "manifest.json", {**manifest, "status": "failed", "error": f"{kind}: {err}"}
        )
        print(f"l1bench: {kind} error: {err}", file=sys.stderr)
        if not multirun:
            sys.exit(2)
        return ""
    except Exception as err:  # a sweep goes on; the report lists the failed job
        results.write_json_atomic(
            run_dir / "manifest.json",
            {
                **manifest,
                "status": "failed",
                "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(),
            },
        )
        if not multirun:
            raise
        log.error("job failed: %s: %s (see %s/manifest.json)", type(err).__name__, err, run_dir)
        return ""
    if multirun:
        log.info(
            "job %s: %d fits in %s", HydraConfig.get().job.get("num", 0), len(out.fits), run_dir
        )
        return ""
    title = f"l1bench — {out.info['data']['name']}, seeds {out.info['seeds']}"
    text = results.console_summary(out.fits, out.robustness, title, run_dir, messages)
    seed = pipeline.seed_report(out)
    return f"{text}\n{seed}".rstrip() if seed else text


def config_dict(config) -> dict:
    """The validated config as plain containers (what the manifest records)."""
    return OmegaConf.to_container(OmegaConf.structured(config), resolve=True)


def report_main(argv: list[str]) -> int:
    """``l1bench report PATH... [--out DIR]``."""
    from l1bench.report import find_runs, write_report

    parser = argparse.ArgumentParser(
        prog="l1bench report",
        description="Merge run directories (single runs, sweeps, copies from a cluster) into "
        "one fits.csv, robustness.csv, contamination.csv and summary.md.",
    )
    parser.add_argument("paths", nargs="+", help="run directories or folders holding them")
    parser.add_argument(
        "--out",
        default=None,
        help="where to write the merged tables (default: the single PATH, PATH/report when "
        "PATH is one run directory, or ./report for several); never a run directory",
    )
    args = parser.parse_args(argv)
    out = args.out
    if out is None and len(args.paths) == 1:
        one = Path(args.paths[0])
        out = one / "report" if (one / "manifest.json").exists() else one
    out = out or "report"
    try:
        if not find_runs(args.paths):
            raise FileNotFoundError(
                f"report: no run directories (holding manifest.json) under {', '.join(args.paths)}"
            )
        merged = write_report(args.paths, out)
    except (FileNotFoundError, ValueError) as err:
        print(f"l1bench: {err}", file=sys.stderr)
        return 2
    for warning in merged.warnings:
        print(f"l1bench: warning: {warning}", file=sys.stderr)
    n_rows = len(merged.tables.get("fits.csv", []))
    print(
        f"{results.plural(len(merged.complete), 'complete run')} "
        f"({results.plural(n_rows, 'fit')}), {len(merged.incomplete)} failed or unfinished; "
        f"tables in {out}"
    )
    return 0


def unknown_override(args: list[str]) -> str | None:
    """The first override in ``args`` that sets a key the schema lacks, as a message naming the
    keys taken there (Hydra's own error names the key only); None when every key is known."""
    groups = {p.name for p in Path(CONFIG_DIR).iterdir() if p.is_dir()}
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        key = _override_key(arg)
        if "/" in key or key.split(".")[0] in groups - {f.name for f in fields(Config)}:
            continue  # a group choice such as experiment=seed or hydra/launcher=joblib
        msg = unknown_key(key)
        if msg:
            return msg
    return None


def interrupted_line() -> str:
    """``interrupted: N of M jobs complete; re-run with resume=true``, N and M of the sweep
    running in this process (its jobs that reported back complete or skipped), else of the
    single run."""
    if callbacks.SWEEP:
        jobs = callbacks.sweep_jobs(callbacks.SWEEP["dir"], callbacks.SWEEP["id"])
        done, total = sum(j["status"] == "complete" for j in jobs), callbacks.SWEEP.get("n_jobs")
    else:
        run_dir = CURRENT.get("run_dir")
        manifest = results.read_manifest(run_dir) if run_dir else None
        done, total = int((manifest or {}).get("status") == "complete"), 1
    of = f"{done} of {results.plural(total, 'job')}" if total else results.plural(done, "job")
    return f"interrupted: {of} complete; re-run with resume=true"


def on_interrupt(signum=None, frame=None) -> None:
    """SIGINT (Ctrl-C) in the l1bench process: record ``status: interrupted`` for the job it
    is running, print :func:`interrupted_line` and leave with status 130 (128 + SIGINT).

    A handler, not Python's ``KeyboardInterrupt`` alone: libraries catch every exception in
    places (JAX's tracing helpers have bare ``except:`` clauses), so a raised interrupt can be
    lost in a job. A process running a job leaves by ``os._exit`` after flushing the streams
    and the log handlers: the interpreter's normal shutdown, with an XLA compilation cut
    short, crashed (exit -11, measured on the CPU backend). The parent of a launcher's workers
    (joblib, submitit) raises ``KeyboardInterrupt`` instead, so the launcher stops its workers
    as it unwinds, and :func:`main` exits 130; the workers record their jobs' interrupts as
    the ``KeyboardInterrupt`` leaves each job. A second Ctrl-C leaves at once.
    """
    del signum, frame
    if CURRENT.get("interrupted"):
        os._exit(130)
    CURRENT["interrupted"] = True
    running = "manifest" in CURRENT
    if running:
        mark_interrupted(CURRENT["run_dir"], CURRENT["manifest"])
    print(interrupted_line(), file=sys.stderr)
    if not running:
        raise KeyboardInterrupt
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def main() -> None:
    """Console-script entry point."""
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        try:
            sys.exit(report_main(sys.argv[2:]))
        except KeyboardInterrupt:
            print("interrupted: no report written", file=sys.stderr)
            sys.exit(130)
    signal.signal(signal.SIGINT, on_interrupt)
    try:
        _job()
    except KeyboardInterrupt:  # raised by on_interrupt between jobs or under a launcher
        sys.exit(130)
    except SystemExit as exc:  # Hydra exits 1 after printing its error
        if exc.code != 1:
            raise
        msg = unknown_override(sys.argv[1:])
        if msg:
            print(f"l1bench: config error: {msg}", file=sys.stderr)
        if msg or not _STARTED:  # no job ran: the overrides did not compose
            sys.exit(2)
        raise
    last = callbacks.LAST_SWEEP
    if last.get("incomplete"):  # a sweep goes on past failed jobs, but says so
        n, done = last["incomplete"], last["complete"]
        print(
            f"l1bench: {n} of this sweep's {n + done} jobs failed or did not finish; they are "
            f"listed in {last['dir']}/summary.md (rerun with resume=true to redo only them)",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
