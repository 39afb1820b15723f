"""Robustness evaluation: every fit × noise model × level × random draw in one compiled call.

For noise model ``m`` (index ``i`` in the suite) the error of fit ``f`` at level ``ℓ`` (index
``j``) and draw ``d`` is the task's error on the perturbed test set

.. code-block:: python

   X', y', params' = m.fn(fold_in(fold_in(key, i), d), X_test, y_test, params[f], ℓ)

vmapped over fits × levels × draws, every model of the suite traced into ONE jit. The key does
not depend on the fit, so every fit sees the same perturbations (common random numbers:
differences between penalties are not blurred by noise draws) and results do not depend on where
a fit sits in the grid. Nor does it depend on the level: the levels of draw ``d`` scale (or, for
missing features and label flips, threshold) one sample, so an error-versus-level curve is one
smooth curve per draw, its slope not blurred by fresh draws at every level, and the random
numbers are generated once per draw. Deterministic models (the adversarial worst cases) use one
draw. On a CPU the draws of models without hidden layers are split into ranges run
concurrently from one host thread per core (``threads``, :func:`_run_suite`): a draw's key does
not depend on where it runs, so the errors are the one-call errors (to rounding).

Two ways to compute the errors, chosen per noise model (``method``, :func:`choose_method`;
each result says which ran):

* ``direct`` — every fit's predictions on every perturbed test set (any model, task, noise);
* ``quadratic`` — linear regression only (no hidden layer, squared error) under noise that does
  not depend on the fit (inputs, labels, weights; not the adversarial worst cases): with
  ``Z = [X', 1, y']`` and ``G = ZᵀZ/n``, ``MSE_f = vᵀGv`` for ``v = [w_f, b_f, −1]``, centred on
  the best clean fit (:func:`_quadratic`), so one perturbation costs ``n(p+2)²`` for G plus
  ``F(p+2)²/2`` for the F forms instead of ``n·p·F``. Same draws, same errors up to rounding
  (1e-14 relative in float64, tested). ``auto`` takes it where it costs less (F ≳ p + 4).

Two entry points share that core:

* :func:`evaluate_fits` — one problem: ``params`` with a leading fit axis F, one test set, one
  key, a suite given as ``[(name, levels, options), ...]``; returns ``{name: {metric: (F,
  levels, draws)}}`` with MSE for regression and error rate (1 − accuracy) and log-loss for
  classification.
* :func:`evaluate` — the pipeline's form: S problems (seeds) × F fits, checked
  :class:`~l1bench.noise.SuiteEntry` lists, each problem's key derived from its seed, metrics
  named as :data:`l1bench.metrics.ERRORS`.

Also here: the summary metrics of an error-versus-level curve (:func:`degradation`,
:func:`auc`, :func:`worst_case`), :func:`support_recovery` against known true coefficients and
:func:`layer_sparsity`. These helpers are numpy functions.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l1bench import metrics, models, runtime
from l1bench.noise import NOISE_MODELS, SuiteEntry, check_entry
from l1bench.vocab import STREAMS, TASKS

NOISE_STREAM = STREAMS["noise"]


class NoiseErrors(NamedTuple):
    """Errors under one noise model: ``{metric: (S, F, levels, draws)}``.

    ``method`` says how they were computed: ``direct`` (every fit's predictions on every
    perturbed test set) or ``quadratic`` (the Gram-matrix form, see the module docstring).
    """

    name: str
    levels: tuple[float, ...]
    errors: dict[str, np.ndarray]
    method: str = "direct"


def quadratic_applies(task: str, depth: int, n_out: int, target: str) -> bool:
    """Whether the quadratic form can compute a noise model's errors exactly.

    It needs the squared error of a linear model with one output (regression, no hidden
    layer) and a noise model that perturbs the inputs and labels independently of the fit, or
    the weights alone (targets ``inputs``, ``labels``, ``params``; not the adversarial ones,
    whose perturbation depends on each fit).
    """
    return task == "regression" and depth == 1 and n_out == 1 and target in _QUADRATIC_TARGETS


_QUADRATIC_TARGETS = ("inputs", "labels", "params")


def choose_method(method: str, *, task, depth, n_out, target, n, p, n_fits) -> str:
    """``direct`` or ``quadratic`` for one noise model (see :data:`METHODS`).

    ``auto`` takes the quadratic form where it applies and costs fewer multiply-adds per
    draw, ``(n + F)(p + 2)² < n·p·F`` (n test examples, p features, F fits; it pays once
    F is larger than about p + 4); ``quadratic`` takes it wherever it applies; ``direct``
    never.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}; choose one of {', '.join(METHODS)}")
    if method == "direct" or not quadratic_applies(task, depth, n_out, target):
        return "direct"
    if method == "quadratic":
        return "quadratic"
    q = p + 2
    return "quadratic" if (n + n_fits) * q * q < n * p * n_fits else "direct"


