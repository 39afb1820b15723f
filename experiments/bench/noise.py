"""Case F: robustness evaluation of many linear models under a noise suite.

l1bench's :func:`l1bench.robustness.evaluate` (every fit × noise model × level × draw in one
jit; ``method="auto"`` picks the quadratic form ``MSE_f = vᵀGv`` here, F = 1000 fits ≫ p = 50)
against two NumPy loops over (noise model, level, draw):

* ``NumPy loop`` — the direct computation, vectorized over models per perturbation
  (``R = X' @ Wᵀ + b − y'``, then ``Σ_i R_if² / n``): the strong way to write it in NumPy;
* ``NumPy quadratic form`` — the same algorithm as l1bench's (a Gram matrix per perturbation,
  the packed quadratic forms of all models for all draws of a noise model in one matrix
  product; label noise updates only the last column; weight noise perturbs v), so the table
  separates what the algorithm buys from what JAX buys.

Both NumPy loops draw the same numbers (one generator, same seed), so the quadratic one is
checked against the direct one exactly. l1bench draws from JAX's generator (common random
numbers across models, as the NumPy loops do): its quality column compares the MSE averaged
over models and draws per noise model and level with the NumPy loop's (Monte-Carlo error), and
its quadratic form against its own direct computation on the same draws (exact, rounding only).
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


def l1bench_eval(W, b, X, y, levels, draws, method="auto"):
    """``({noise: (F, levels, draws) MSE}, {noise: method that ran})``."""
    suite = [check_entry(m, {"levels": list(levels)}, task="regression", depth=1) for m in NOISE]
    params = ({"w": W[None, :, :, None], "b": b[None, :, None]},)  # (S=1, F, p, 1)
    out = robustness.evaluate(
        params,
        X[None],
        y[None],
        np.array([0]),
        suite,
        draws=draws,
        task="regression",
        method=method,
    )
    return {e.name: e.errors["mse"][0] for e in out}, {e.name: e.method for e in out}


def _perturb(rng, name, lv, X, y, W):
    """One draw of noise model ``name`` at level ``lv``: ``(X', y', W')``."""
    n, p = X.shape
    if name == "gaussian":
        return X + lv * rng.standard_normal((n, p)), y, W
    if name == "uniform":
        return X + np.sqrt(3.0) * lv * rng.uniform(-1.0, 1.0, (n, p)), y, W
    if name == "laplace":
        return X + lv / np.sqrt(2.0) * rng.laplace(size=(n, p)), y, W
    if name == "feature_dropout":
        return np.where(rng.random((n, p)) < lv, 0.0, X), y, W
    if name == "label_noise":
        return X, y + lv * rng.standard_normal(n), W
    if name == "param_additive":
        return X, y, W + lv * rng.standard_normal(p)  # the same draw for every model
    raise ValueError(f"noise model {name!r} is not in case F")


def numpy_loop(W, b, X, y, levels, draws, seed=0):
    """The direct computation, all models at once per perturbation: (F, levels, draws)."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    F = W.shape[0]
    WT = np.ascontiguousarray(W.T)
    out = {}
    for name in NOISE:
        err = np.empty((F, len(levels), draws))
        for j, lv in enumerate(levels):
            for d in range(draws):
                Xn, yn, Wn = _perturb(rng, name, lv, X, y, W)
                R = Xn @ (WT if Wn is W else Wn.T)  # (n, F)
                R += b
                R -= yn[:, None]
                err[:, j, d] = np.einsum("if,if->f", R, R) / n
        out[name] = err
    return out


def numpy_quadratic(W, b, X, y, levels, draws, seed=0):
    """The quadratic form ``MSE_f = vᵀ G v`` (v = [w_f, b_f, −1], G = ZᵀZ/n, Z = [X', 1, y']),
    the same draws as :func:`numpy_loop`: (F, levels, draws)."""
    rng = np.random.default_rng(seed)
    n, p = X.shape
    F = W.shape[0]
    q = p + 2
    iu, ju = np.triu_indices(q)
    V = np.concatenate([W, b[:, None], -np.ones((F, 1))], axis=1)  # (F, q)
    M = V[:, iu] * V[:, ju] * np.where(iu == ju, 1.0, 2.0)  # packed v vᵀ, (F, q(q+1)/2)
    Z = np.concatenate([X, np.ones((n, 1)), y[:, None]], axis=1)
    G0 = Z.T @ Z / n
    out = {}
    for name in NOISE:
        err = np.empty((F, len(levels), draws))
        if name in ("gaussian", "uniform", "laplace", "feature_dropout"):
            Gp = np.empty((len(levels) * draws, iu.size))
            for j, lv in enumerate(levels):
                for d in range(draws):
                    Z[:, :p] = _perturb(rng, name, lv, X, y, W)[0]
                    Gp[j * draws + d] = (Z.T @ Z)[iu, ju] / n
            Z[:, :p] = X
            err[:] = (M @ Gp.T).reshape(F, len(levels), draws)
        elif name == "label_noise":
            quad = np.einsum("fi,ij,fj->f", V[:, :-1], G0[:-1, :-1], V[:, :-1])
            for j, lv in enumerate(levels):
                for d in range(draws):
                    yn = _perturb(rng, name, lv, X, y, W)[1]
                    c = Z[:, :-1].T @ yn / n
                    err[:, j, d] = quad - 2.0 * (V[:, :-1] @ c) + yn @ yn / n
        else:  # param_additive: v' = v + [ℓz, 0, 0]
            for j, lv in enumerate(levels):
                for d in range(draws):
                    Vn = V.copy()
                    Vn[:, :p] = _perturb(rng, name, lv, X, y, W)[2]
                    err[:, j, d] = np.einsum("fi,fi->f", Vn @ G0, Vn)
        out[name] = err
    return out


def _max_rel(a, b) -> float:
    return max(float(np.max(np.abs(a[m] / b[m] - 1.0))) for m in NOISE)


def run_case(*, W, b, X, y, levels, draws, size, repeats, precisions=("float64",), log=print):
    records = []
    ref = None
    for prec in precisions:
        dt = np.float64 if prec == "float64" else np.float32
        args = (W.astype(dt), b.astype(dt), X.astype(dt), y.astype(dt), levels, draws)
        rec, (out, methods) = fixed_work(
            case="F",
            variant="robustness evaluation",
            size=size,
            solver="l1bench robustness.evaluate",
            precision=prec,
            run=lambda args=args: l1bench_eval(*args),
            repeats=repeats,
            notes="compile_s: first call minus median",
        )
        ran = ", ".join(sorted(set(methods.values())))
        # the same draws computed directly (untimed): the quadratic form must agree to rounding
        direct, _ = l1bench_eval(*args, method="direct")
        rec.quality = (
            f"method {ran}; max rel. difference vs method=direct {_max_rel(out, direct):.1e}"
        )
        ref = out if ref is None else ref
        log(
            f"  {rec.solver} {prec} ({ran}): {rec.run_s:.3f} s (compile {rec.compile_s:.2f} s)"
            f"  {rec.quality}"
        )
        records.append(rec)

    def quality(o):
        # different random draws: compare the MSE averaged over models and draws per (noise
        # model, level); the difference is Monte-Carlo error (≈10% at 20 draws for
        # param_additive, whose single weight perturbation per draw is shared by all models)
        diff = max(
            float(np.max(np.abs(o[m].mean((0, 2)) / ref[m].mean((0, 2)) - 1.0))) for m in NOISE
        )
        return f"max rel. difference of the mean MSE per noise × level vs l1bench {diff:.1e}"

    rec, loop = fixed_work(
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
    rec, _ = fixed_work(
        case="F",
        variant="robustness evaluation",
        size=size,
        solver="NumPy quadratic form",
        precision="float64",
        run=lambda: numpy_quadratic(W, b, X, y, levels, draws),
        repeats=repeats,
        quality=lambda o: (
            f"same draws as the NumPy loop: max rel. difference {_max_rel(o, loop):.1e}"
        ),
    )
    log(f"  NumPy quadratic form: {rec.run_s:.3f} s  {rec.quality}")
    records.append(rec)
    return records
