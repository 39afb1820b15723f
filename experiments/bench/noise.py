"""Case F: robustness evaluation of many linear models under a noise suite.

l1bench's :func:`l1bench.robustness.evaluate` (every fit × noise model × level × draw in one
jit, run as one range of draws per core; ``method="auto"`` picks the quadratic
form ``MSE_f = vᵀGv`` here, F = 1000 fits ≫ p = 50) against a NumPy loop over (noise model,
draw, level), under the mission's six kinds of noise
(:data:`NOISE`):

* ``NumPy loop`` — the direct computation, vectorized over models per perturbation
  (``R = X' @ Wᵀ + b − y'``, then ``Σ_i R_if² / n``; the adversarial worst case from its
  closed form ``mean (|r| + ε‖w‖₁)²``): the strong way to write it in NumPy, and the peer;
* ``NumPy quadratic form`` — an ablation, not a peer: l1bench's own algorithm written in NumPy
  (a Gram matrix per perturbation, polynomial in the level for additive noise, the packed
  quadratic forms of all models in one matrix product), so the table separates what the
  algorithm buys from what JAX buys.

Every solver uses l1bench's sampling design: a draw's noise sample is shared by every model
and every level of that draw (scaled, or thresholded for missing features). Both NumPy loops
draw the same numbers (one generator, same seed), so the quadratic one is checked against the
direct one exactly. l1bench draws from JAX's generator: its quality column compares the MSE
averaged over models and draws per noise model and level with the NumPy loop's (Monte-Carlo
error; the deterministic adversarial case agrees to rounding), and its quadratic form against
its own direct computation on the same draws (exact, rounding only).
"""

from __future__ import annotations

import numpy as np

from experiments.bench.common import DEFAULTS, fixed_work
from l1bench import robustness, runtime
from l1bench.noise import check_entry

# random, heavy-tailed, missing-feature, label, adversarial and parameter noise. The heavy tail
# is Laplace's (one uniform per number, in JAX and NumPy alike); a Student-t number costs a
# gamma variate by rejection (l1bench's sampler: 4 Gaussian draws' time, NumPy's 3.6)
NOISE = (
    "gaussian",
    "laplace",
    "feature_dropout",
    "label_noise",
    "adversarial_linf",
    "param_additive",
)
ABLATION = "NumPy quadratic form (ablation: l1bench's algorithm)"


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


def _sample(rng, name, X, y, W):
    """One draw's noise sample, shared by every level (as l1bench's draws are), or None."""
    n, p = X.shape
    if name == "gaussian":
        return rng.standard_normal((n, p))
    if name == "laplace":
        return rng.laplace(0.0, 1.0 / np.sqrt(2.0), (n, p))  # std 1
    if name == "feature_dropout":
        return rng.random((n, p))
    if name in ("label_noise", "param_additive"):
        return rng.standard_normal(n if name == "label_noise" else p)
    if name == "adversarial_linf":
        return None
    raise ValueError(f"noise model {name!r} is not in case F")


def _perturb(name, E, lv, X, y, W):
    """Level ``lv`` of the draw with sample ``E``: ``(X', y', W')`` (the same W' for every
    model under weight noise)."""
    if name in ("gaussian", "laplace"):
        return X + lv * E, y, W
    if name == "feature_dropout":
        return np.where(E < lv, 0.0, X), y, W
    if name == "label_noise":
        return X, y + lv * E, W
    return X, y, W + lv * E  # param_additive


def _adversarial(W, b, X, y, levels):
    """The exact worst case under ‖δ‖∞ ≤ ε: mean (|r| + ε‖w‖₁)², one draw: (F, levels, 1)."""
    A = np.abs(X @ W.T + b - y[:, None])  # (n, F)
    l1 = np.abs(W).sum(axis=1)
    return np.stack([np.mean((A + e * l1) ** 2, axis=0) for e in levels], axis=1)[..., None]