METHODS = ("auto", "direct", "quadratic")


def _over_draws(f, base, lv, ds, *, loop=False):
    """``f(key, level)`` for every level and every draw index of ``ds`` (D,); leaves (L, D, ...).

    Draw ``d`` uses the key ``fold_in(base, d)`` at every level, so its random numbers are
    one sample, only scaled or thresholded per level. ``loop=False`` vmaps both axes (the key
    is not batched over the levels: each draw's numbers are generated once). ``loop=True``
    maps over draws and levels one at a time (lax loops): for bodies that end in a small
    matrix product, where XLA CPU runs one product per iteration several times faster than
    the batched product, and that keep their perturbed inputs out of memory.
    """

    def one_draw(d):
        k = jax.random.fold_in(base, d)
        at = lambda level: f(k, level)
        return jax.lax.map(at, lv) if loop else jax.vmap(at)(lv)

    out = jax.lax.map(one_draw, ds) if loop else jax.vmap(one_draw)(ds)
    return jax.tree_util.tree_map(lambda a: jnp.swapaxes(a, 0, 1), out)


def _direct(fn, outputs, opts, ds, lv, ps, Xs, ys, base, ctx):
    """Every fit's errors from its predictions on every perturbed test set: (F, L, D) each.

    The predictions come from the noise model's closed-form ``outputs`` where it has one
    (:class:`~l1bench.noise.NoiseModel`), else from the model applied to ``fn``'s inputs.
    """
    task, activation = ctx["task"], ctx["activation"]

    def per_fit(p):
        def perturbed(k, level):
            closed = None if outputs is None else outputs(k, Xs, ys, p, level, **ctx, **opts)
            if closed is not None:
                out, y2 = closed
            else:
                X2, y2, p2 = fn(k, Xs, ys, p, level, **ctx, **opts)
                out = jax.vmap(lambda x: models.apply(p2, x, activation=activation))(X2)
            return metrics.errors(out, y2, task)

        return _over_draws(perturbed, base, lv, ds)

    return jax.vmap(per_fit)(ps)


def _packed(Ut):
    """``(iu, ju, M)``: the upper triangle's indices of a q × q matrix and the packed forms
    ``M_f = ũ_f ũ_fᵀ`` (off-diagonal entries doubled), so that ``ũ_fᵀGũ_f = M_f · G[iu, ju]``."""
    iu, ju = np.triu_indices(Ut.shape[1])
    weight = jnp.asarray(np.where(iu == ju, 1.0, 2.0), Ut.dtype)
    return iu, ju, Ut[:, iu] * Ut[:, ju] * weight  # M: (F, T)


def _tilde(U):
    """``ũ = [u, -1]`` per row: the residual ``r - A u`` (up to its sign, which no quadratic
    form sees) as coefficients on the columns of ``[A, r]``."""
    return jnp.concatenate([U, -jnp.ones((U.shape[0], 1), U.dtype)], axis=1)


def _forms(U, G):
    """The quadratic forms ``u_f^T G u_f`` of the rows of ``U``."""
    return jnp.sum((U @ G) * U, axis=1)


