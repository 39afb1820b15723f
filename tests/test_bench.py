"""The speed benchmark suite (experiments/bench) in quick mode: correctness only, no timings.

Checks that the suite writes its two tables, that every float64 convex solver reached the common
certified gap, that the solutions of fixed-work cases agree across implementations, and that the
suite's batched gap evaluator equals :func:`l1bench.solvers.certify.certify_linear`.
"""

import numpy as np
import pandas as pd
import pytest

from experiments.bench import linear
from experiments.bench.common import TARGET_GAP, Record
from experiments.bench.run import main
from l1bench.solvers import certify, convex


@pytest.mark.parametrize("shape", [(60, 8), (20, 50)], ids=["gram", "x"])
def test_certified_gaps_equal_certify_linear(shape):
    rng = np.random.default_rng(0)
    n, p = shape
    X = linear.toeplitz_design(rng, n, p, 0.5)
    Y = linear.replicate_targets(rng, X, 3)
    grid = linear.lasso_grid(X, Y, n_lambdas=4, lambda_min_ratio=0.1)
    res = convex.solve(grid, np.broadcast_to(X, (3, n, p)), Y, tol=1e-4)
    W, lam = res.coef[:, 0], grid.lam[:, 0]
    ours = linear.certified_gaps(X, Y, W, lam)
    for s in range(3):
        ref = certify.certify_linear(X, Y[s], W[s], res.intercept[s, 0], lam[s], 1.0)
        np.testing.assert_allclose(ours[s], ref.rel_gap, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(ours[s], res.rel_gap[s, 0], rtol=1e-6, atol=1e-12)


def _check_tables(out, cases):
    df = pd.read_csv(out / "benchmarks.csv")
    md = (out / "benchmarks.md").read_text()
    assert set(df["case"]) == set(cases)
    assert "Machine:" in md and "## Summary" in md and "Dense matmul rate" in md
    gapped = df[df["rel_gap"].notna() & (df["precision"] == "float64")]
    assert len(gapped) > 0
    # l1bench must reach the common certified gap; a peer whose tolerance search falls short
    # in quick mode (liblinear once stopped at 1.0e-6 + rounding) must be reported as such
    ours = gapped[gapped["solver"].str.startswith("l1bench")]
    bad = ours[~(ours["rel_gap"] <= TARGET_GAP)]
    assert len(ours) and bad.empty, bad[["case", "variant", "solver", "rel_gap"]].to_string()
    assert ours["reached"].all()
    np.testing.assert_array_equal(gapped["reached"].astype(bool), gapped["rel_gap"] <= TARGET_GAP)
    return df


def test_quick_suite_linear_and_logistic(tmp_path):
    main(["--quick", "--cases", "AD", "--out", str(tmp_path)])
    df = _check_tables(tmp_path, "AD")
    assert {"l1bench convex", "sklearn lasso_path", "sklearn Lasso loop"} <= set(df["solver"])
    assert "l1bench logistic" in set(df["solver"])


def test_quick_suite_high_dimensional_runs_both_precisions(tmp_path):
    # case C: the working-set solver in float64 and float32 (its stall stop keeps float32 from
    # running every fit to max_iter), each row with the gap the common evaluator certified
    main(["--quick", "--cases", "C", "--out", str(tmp_path)])
    df = _check_tables(tmp_path, "C")
    ours = df[df["solver"] == "l1bench convex"]
    assert sorted(ours["precision"]) == ["float32", "float32", "float64", "float64"]
    assert np.isfinite(ours["run_s"]).all() and np.isfinite(ours["rel_gap"]).all()
    assert ours["notes"].str.contains("working_set").all()
    # the batch (4 problems) is timed on 2 for every solver and scaled: each row says so
    batch = df[df["variant"].str.endswith("batch")]
    assert len(batch) and batch["notes"].str.contains("timed on 2 of 4 problems").all()


def test_accelerator_mode_batched_c_against_peers_of_an_earlier_run(tmp_path):
    # what a GPU session runs: l1bench's rows only, C's batch in one gram_ws call (forced here
    # on the CPU, where auto keeps per-fit working sets), the peers' rows from a CPU run's CSV
    cpu, gpu = tmp_path / "cpu", tmp_path / "gpu"
    main(["--quick", "--cases", "C", "--out", str(cpu)])
    args = ["--quick", "--cases", "C", "--algorithm", "gram_ws", "--out", str(gpu)]
    main([*args, "--peers-from", str(cpu / "benchmarks.csv")])
    df = _check_tables(gpu, "C")
    ours = df[df["solver"] == "l1bench convex"]
    assert ours["notes"].str.contains("gram_ws").all()
    batch = ours[ours["variant"].str.endswith("batch")]
    assert batch["notes"].str.contains("all 4 problems in one call").all()
    assert batch["notes"].str.contains("GFLOP/s of products").all()
    before = pd.read_csv(cpu / "benchmarks.csv")
    peers = df[~df["solver"].str.startswith("l1bench")]
    assert len(peers) and peers["notes"].str.contains("from benchmarks.csv").all()
    key = ["variant", "solver", "run_s", "rel_gap"]
    theirs = before[~before["solver"].str.startswith("l1bench")][key]
    pd.testing.assert_frame_equal(peers[key].reset_index(drop=True), theirs.reset_index(drop=True))
    text = (gpu / "benchmarks.md").read_text()
    assert "Peers were not run here" in text and "--peers-from" in text
    assert "| C | Lasso path, p > n, batch |" in text


def test_peers_from_a_run_without_the_case_is_refused_before_anything_runs(tmp_path):
    pd.DataFrame(
        [Record("A", "v", "s", "sklearn", "float64", 1, 1.0, 1.0, 0.0, 1e-4, 1e-7, True).row()]
    ).to_csv(tmp_path / "benchmarks.csv", index=False)
    with pytest.raises(SystemExit, match="no peer rows for case"):
        main(["--quick", "--cases", "C", "--peers-from", str(tmp_path / "benchmarks.csv")])
    with pytest.raises(SystemExit):
        main(["--quick", "--cases", "CX", "--out", str(tmp_path)])
    assert not (tmp_path / "benchmarks.md").exists()


def test_a_failing_case_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    from experiments.bench import run

    def broken(*_):
        raise RuntimeError("no kernel image for this device")

    row = Record("B", "v", "s", "l1bench convex", "float64", 1, 1.0, 1.0, 0.0, 1e-6, 5e-7, True)
    monkeypatch.setitem(run.CASES, "A", broken)
    monkeypatch.setitem(run.CASES, "B", lambda *_: [row])
    with pytest.raises(SystemExit, match="case"):
        main(["--quick", "--cases", "AB", "--out", str(tmp_path)])
    text = (tmp_path / "benchmarks.md").read_text()
    assert "**Case A failed** and has no rows: `RuntimeError: no kernel image" in text
    assert list(pd.read_csv(tmp_path / "benchmarks.csv")["case"]) == ["B"]


def test_matmul_rates_measure_both_precisions():
    from experiments.bench.common import matmul_rates

    rates = matmul_rates(64, repeats=2)
    assert set(rates) == {"float64", "float32"}
    assert all(np.isfinite(v) and v > 0 for v in rates.values())  # x64 is on under l1bench


@pytest.mark.slow
def test_quick_suite_all_cases(tmp_path):
    main(["--quick", "--out", str(tmp_path)])
    df = _check_tables(tmp_path, "ABCDEF")
    mlp = df[df["case"] == "E"]
    for row in mlp.itertuples():
        if "difference" in row.quality:
            diff = float(row.quality.split("l1bench ")[1])
            assert diff < (1e-8 if row.precision == "float64" else 1e-3), row
    noise = df[(df["case"] == "F") & (df["solver"] == "NumPy loop")]
    diff = float(noise["quality"].iloc[0].split("l1bench ")[1])
    assert diff < 0.5  # Monte-Carlo agreement at 4 draws


def test_case_f_numpy_loops_agree_and_match_l1bench_where_deterministic():
    """Case F's two NumPy loops draw the same numbers (the quadratic ablation equals the direct
    loop to rounding); l1bench's own draws differ, but the deterministic worst case and the
    clean level-0 errors are the same numbers in all three."""
    from experiments.bench import noise

    rng = np.random.default_rng(1)
    W, b, X, y = noise.models_and_data(rng, 12, 40, 5)
    levels, draws = (0.0, 0.3, 0.6), 3
    loop = noise.numpy_loop(W, b, X, y, levels, draws)
    quad = noise.numpy_quadratic(W, b, X, y, levels, draws)
    ours, methods = noise.l1bench_eval(W, b, X, y, levels, draws, method="quadratic")
    for name in noise.NOISE:
        np.testing.assert_allclose(quad[name], loop[name], rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(ours[name][:, 0], loop[name][:, 0], rtol=1e-10, err_msg=name)
    assert not np.allclose(loop["gaussian"][:, 1:], ours["gaussian"][:, 1:])  # own draws
    assert methods["gaussian"] == "quadratic" and methods["adversarial_linf"] == "direct"


@pytest.mark.parametrize(
    "seconds,repeats,expected", [(0.01, 3, 10), (2.0, 3, 3), (11.0, 3, 1), (0.01, 1, 1)]
)
def test_time_warm_repeats_short_runs_more_and_long_runs_once(
    monkeypatch, seconds, repeats, expected
):
    from experiments.bench import common

    calls = []
    monkeypatch.setattr(common, "timed", lambda fn: (calls.append(1) or fn(), seconds))
    times, out = common.time_warm(lambda: "sol", repeats)
    assert len(times) == len(calls) == expected and out == "sol"


@pytest.mark.parametrize("repeats", ["0", "-2"])
def test_repeats_below_one_are_refused_before_anything_runs(tmp_path, capsys, repeats):
    with pytest.raises(SystemExit):
        main(["--quick", "--cases", "A", "--repeats", repeats, "--out", str(tmp_path)])
    assert "--repeats must be at least 1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no table written