def numpy_loop(W, b, X, y, levels, draws, seed=0):
    """The direct computation, all models at once per perturbation: (F, levels, draws)."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    F = W.shape[0]
    WT = np.ascontiguousarray(W.T)
    out = {}
    for name in NOISE:
        if name == "adversarial_linf":
            out[name] = _adversarial(W, b, X, y, levels)
            continue
        err = np.empty((F, len(levels), draws))
        for d in range(draws):
            E = _sample(rng, name, X, y, W)
            for j, lv in enumerate(levels):
                Xn, yn, Wn = _perturb(name, E, lv, X, y, W)
                R = Xn @ (WT if Wn is W else Wn.T)  # (n, F)
                R += b
                R -= yn[:, None]
                err[:, j, d] = np.einsum("if,if->f", R, R) / n
        out[name] = err
    return out


def numpy_quadratic(W, b, X, y, levels, draws, seed=0):
    """l1bench's algorithm in NumPy: the quadratic form ``MSE_f = vᵀ G v`` (v = [w_f, b_f, −1],
    G = ZᵀZ/n, Z = [X', 1, y']), polynomial in the level for additive noise (one E per draw:
    ``G(ℓ) = G₀ + ℓ S + ℓ² G₁₁``), the same draws as :func:`numpy_loop`: (F, levels, draws)."""
    rng = np.random.default_rng(seed)
    n, p = X.shape
    F = W.shape[0]
    q = p + 2
    lv = np.asarray(levels)
    iu, ju = np.triu_indices(q)
    V = np.concatenate([W, b[:, None], -np.ones((F, 1))], axis=1)  # (F, q)
    M = V[:, iu] * V[:, ju] * np.where(iu == ju, 1.0, 2.0)  # packed v vᵀ, (F, q(q+1)/2)
    Z = np.concatenate([X, np.ones((n, 1)), y[:, None]], axis=1)
    G0 = Z.T @ Z / n
    base = M @ G0[iu, ju]  # (F,) the clean MSE
    out = {}
    for name in NOISE:
        if name == "adversarial_linf":
            out[name] = _adversarial(W, b, X, y, levels)
            continue
        err = np.empty((F, len(levels), draws))
        if name in ("gaussian", "laplace"):  # Z(ℓ) = Z + ℓ [E, 0, 0]
            S, G11 = np.empty((draws, iu.size)), np.empty((draws, iu.size))
            Z1 = np.zeros((n, q))
            for d in range(draws):
                Z1[:, :p] = _sample(rng, name, X, y, W)
                P = Z1.T @ Z / n
                S[d] = (P + P.T)[iu, ju]
                G11[d] = (Z1.T @ Z1)[iu, ju] / n
            err[:] = base[:, None, None] + lv[None, :, None] * (M @ S.T)[:, None, :]
            err += (lv * lv)[None, :, None] * (M @ G11.T)[:, None, :]
        elif name == "feature_dropout":
            Gp = np.empty((len(levels), draws, iu.size))
            for d in range(draws):
                E = _sample(rng, name, X, y, W)
                for j, level in enumerate(levels):
                    Z[:, :p] = _perturb(name, E, level, X, y, W)[0]
                    Gp[j, d] = (Z.T @ Z)[iu, ju] / n
            Z[:, :p] = X
            err[:] = (M @ Gp.reshape(-1, iu.size).T).reshape(F, len(levels), draws)
        elif name == "label_noise":  # y' = y + ℓz: r'ᵀ terms linear and quadratic in ℓ
            for d in range(draws):
                z = _sample(rng, name, X, y, W)
                c = Z[:, :-1].T @ z / n
                # ‖y + ℓz − A v‖²/n = base + 2ℓ (y − A v)ᵀz/n + ℓ² zᵀz/n
                err[:, :, d] = (
                    base[:, None]
                    + 2.0 * np.outer(-(V[:, :-1] @ c) + y @ z / n, lv)
                    + (lv * lv)[None, :] * (z @ z / n)
                )
        else:  # param_additive: v' = v + ℓ[e, 0, 0]
            for d in range(draws):
                e = np.zeros(q)
                e[:p] = _sample(rng, name, X, y, W)
                g = G0 @ e
                err[:, :, d] = base[:, None] + 2.0 * np.outer(V @ g, lv) + (lv * lv) * (e @ g)
        out[name] = err
    return out


def _max_rel(a, b) -> float:
    return max(float(np.max(np.abs(a[m] / b[m] - 1.0))) for m in NOISE)


def run_case(
    *, W, b, X, y, levels, draws, size, repeats, precisions=("float64",), opts=DEFAULTS, log=print
):
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
        threads = runtime.threaded_chunks(draws, runtime.host_pool_threads())
        rec.quality = (
            f"method {ran}; draws over {threads} host thread(s); max rel. difference vs "
            f"method=direct {_max_rel(out, direct):.1e}"
        )
        ref = out if ref is None else ref
        log(
            f"  {rec.solver} {prec} ({ran}): {rec.run_s:.3f} s (compile {rec.compile_s:.2f} s)"
            f"  {rec.quality}"
        )
        records.append(rec)
    if not opts.peers:
        return records

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
        solver=ABLATION,
        precision="float64",
        run=lambda: numpy_quadratic(W, b, X, y, levels, draws),
        repeats=repeats,
        quality=lambda o: (
            f"same draws as the NumPy loop: max rel. difference {_max_rel(o, loop):.1e}"
        ),
    )
    rec.peer = False
    log(f"  {ABLATION}: {rec.run_s:.3f} s  {rec.quality}")
    records.append(rec)
    return records