def _quadratic(fn, opts, ds, lv, target, additive, ps, Xs, ys, base, ctx):
    """The MSE and R² of every fit as a quadratic form in its centred weights: (F, L, D) each.

    With A = [X', 1] (n × (p+1)), u_f = [w_f, b_f] − [w_r, b_r] (centred on the reference
    fit r, the fit of smallest clean MSE) and r' = y' − A [w_r, b_r] the reference's residual
    on the perturbed test set, the residual of fit f is ``y' − A [w_f, b_f] = r' − A u_f``, so

    .. math:: \\mathrm{MSE}_f = \\frac{1}{n}\\lVert r' - A u_f\\rVert^2
       = \\tilde u_f^\\top G \\tilde u_f, \\quad \\tilde u_f = [u_f, -1],
       \\quad G = \\frac{1}{n} [A, r']^\\top [A, r'],

    at ``n(p+2)²`` multiply-adds per perturbation for G plus ``F(p+2)(p+3)/2`` for the F
    forms (one matrix product of the packed upper triangles over all draws), instead of
    ``n·p·F``. Input noise recomputes G per draw; label noise only its last column (X' = X);
    weight noise keeps the clean G and perturbs u_f.

    *Additive* noise (``NoiseModel.additive``: ``X' = X + ℓE`` or ``w' = w + ℓE``, E drawn from
    the key alone) is polynomial in ℓ, and the levels of a draw share E (:func:`_over_draws`):
    for inputs ``[A', r'] = Z₀ + ℓZ₁`` with ``Z₁ = [E, 0, −E w_r]``, and ``Z₁ũ_f = E w_f``, so
    ``MSE_f(ℓ) = ũ_fᵀG₀ũ_f + 2ℓ ũ_fᵀ(Z₀ᵀE/n) w_f + ℓ² w_fᵀ(EᵀE/n) w_f``: each draw costs two
    products with E and two sets of forms whatever the number of levels. The ℓ and ℓ² terms
    are written in the fit's own weights w_f, not in ũ_f: through ũ_f the ℓ² term was a
    difference of terms of size ``|E w_r|²``, whose rounding, times ℓ², had given a fit with
    w = 0 a spread over draws at large levels (float32: 14% at level 1000). For weights
    ``ũ_f + ℓẽ`` gives ``MSE_f = ũ_fᵀGũ_f + 2ℓ ũ_fᵀGẽ + ℓ² ẽᵀGẽ``, F dot products per draw.
    Centring keeps the clean form on the scale of the differences between fits rather than of
    the weights, so that it loses little to cancellation in float32.
    """
    layer = ps[0]
    V = jnp.concatenate([layer["w"][..., 0], layer["b"]], axis=1)  # (F, p+1)
    n = Xs.shape[0]
    dt = Xs.dtype
    one = jnp.ones((n, 1), dt)
    A = jnp.concatenate([Xs, one], axis=1)  # (n, p+1)
    Gxx = (A.T @ A) / n
    # the reference: the fit of smallest clean MSE (uncentred form; it only picks the centre)
    cy = (A.T @ ys) / n
    clean = _forms(V, Gxx) - 2.0 * (V @ cy) + (ys @ ys) / n
    ref = jnp.argmin(jnp.where(jnp.isfinite(clean), clean, jnp.inf))
    vr = V[ref]
    U = V - vr  # (F, p+1)
    Ut = _tilde(U)  # (F, q)
    p_ref = jax.tree_util.tree_map(lambda a: a[ref], ps)
    L, D, F = lv.shape[0], ds.shape[0], U.shape[0]
    Z0 = jnp.concatenate([A, (ys - A @ vr)[:, None]], axis=1)  # (n, q): [A, r] on clean data
    G0 = (Z0.T @ Z0) / n

    clean_var = jnp.broadcast_to(jnp.var(ys), (L, D))  # y' = y: every noise but labels'

    def perturb(k, level, X=Xs, params=p_ref):
        return fn(k, X, ys, params, level, **ctx, **opts)

    if target == "inputs" and additive:
        iu, ju, M = _packed(Ut)
        W = V[:, :-1]  # (F, p): the noise moves fit f's residual by ℓ E w_f
        zero = jnp.zeros_like(Xs)

        def terms(d):  # the ℓ and ℓ² terms of every fit's MSE for one draw: (F,) each
            # E from level 1 on a zero X: exactly the sample the draw's levels scale
            E = perturb(jax.random.fold_in(base, d), jnp.ones((), dt), zero)[0]
            K = (Z0.T @ E) / n  # (q, p)
            H = (E.T @ E) / n  # (p, p)
            return 2.0 * jnp.sum(Ut * (W @ K.T), axis=1), _forms(W, H)

        lin, sq = (t.T[:, None, :] for t in jax.lax.map(terms, ds))  # (F, 1, D) each
        base_mse = M @ G0[iu, ju]  # (F,)
        # 0 · ℓ stays 0 at any level: a fit with w = 0 keeps its clean MSE, as in the direct form
        scaled = lambda level, term: jnp.where(term == 0, 0.0, level[None, :, None] * term)
        mse = base_mse[:, None, None] + scaled(lv, lin) + scaled(lv * lv, sq)  # (F, L, D)
        var = clean_var
    elif target == "inputs":
        iu, ju, M = _packed(Ut)

        def gram(k, level):  # the packed Gram matrix of [X', 1, r'] for one perturbation
            X2, y2 = perturb(k, level)[:2]
            r = y2 - X2 @ vr[:-1] - vr[-1]
            Z = jnp.concatenate([X2, one, r[:, None]], axis=1)
            return (Z.T @ Z)[iu, ju] / n, jnp.var(y2)

        Gp, var = _over_draws(gram, base, lv, ds, loop=True)  # (L, D, T), (L, D)
        mse = (M @ Gp.reshape(L * D, -1).T).reshape(F, L, D)
    elif target == "labels":
        quad = _forms(U, Gxx)  # (F,)

        def column(k, level):
            _, y2, _ = perturb(k, level)
            r = y2 - A @ vr
            return (A.T @ r) / n, (r @ r) / n, jnp.var(y2)

        c, s, var = _over_draws(column, base, lv, ds)  # (L, D, p+1), (L, D), (L, D)
        mse = quad[:, None, None] - 2.0 * jnp.einsum("fi,ldi->fld", U, c) + s[None]
    elif additive:  # params: w' = w + ℓE, the same E for every fit
        zero = jax.tree_util.tree_map(jnp.zeros_like, p_ref)

        def shift(d):
            p2 = perturb(jax.random.fold_in(base, d), jnp.ones((), dt), params=zero)[2]
            return jnp.concatenate([p2[0]["w"][:, 0], p2[0]["b"], jnp.zeros((1,), dt)])

        Et = jax.vmap(shift)(ds)  # (D, q), ẽ per draw
        GE = Et @ G0  # (D, q)
        base_mse = _forms(Ut, G0)  # (F,)
        cross, sq = Ut @ GE.T, jnp.sum(GE * Et, axis=1)  # (F, D), (D,)
        mse = base_mse[:, None, None] + 2.0 * lv[None, :, None] * cross[:, None, :]
        mse = mse + (lv * lv)[None, :, None] * sq[None, None, :]
        var = clean_var
    else:  # params

        def perturbed(k, level):
            p2 = jax.vmap(lambda p: fn(k, Xs, ys, p, level, **ctx, **opts)[2])(ps)
            return jnp.concatenate([p2[0]["w"][..., 0], p2[0]["b"]], axis=1) - vr

        # every perturbed fit of every draw, then the forms as one (L·D·F, p+1) product
        U2 = _over_draws(perturbed, base, lv, ds, loop=True).reshape(-1, U.shape[1])
        mse = _forms(_tilde(U2), G0).reshape(L, D, F)
        mse = jnp.moveaxis(mse, -1, 0)
        var = clean_var
    r2 = 1.0 - mse / jnp.where(var > 0, var, jnp.nan)[None]
    return mse, r2


