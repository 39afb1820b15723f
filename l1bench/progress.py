"""Progress of long work: a live line on a terminal, periodic log lines everywhere else.

Two kinds of long work are reported:

* a **stage** of one job (``fit``, ``cross-validation``, ``robustness``): one compiled call whose
  inside is opaque to the host, so the report is its elapsed time — a spinner line redrawn in
  place when stderr is a terminal, and otherwise one log line every ``interval`` seconds while the
  stage is still running (a stage shorter than ``interval`` prints nothing extra). Host callbacks
  inside the compiled solvers could report finer steps, but an executable holding a Python
  callback is never stored in JAX's persistent compilation cache, so l1bench does not add them.
* a **sweep** of jobs: :func:`sweep_line` formats ``done / total`` jobs as a bar with the elapsed
  time and a linear estimate of the time left (used by :mod:`l1bench.callbacks`).

Nothing here imports JAX. ``mode`` is ``auto`` (live line on a terminal, log lines otherwise),
``log`` (always log lines), ``bar`` (always the live line) or ``off``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

log = logging.getLogger("l1bench")

MODES = ("auto", "log", "bar", "off")
_SETTINGS = {"mode": "auto", "interval": 30.0}
_SPIN = "|/-\\"


def configure(mode: str = "auto", interval: float = 30.0) -> None:
    """Set how later stages report (see the module docstring for ``mode``).

    Args:
      mode: one of ``MODES``.
      interval: seconds between log lines (``log`` mode); must be > 0.
    """
    if mode not in MODES:
        raise ValueError(f"progress.mode must be one of {MODES}, got {mode!r}")
    if not interval > 0:
        raise ValueError(f"progress.interval must be > 0 seconds, got {interval!r}")
    _SETTINGS.update(mode=mode, interval=float(interval))


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 01 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def bar(done: int, total: int, width: int = 20) -> str:
    """``[#####...............]`` for ``done`` of ``total``."""
    filled = 0 if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def sweep_line(done: int, total: int | None, failed: int, elapsed: float, skipped: int = 0) -> str:
    """One progress line for a sweep: bar, counts, elapsed time and a linear estimate left.

    Args:
      done: finished jobs (complete, failed, or skipped by resume). total: jobs in the sweep
        (None if unknown). failed: how many of ``done`` failed. elapsed: seconds since the
        sweep started. skipped: how many of ``done`` resume skipped; the estimate left is
        ``elapsed · (total − done) / (done − skipped)``, the time per job that ran.
    """
    fail = f", {failed} failed" if failed else ""
    fail += f", {skipped} skipped (already complete)" if skipped else ""
    if not total:
        return f"sweep: {done} jobs done{fail}, {duration(elapsed)} elapsed"
    left = ""
    if 0 < done - skipped and done < total:
        left = f", about {duration(elapsed * (total - done) / (done - skipped))} left"
    return (
        f"sweep {bar(done, total)} {done}/{total} jobs done{fail}, "
        f"{duration(elapsed)} elapsed{left}"
    )


class Stage:
    """Context manager reporting one long stage while it runs (a background thread).

    Args:
      label: what is running, e.g. ``"fit: 4 penalties x 20 strengths"``.
      mode: override of the configured mode. interval: override of the configured interval.
      stream: where the live line goes (default ``sys.stderr``).
    """

    def __init__(
        self,
        label: str,
        *,
        mode: str | None = None,
        interval: float | None = None,
        stream: TextIO | None = None,
    ):
        self.label = label
        self.mode = mode or _SETTINGS["mode"]
        self.interval = interval or _SETTINGS["interval"]
        self.stream = stream or sys.stderr
        if self.mode == "auto":
            self.mode = "bar" if _isatty(self.stream) else "log"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = 0.0
        self.reports = 0  # lines written while running (for tests and the caller)

    def __enter__(self) -> Stage:
        self.t0 = time.perf_counter()
        if self.mode != "off":
            self._thread = threading.Thread(target=self._run, daemon=True, name="l1bench-progress")
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.mode == "bar" and self.reports:
            self.stream.write(f"\r{self.label}: done in {duration(self.elapsed)}\033[K\n")
            self.stream.flush()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def _run(self) -> None:
        # bar: redraw twice a second after the first second; log: a line every interval
        wait = 0.5 if self.mode == "bar" else self.interval
        first = 1.0 if self.mode == "bar" else self.interval
        if self._stop.wait(first):
            return
        while True:
            self.reports += 1
            if self.mode == "bar":
                spin = _SPIN[self.reports % len(_SPIN)]
                self.stream.write(f"\r{self.label}: {spin} {duration(self.elapsed)}\033[K")
                self.stream.flush()
            else:
                log.info("%s: still running, %s elapsed", self.label, duration(self.elapsed))
            if self._stop.wait(wait):
                return


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
