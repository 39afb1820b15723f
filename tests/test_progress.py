"""Progress reporting: stage heartbeats (log lines / live line), sweep lines, job counting."""

import io
import logging
import re
import time

import pytest

from l1bench import progress
from l1bench.callbacks import count_jobs, job_states
from l1bench.config import ConfigError, validate

pytestmark = pytest.mark.fast


def test_sweep_line_counts_and_estimates_time_left():
    line = progress.sweep_line(3, 12, 1, 90.0)
    assert "3/12 jobs done, 1 failed" in line
    assert "1 min 30 s elapsed" in line
    assert "about 4 min 30 s left" in line  # 90 s per 3 jobs, 9 to go
    assert line.count("#") == 5 and "[" in line  # 3/12 of 20 cells
    assert "left" not in progress.sweep_line(12, 12, 0, 90.0)
    assert progress.sweep_line(2, None, 0, 5.0) == "sweep: 2 jobs done, 5 s elapsed"


@pytest.mark.parametrize("seconds, text", [(4.4, "4 s"), (185, "3 min 05 s"), (7260, "2 h 01 min")])
def test_duration(seconds, text):
    assert progress.duration(seconds) == text


def _wait_for(stage, reports, deadline=30.0):
    """Block until ``stage`` has written ``reports`` lines (not a fixed sleep: CI may be slow)."""
    t_end = time.monotonic() + deadline
    while stage.reports < reports and time.monotonic() < t_end:
        time.sleep(0.01)
    assert stage.reports >= reports


def test_stage_logs_while_running_and_stays_quiet_when_short(caplog):
    caplog.set_level(logging.INFO, logger="l1bench")
    with progress.Stage("fit: test", mode="log", interval=0.05) as st:
        _wait_for(st, 2)
    lines = [r.getMessage() for r in caplog.records if "fit: test" in r.getMessage()]
    assert st.reports == len(lines) >= 2
    assert all("still running" in m for m in lines)
    caplog.clear()
    with progress.Stage("fit: short", mode="log", interval=10.0) as st:
        pass
    assert st.reports == 0 and not caplog.records


def test_stage_bar_redraws_in_place_and_ends_with_a_line():
    stream = io.StringIO()
    with progress.Stage("cv", mode="bar", stream=stream) as st:
        _wait_for(st, 2)  # the bar's first redraw comes after 1 s, then every 0.5 s
    text = stream.getvalue()
    assert text.startswith("\rcv: ") and text.endswith("\n")
    assert re.search(r"\rcv: done in \d+ s\x1b\[K\n$", text) and text.count("\n") == 1
    assert text.count("\r") == st.reports + 1


def test_stage_off_and_auto_on_a_pipe_is_log(caplog):
    with progress.Stage("x", mode="off", interval=0.01) as st:
        time.sleep(0.1)
    assert st.reports == 0
    assert progress.Stage("x", mode="auto", stream=io.StringIO()).mode == "log"


def test_bad_progress_settings_are_rejected(compose_cfg):
    with pytest.raises(ValueError, match="progress.mode"):
        progress.configure("spinner")
    with pytest.raises(ValueError, match="progress.interval"):
        progress.configure("log", 0)
    with pytest.raises(ConfigError, match="progress.mode='spinner'.*auto, log, bar, off"):
        validate(compose_cfg("progress.mode=spinner"))
    with pytest.raises(ConfigError, match="progress.interval"):
        validate(compose_cfg("progress.interval=-1"))


def test_count_jobs_is_the_basic_sweepers_product():
    assert count_jobs(["penalty=l1,l2", "seed=0,1,2", "n_seeds=2"]) == 6
    assert count_jobs(["seed=range(0,4)"]) == 4
    assert count_jobs(["dataset=diabetes"]) == 1
    assert count_jobs(["penalty=glob(*)"]) is None  # needs the config tree


def test_job_states_count_this_sweeps_job_records(tmp_path):
    from l1bench.callbacks import JOBS_DIR, sweep_jobs
    from l1bench.results import write_json_atomic

    records = [("complete", False), ("failed", False), ("complete", True), ("interrupted", False)]
    for num, (status, skipped) in enumerate(records):
        record = {"run_dir": str(tmp_path / str(num)), "status": status, "skipped": skipped}
        write_json_atomic(tmp_path / JOBS_DIR / "this" / f"{num}.json", record)
    write_json_atomic(tmp_path / JOBS_DIR / "earlier" / "0.json", record)  # another sweep
    write_json_atomic(tmp_path / "old_job" / "manifest.json", {"status": "complete"})
    jobs = sweep_jobs(tmp_path, "this")
    n_failed = sum(status != "complete" for status, _ in records)
    n_skipped = sum(skipped for _, skipped in records)
    assert job_states(jobs) == (len(records), n_failed, n_skipped)


def test_sweep_line_estimates_from_the_jobs_that_ran():
    line = progress.sweep_line(7, 8, 0, 60.0, skipped=6)
    assert "7/8 jobs done, 6 skipped (already complete)" in line
    assert "about 1 min 00 s left" in line  # 60 s for the one job that ran, one to go