@partial(jax.jit, static_argnames=("spec", "task", "activation", "n_classes"))
def _evaluate_suite(
    params, X, y, keys, levels, ds, train_mean, *, spec, task, activation, n_classes
):
    """The compiled core: a tuple, per entry of ``spec``, of the metric tuples (S, F, L, D).

    ``spec`` is static: per model ``(index in the suite, fn, sorted option items, random,
    method, target, additive, outputs)``; ``levels`` a tuple of (L_m,) arrays; ``keys`` (S,)
    one key per problem; ``ds`` (D,) the draw indices the random models run (a deterministic
    one runs draw 0 alone, D = 1); ``train_mean`` (S, p) the training parts' column means
    (every noise model gets its problem's row as ``train_mean``), or None.
    """
    first = jnp.zeros((1,), ds.dtype)

    def one_model(i, fn, opts, random, method, target, additive, outputs, lv):
        draw_ids = ds if random else first

        def per_problem(ps, Xs, ys, key, mean):
            ctx = {"task": task, "activation": activation, "n_classes": n_classes}
            ctx = ctx if mean is None else {**ctx, "train_mean": mean}
            base = jax.random.fold_in(key, i)
            if method == "quadratic":
                return _quadratic(fn, opts, draw_ids, lv, target, additive, ps, Xs, ys, base, ctx)
            return _direct(fn, outputs, opts, draw_ids, lv, ps, Xs, ys, base, ctx)

        return jax.vmap(per_problem)(params, X, y, keys, train_mean)

    return tuple(
        one_model(i, fn, dict(opts), *rest, lv)
        for (i, fn, opts, *rest), lv in zip(spec, levels, strict=True)
    )


