"""Case F: robustness evaluation of many linear models under a noise suite.

l1bench's :func:`l1bench.robustness.evaluate` (every fit × noise model × level × draw in one
jit) against a NumPy loop over (noise model, level, draw) that evaluates all models at once per
perturbation (``X' @ W``, vectorized over models: the strong way to write it in NumPy). Both use
common random numbers across models, as l1bench does; the draws differ between the two (different
generators), so the quality column compares the MSE averaged over models and draws, per noise model
and level (a Monte-Carlo comparison).
"""

from __future__ import annotations

import numpy as np

from experiments.bench.common import fixed_work
from l1bench import robustness
from l1bench.noise import check_entry

NOISE = ("gaussian", "uniform", "laplace", "feature_dropout", "label_noise", "param_additive")


def models_and_data(rng, n_models: int, n: int, p: int):
    """Sparse random linear models (F, p), intercepts (F,), and a test set (n, p), (n,)."""
    W = rng.standard_normal((n_models, p)) * (rng.random((n_models, p)) < 0.2)
    b = rng.standard_normal(n_models)
    X = rng.standard_normal((n, p))
    y = X @ W[0] + b[0] + 0.5 * rng.standard_normal(n)
    return W, b, X, y


def l1bench_eval(W, b, X, y, levels, draws):
    suite = [check_entry(m, {"levels": list(levels)}, task="regression", depth=1) for m in NOISE]
    params = ({"w": W[None, :, :, None], "b": b[None, :, None]},)  # (S=1, F, p, 1)
    out = robustness.evaluate(
        params, X[None], y[None], np.array([0]), suite, draws=draws, task="regression"
    )
    return {e.name: e.errors["mse"][0] for e in out}  # (F, levels, draws)


def numpy_loop(W, b, X, y, levels, draws, seed=0):
    rng = np.random.default_rng(seed)
    n, p = X.shape
    F = W.shape[0]
    out = {}
    for name in NOISE:
        err = np.empty((F, len(levels), draws))
        for j, lv in enumerate(levels):
            for d in range(draws):
                Xn, yn, Wn = X, y, W
                if name == "gaussian":
                    Xn = X + lv * rng.standard_normal((n, p))
                elif name == "uniform":
                    Xn = X + np.sqrt(3.0) * lv * rng.uniform(-1.0, 1.0, (n, p))
                elif name == "laplace":
                    Xn = X + lv / np.sqrt(2.0) * rng.laplace(size=(n, p))
                elif name == "feature_dropout":
                    Xn = np.where(rng.random((n, p)) < lv, 0.0, X)
                elif name == "label_noise":
                    yn = y + lv * rng.standard_normal(n)
                elif name == "param_additive":
                    Wn = W + lv * rng.standard_normal(p)  # the same draw for every model
                pred = Xn @ Wn.T + b  # (n, F)
                err[:, j, d] = np.mean((pred - yn[:, None]) ** 2, axis=0)
        out[name] = err
    return out


def run_case(*, W, b, X, y, levels, draws, size, repeats, precisions=("float64",), log=print):
    records = []
    ref = None
    for prec in precisions:
        dt = np.float64 if prec == "float64" else np.float32
        args = (W.astype(dt), b.astype(dt), X.astype(dt), y.astype(dt), levels, draws)
        rec, out = fixed_work(
            case="F",
            variant="robustness evaluation",
            size=size,
            solver="l1bench robustness.evaluate",
            precision=prec,
            run=lambda args=args: l1bench_eval(*args),
            repeats=repeats,
            notes="compile_s: first call minus median",
        )
        ref = out if ref is None else ref
        log(f"  {rec.solver} {prec}: {rec.run_s:.3f} s (compile {rec.compile_s:.2f} s)")
        records.append(rec)

    def quality(o):
        # different random draws: compare the MSE averaged over models and draws per (noise
        # model, level); the difference is Monte-Carlo error (≈10% at 20 draws for
        # param_additive, whose single weight perturbation per draw is shared by all models)
        diff = max(
            float(np.max(np.abs(o[m].mean((0, 2)) / ref[m].mean((0, 2)) - 1.0))) for m in NOISE
        )
        return f"max rel. difference of the mean MSE per noise × level vs l1bench {diff:.1e}"

    rec, _ = fixed_work(
        case="F",
        variant="robustness evaluation",
        size=size,
        solver="NumPy loop",
        precision="float64",
        run=lambda: numpy_loop(W, b, X, y, levels, draws),
        repeats=repeats,
        quality=quality,
    )
    log(f"  NumPy loop: {rec.run_s:.3f} s  {rec.quality}")
    records.append(rec)
    return records
