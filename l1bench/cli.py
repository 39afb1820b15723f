"""The ``l1bench`` command: compose the config, run the pipeline, write the run directory.

``l1bench [overrides]`` runs one job (``-m`` for a Hydra multirun sweep);
``l1bench report PATH... [--out DIR]`` merges run directories into one table.

A job writes ``manifest.json`` with ``status: running`` first and ``complete`` last. Bad configs
and bad data stop a single run before any table is written (exit 2, a message naming the field).
Inside a sweep a failing job records ``status: failed`` with the error in its manifest and the
sweep goes on; the report lists it. With ``resume=true`` a job whose directory already holds a
complete manifest for the same overrides, the same composed config and (dataset=file) the same
file contents is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import sys
import time
import traceback
import warnings
from dataclasses import fields
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from l1bench import results
from l1bench.config import Config, ConfigError, register_configs, unknown_key, validate
from l1bench.data import DataError

register_configs()
# jax logs a failed TPU probe at INFO on every start; Hydra would print it
logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
log = logging.getLogger("l1bench")

# the config tree lives at the top of the checkout (l1bench is installed editable)
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")


# config keys that do not change what a run computes: a resumed job may differ in them
NOT_RESULTS = ("resume", "progress", "compilation_cache")


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


def _already_done(run_dir: Path, overrides: list[str], composed: dict, input_file) -> bool:
    """A complete manifest for the same overrides, the same composed config (an edited YAML
    is a different run) and, for dataset=file, the same file contents."""
    manifest = results.read_manifest(run_dir)
    if manifest is None or manifest.get("status") != "complete":
        return False
    drop = lambda c: {k: v for k, v in (c or {}).items() if k not in NOT_RESULTS}
    return (
        _result_overrides(manifest.get("overrides", [])) == _result_overrides(overrides)
        and drop(manifest.get("composed")) == drop(_plain(composed))
        and manifest.get("input_file") == input_file
    )


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
def _job(cfg: DictConfig) -> None:
    global _STARTED
    _STARTED = True
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    overrides = [o for o in hc.overrides.task if not o.startswith("resume=")]
    multirun = hc.mode == RunMode.MULTIRUN
    composed = OmegaConf.to_container(cfg, resolve=True)
    input_file = _input_file(cfg)
    if cfg.get("resume") and _already_done(run_dir, overrides, composed, input_file):
        log.info("skipping %s: already complete (resume=true)", run_dir)
        return
    manifest = {
        "config": composed,
        "input_file": input_file,
        "overrides": overrides,
        "job": {
            "name": hc.job.name,
            "num": hc.job.get("num"),
            "mode": str(hc.mode),
            "run_dir": str(run_dir),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    results.write_json_atomic(run_dir / "manifest.json", {**manifest, "status": "running"})
    stale = results.clear_run_files(run_dir)  # an earlier run's tables in this directory
    if stale:
        log.info("removed an earlier run's %s from %s", ", ".join(stale), run_dir)
    from l1bench import pipeline  # imports jax: only inside the job process

    try:
        config = validate(cfg)
        _enable_compilation_cache(config.compilation_cache)
        log.info("job %s: %s", hc.job.get("num", 0), " ".join(overrides) or "(defaults)")
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
        summary = pipeline.write(
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
        return
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
        return
    print(summary)
    print(f"results in {run_dir}")


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
    n_rows = len(merged.tables.get("fits.csv", []))
    print(
        f"{len(merged.complete)} complete runs ({n_rows} fits), "
        f"{len(merged.incomplete)} failed or unfinished; tables in {out}"
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


def main() -> None:
    """Console-script entry point."""
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        sys.exit(report_main(sys.argv[2:]))
    from l1bench.callbacks import LAST_SWEEP

    try:
        _job()
    except SystemExit as exc:  # Hydra exits 1 after printing its error
        if exc.code != 1:
            raise
        msg = unknown_override(sys.argv[1:])
        if msg:
            print(f"l1bench: config error: {msg}", file=sys.stderr)
        if msg or not _STARTED:  # no job ran: the overrides did not compose
            sys.exit(2)
        raise
    if LAST_SWEEP.get("incomplete"):  # a sweep goes on past failed jobs, but says so
        n, done = LAST_SWEEP["incomplete"], LAST_SWEEP["complete"]
        print(
            f"l1bench: {n} of {n + done} sweep jobs failed or did not finish; they are listed "
            f"in {LAST_SWEEP['dir']}/summary.md (rerun with resume=true to redo only them)",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