def _run_suite(
    params, X, y, keys, suite, draws, task, activation, n_classes, method, threads, train_mean
):
    """Run the compiled core; returns ``(values, methods)``, one per suite entry.

    On a CPU, for models without hidden layers (linear, logistic), the draws of the random
    models are split into up to ``threads`` equal ranges
    (:func:`l1bench.runtime.threaded_chunks`), run concurrently from host threads: the
    random numbers and small products of one range keep about one core busy. Range ``j``
    runs the draws ``j·c .. j·c + c − 1`` of every random model (the last range padded past
    ``draws``, the padding dropped); every range also runs the deterministic models (draw 0,
    on its own core: so one executable serves every range, compiled once). Draw ``d``'s key
    is ``fold_in(base, d)`` wherever it runs, so the errors are the one-call errors (to
    rounding).
    """
    ws = models.weights(params)
    dtype = ws[0].dtype
    n, p = X.shape[-2:]
    methods = tuple(
        choose_method(
            method,
            task=task,
            depth=len(ws),
            n_out=ws[-1].shape[-1],
            target=e.model.target,
            n=n,
            p=p,
            n_fits=ws[0].shape[1],
        )
        for e in suite
    )
    spec = tuple(
        (
            i,
            e.model.fn,
            tuple(sorted(e.options.items())),
            e.model.random,
            m,
            e.model.target,
            e.model.additive,
            e.model.outputs,
        )
        for i, (e, m) in enumerate(zip(suite, methods, strict=True))
    )
    levels = tuple(jnp.asarray(e.levels, dtype) for e in suite)
    random = [e.model.random for e in suite]
    X, y = jnp.asarray(X, dtype), jnp.asarray(y, dtype)
    if train_mean is not None:
        train_mean = jnp.asarray(train_mean, dtype)
    threads = runtime.host_pool_threads() if threads is None else threads
    # models without hidden layers only: their products are small and keep one core busy; an
    # MLP's larger ones XLA already spreads over the cores, and splitting its draws measured
    # slower (0.78-0.87x, 2 cores; linear and logistic models 1.06-1.5x faster)
    k = runtime.threaded_chunks(draws, threads) if any(random) and len(ws) == 1 else 1
    c = -(-draws // k)

    def run(j):  # every model's errors on range j of the draws (host arrays)
        with jax.default_matmul_precision(runtime.MATMUL_PRECISION):
            vals = _evaluate_suite(
                params,
                X,
                y,
                keys,
                levels,
                jnp.arange(j * c, (j + 1) * c),
                train_mean,
                spec=spec,
                task=task,
                activation=activation,
                n_classes=n_classes,
            )
        return vals if k == 1 else jax.device_get(vals)

    if k == 1:
        return run(0), methods
    # every range runs one program (the draw indices are traced): on a first call range 0 runs
    # alone and compiles it, then the others run concurrently (concurrent first calls would
    # each compile it)
    leaves = jax.tree_util.tree_leaves((params, X, y, keys, levels, train_mean))
    signature = (spec, task, activation, n_classes, c, *((a.shape, a.dtype) for a in leaves))
    parts = [] if signature in runtime.WARM else [run(0)]
    runtime.WARM.add(signature)
    with ThreadPoolExecutor(k) as pool:
        parts += pool.map(run, range(len(parts), k))
    runtime.note_threads(k)  # the manifest's ``threads``
    joined = tuple(
        tuple(
            np.concatenate([part[s][m] for part in parts], axis=3)[..., :draws]
            for m in range(len(v))
        )
        if r
        else v  # deterministic: draw 0 in every range, the same errors
        for s, (r, v) in enumerate(zip(random, parts[0], strict=True))
    )
    return joined, methods


def _check_threads(threads) -> None:
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1
    ):
        raise ValueError(f"threads={threads!r} must be an integer >= 1, or None (every core)")


@jax.jit
def _noise_keys(seeds):
    """``fold_in(key(seed), NOISE_STREAM)`` per seed (compiled: tracing it cost 4 ms a call)."""
    return jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s), NOISE_STREAM))(seeds)


def evaluate(
    params,
    X,
    y,
    seeds,
    suite: list[SuiteEntry],
    *,
    draws: int,
    task: str,
    activation: str = "relu",
    n_classes: int | None = None,
    method: str = "auto",
    threads: int | None = None,
    train_mean=None,
) -> list[NoiseErrors]:
    """Errors of every fit of every problem under every noise model of ``suite``, one jit.

    Problem ``s`` draws its noise from ``fold_in(key(seeds[s]), NOISE_STREAM)``.

    Args:
      params: model layers, leaves with leading axes (S, F) (problems × fits).
      X: (S, n, p) test inputs. y: (S, n) test targets. seeds: (S,) the problems' seeds.
      suite: checked entries (:func:`l1bench.noise.check_suite`).
      draws: random draws per level (deterministic models get 1).
      task: ``regression`` | ``binary`` | ``multiclass``. n_classes: K for classification
        (None means 2).
      activation: the MLP's hidden activation.
      method: ``auto`` | ``direct`` | ``quadratic`` (:func:`choose_method`); the one that ran
        is each result's ``method``.
      threads: on a CPU, split the random models' draws over up to this many host threads
        (:func:`_run_suite`; models without hidden layers only); None (default): one per
        usable core. Ignored on accelerators.
      train_mean: (S, p) the training parts' column means: what ``feature_dropout`` with
        ``impute="mean"`` fills in (None: each test column's own mean).

    Returns:
      One :class:`NoiseErrors` per suite entry, arrays (S, F, levels, draws) named as
      :data:`l1bench.metrics.ERRORS` ``[task]``.
    """
    if X.shape[1] == 0:
        raise ValueError("robustness needs a test set: set dataset.test_size > 0")
    if not suite:
        return []
    _check_threads(threads)
    keys = _noise_keys(jnp.asarray(seeds))
    if train_mean is not None and np.shape(train_mean) != (X.shape[0], X.shape[-1]):
        raise ValueError(
            f"train_mean must be (S, p) = {(X.shape[0], X.shape[-1])}, got {np.shape(train_mean)}"
        )
    vals, methods = _run_suite(
        params,
        X,
        y,
        keys,
        suite,
        draws,
        task,
        activation,
        n_classes or 2,
        method,
        threads,
        train_mean,
    )
    names = metrics.ERRORS[task]
    return [
        NoiseErrors(
            e.model.name,
            e.levels,
            {k: np.asarray(a, np.float64) for k, a in zip(names, v, strict=True)},
            m,
        )
        for e, v, m in zip(suite, vals, methods, strict=True)
    ]


def _suite_entries(suite, task, depth) -> list[SuiteEntry]:
    if isinstance(suite, (str, bytes)) or not isinstance(suite, Sequence):
        raise ValueError(
            f"suite must be a list of (noise_name, levels, options) tuples, got {suite!r}"
        )
    entries, seen = [], set()
    for i, item in enumerate(suite):
        if isinstance(item, SuiteEntry):  # re-checked for this task and depth
            item = (item.model.name, item.levels, {**item.options, "_target_": item.model})
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(
                f"suite[{i}]={item!r}; each entry is (noise_name, levels) or "
                f"(noise_name, levels, options)"
            )
        name, levels, options = (*item, {}) if len(item) == 2 else item
        if name in seen:
            raise ValueError(f"suite[{i}]: noise model {name!r} appears twice")
        seen.add(name)
        if "levels" in (options or {}):
            raise ValueError(f"suite[{i}] ({name}): give levels once, not in options")
        if isinstance(levels, np.ndarray):
            levels = levels.ravel().tolist()
        if not isinstance(levels, (list, tuple)):
            raise ValueError(f"suite[{i}] ({name}).levels={levels!r} must be a list of levels")
        spec = {**dict(options or {}), "levels": list(levels)}
        entries.append(check_entry(name, spec, task=task, depth=depth, path="suite"))
    return entries


def evaluate_fits(
    params_batch,
    X_test,
    y_test,
    *,
    task: str,
    suite: Sequence,
    draws: int,
    key,
    activation: str = "relu",
    method: str = "auto",
    threads: int | None = None,
    train_mean=None,
) -> dict[str, dict[str, np.ndarray]]:
    """Errors of a batch of fitted models under a noise suite, in one compiled call.

    Args:
      params_batch: model layers (:mod:`l1bench.models`), every leaf with a leading fit axis
        F (w: (F, d_in, d_out), b: (F, d_out)).
      X_test: (n, p) test inputs. y_test: (n,) targets, or class indices 0..K−1.
      task: ``regression`` | ``binary`` | ``multiclass``.
      suite: ``[(noise_name, levels, options), ...]`` (options may be left out), names from
        :data:`l1bench.noise.NOISE_MODELS` (or labels, with ``options["_target_"]`` a
        :class:`~l1bench.noise.NoiseModel` or its dotted path), each at most once; levels a
        list of scalars >= 0.
      draws: random draws per level, >= 1 (deterministic models get 1).
      key: a PRNG key (``jax.random.key``) or an int seed; model ``i`` and draw ``d`` use
        ``fold_in(fold_in(key, i), d)``, the same for every fit and every level.
      activation: the MLP's hidden activation.
      method: ``auto`` | ``direct`` | ``quadratic``: how regression MSEs are computed
        (:func:`choose_method`; the values agree to rounding).
      threads: on a CPU, host threads the draws are split over (:func:`evaluate`).
      train_mean: (p,) the training data's column means, which ``feature_dropout`` with
        ``impute="mean"`` fills in (None: the test columns' own means).

    Returns:
      ``{noise_name: {metric: (F, n_levels, n_draws) array}}`` with metric ``mse`` for
      regression and ``error_rate`` (1 − accuracy) and ``log_loss`` (mean, natural log) for
      classification.

    Raises:
      ValueError: naming the field — bad task, activation, shapes, labels, draws, or a suite
        entry that :func:`l1bench.noise.check_entry` rejects (unknown name, negative level,
        unknown option, an attack without a closed form here, ...).
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r}; choose one of {', '.join(TASKS)}")
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral) or draws < 1:
        raise ValueError(f"draws={draws!r} must be an integer >= 1")
    if activation not in models.ACTIVATIONS:
        raise ValueError(
            f"activation={activation!r}; choose one of {', '.join(models.ACTIVATIONS)}"
        )
    if method not in METHODS:
        raise ValueError(f"method={method!r}; choose one of {', '.join(METHODS)}")
    _check_threads(threads)
    ws = models.weights(params_batch)
    if any(w.ndim != 3 for w in ws):
        raise ValueError(
            "params_batch: every layer's w must be (F, d_in, d_out), with a leading fit axis"
        )
    X_test, y_test = np.asarray(X_test), np.asarray(y_test)
    if X_test.ndim != 2 or X_test.shape[0] == 0:
        raise ValueError(f"X_test must be (n, p) with n >= 1, got shape {X_test.shape}")
    if y_test.shape != (X_test.shape[0],):
        raise ValueError(f"y_test must be ({X_test.shape[0]},), got shape {y_test.shape}")
    if X_test.shape[1] != ws[0].shape[1]:
        raise ValueError(f"X_test has {X_test.shape[1]} features, the models take {ws[0].shape[1]}")
    n_classes = ws[-1].shape[-1] if task == "multiclass" else 2
    if task != "regression" and not np.all(np.isin(y_test, np.arange(n_classes))):
        raise ValueError(f"y_test must hold class indices 0..{n_classes - 1} for task={task}")
    if train_mean is not None and np.shape(train_mean) != (X_test.shape[1],):
        raise ValueError(
            f"train_mean must be ({X_test.shape[1]},), got shape {np.shape(train_mean)}"
        )
    entries = _suite_entries(suite, task, len(ws))
    if not entries:
        return {}
    if isinstance(key, numbers.Integral):
        key = jax.random.key(int(key))
    batch = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None], params_batch)
    vals, _ = _run_suite(
        batch,
        X_test[None],
        y_test[None],
        key[None],
        entries,
        draws,
        task,
        activation,
        n_classes,
        method,
        threads,
        None if train_mean is None else np.asarray(train_mean)[None],
    )
    out = {}
    for e, v in zip(entries, vals, strict=True):
        first, second = (np.asarray(a[0], np.float64) for a in v)
        if task == "regression":
            out[e.model.name] = {"mse": first}
        else:
            out[e.model.name] = {"error_rate": 1.0 - first, "log_loss": second}
    return out


def degradation(err, clean):
    """Relative degradation ``(err − clean) / clean``.

    Args:
      err: errors under noise, e.g. (F, levels, draws).
      clean: the clean errors; its axes are the leading axes of ``err`` (e.g. (F,)), or a
        scalar, or an array of err's own shape.

    Returns:
      An array of err's shape; ``inf`` where the clean error is 0 and err is not, ``nan`` where
      both are 0.
    """
    err = np.asarray(err, dtype=float)
    clean = np.asarray(clean, dtype=float)
    clean = clean.reshape(clean.shape + (1,) * (err.ndim - clean.ndim))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (err - clean) / clean


def auc(levels, err) -> np.ndarray:
    """Normalized area under the error-versus-level curve: a mean error over the level range.

    .. math:: \\mathrm{AUC} = \\frac{1}{ℓ_K − ℓ_1} \\sum_{k=1}^{K-1} (ℓ_{k+1} − ℓ_k)
       \\frac{e_k + e_{k+1}}{2}

    (the trapezoid rule). Include level 0 with the clean error to integrate from clean; a single
    level returns its error.

    Args:
      levels: (K,) strictly increasing levels. err: (..., K) errors, levels on the last axis
        (average the draws first).

    Returns:
      (...) array.
    """
    levels = np.asarray(levels, dtype=float)
    err = np.asarray(err, dtype=float)
    if levels.ndim != 1 or levels.size == 0 or err.shape[-1:] != levels.shape:
        raise ValueError(
            f"levels must be (K,) matching err's last axis, got {levels.shape} and {err.shape}"
        )
    if levels.size == 1:
        return err[..., 0]
    if not np.all(np.diff(levels) > 0):
        raise ValueError(f"levels={levels.tolist()} must be strictly increasing")
    return np.trapezoid(err, levels, axis=-1) / (levels[-1] - levels[0])


def worst_case(err, axis=-1) -> np.ndarray:
    """The largest error over ``axis`` (default the last: levels)."""
    return np.max(np.asarray(err), axis=axis)


def support_recovery(coef, true_coef) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of the estimated support against the true support.

    Supports are the *exact* nonzeros (no threshold): ``Ŝ = {j: coef_j ≠ 0}``,
    ``S = {j: true_j ≠ 0}``; precision ``|Ŝ∩S| / |Ŝ|``, recall ``|Ŝ∩S| / |S|``, F1
    ``2·|Ŝ∩S| / (|Ŝ| + |S|)`` (their harmonic mean where both are defined). A ratio whose
    denominator is 0 is undefined and NaN: precision when nothing is selected (``Ŝ = ∅``, an
    all-zero fit), recall when the truth is empty (``S = ∅``), F1 when both are. So
    ``Ŝ = ∅ ≠ S`` scores (NaN, 0, 0) and the summaries' means, which skip NaN, average precision
    over the fits that selected something.

    Args:
      coef: (..., p) estimated coefficients. true_coef: (p,) true coefficients, or any shape
        broadcastable against ``coef``.

    Returns:
      ``(precision, recall, f1)``, each of shape ``coef.shape[:-1]``.
    """
    est = np.asarray(coef) != 0
    true = np.broadcast_to(np.asarray(true_coef) != 0, est.shape)
    tp = np.sum(est & true, axis=-1)
    n_est, n_true = est.sum(axis=-1), true.sum(axis=-1)
    ratio = lambda num, den: np.where(den > 0, num / np.maximum(den, 1), np.nan)
    return ratio(tp, n_est), ratio(tp, n_true), ratio(2 * tp, n_est + n_true)


def layer_sparsity(params) -> list[np.ndarray]:
    """Fraction of exact zeros in each layer's weights ``w`` (biases excluded).

    Args:
      params: model layers; leading batch axes (e.g. F) are kept.

    Returns:
      One array per layer, of the leading axes' shape (a scalar for one model).
    """
    return metrics.layer_sparsity(params)


__all__ = [
    "NOISE_MODELS",
    "NoiseErrors",
    "auc",
    "degradation",
    "evaluate",
    "evaluate_fits",
    "layer_sparsity",
    "support_recovery",
    "worst_case",
]
