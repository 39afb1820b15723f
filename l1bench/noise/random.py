"""Random perturbations of the inputs and labels (test sets, and training sets).

Each function has the uniform signature ``fn(key, X, y, params, level, *, task, **options) ->
(X', y', params')`` of :mod:`l1bench.noise`; ``X`` is (n, p), ``y`` (n,), ``level`` a
(possibly traced) scalar ℓ. The context keywords (``task``, ``activation``, ``n_classes``) are
accepted by every function and ignored where they do not matter.

Every additive input noise is i.i.d. per entry, zero-mean, and scaled so that its standard
deviation is ℓ, whatever its shape (Gaussian, uniform, Laplace, Student-t): the data are
standardized, so ℓ = 1 is noise as large as a feature's spread, and curves of different shapes
share one level axis.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def gaussian(key, X, y, params, level, **_):
    """Gaussian input noise, std ℓ.

    .. math:: X' = X + ℓ Z, \\quad Z_{ij} \\sim N(0, 1).

    Returns:
      ``(X', y, params)``.
    """
    return X + level * jax.random.normal(key, X.shape, X.dtype), y, params


def uniform(key, X, y, params, level, **_):
    """Uniform input noise, std ℓ (half-width √3·ℓ).

    .. math:: X' = X + U, \\quad U_{ij} \\sim U(-\\sqrt{3} ℓ, \\sqrt{3} ℓ),

    so ``Var U = (2√3ℓ)² / 12 = ℓ²``.

    Returns:
      ``(X', y, params)``.
    """
    a = jnp.sqrt(3.0) * level
    return X + jax.random.uniform(key, X.shape, X.dtype, -1.0, 1.0) * a, y, params


def laplace(key, X, y, params, level, **_):
    """Laplace (double-exponential) input noise, std ℓ.

    .. math:: X' = X + L, \\quad L_{ij} \\sim \\mathrm{Laplace}(0, b), \\; b = ℓ / \\sqrt{2},

    since ``Var L = 2 b² = ℓ²``.

    Returns:
      ``(X', y, params)``.
    """
    return X + level / jnp.sqrt(2.0) * jax.random.laplace(key, X.shape, X.dtype), y, params


def student_t(key, X, y, params, level, *, df=3.0, **_):
    """Heavy-tailed Student-t input noise with ``df`` degrees of freedom, std ℓ.

    .. math:: X' = X + ℓ \\sqrt{(df - 2) / df} \\; T, \\quad T_{ij} \\sim t_{df},

    since ``Var T = df / (df - 2)`` for df > 2 (the only case :func:`l1bench.noise.check_entry`
    accepts: for df ≤ 2 the variance is infinite and no scaling makes the std ℓ).

    Args:
      df: degrees of freedom (default 3, the heaviest tail with finite variance among integers).

    Returns:
      ``(X', y, params)``.
    """
    t = standard_t(key, df, X.shape, X.dtype)
    return X + level * jnp.sqrt((df - 2.0) / df) * t, y, params


def standard_t(key, df, shape, dtype):
    """Student-t variates, ``T = Z·sqrt(df / (2G))`` with Z ~ N(0, 1) and G ~ Gamma(df/2)
    (so 2G ~ χ²_df), for df ≥ 2.

    ``jax.random.t`` draws its gamma variates one element at a time (a rejection loop per
    element, vmapped): 40 normal draws' time per number on a CPU. :func:`gamma_large` keeps
    the whole array in one draw and redraws only the few rejections.
    """
    k_z, k_g = jax.random.split(key)
    z = jax.random.normal(k_z, shape, dtype)
    g = gamma_large(k_g, df / 2.0, shape, dtype)
    return z * jnp.sqrt(df / (2.0 * g))


def gamma_large(key, a, shape, dtype):
    """Gamma(a, 1) variates for a ≥ 1 by Marsaglia & Tsang's (2000) rejection method.

    With ``d = a − 1/3`` and ``c = 1/√(9d)``, a proposal ``v = (1 + cx)³`` from x ~ N(0, 1) is
    accepted when ``v > 0`` and ``log u < x²/2 + d − dv + d log v`` (u ~ U(0, 1)); the
    accepted ``dv`` is exactly Gamma(a). All elements get a proposal at once; the rejected
    ones (at most 5% for a ≥ 1) are gathered into a buffer of fixed size and redrawn from
    fresh keys until none is left. Each element keeps its first accepted proposal, so the
    result is exact whatever the rejections were.

    Raises:
      ValueError: ``a < 1`` (the method needs a ≥ 1; Student-t's df > 2 gives a > 1).
    """
    if not a >= 1.0:
        raise ValueError(f"gamma_large: shape a={a!r} must be >= 1 (Marsaglia-Tsang without boost)")
    d = a - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)

    def propose(k, size):
        k_x, k_u = jax.random.split(k)
        x = jax.random.normal(k_x, (size,), dtype)
        u = jax.random.uniform(k_u, (size,), dtype)
        v = (1.0 + c * x) ** 3
        log_v = jnp.log(jnp.where(v > 0, v, 1.0))
        ok = (v > 0) & (jnp.log(u) < 0.5 * x * x + d - d * v + d * log_v)
        return ok, d * v

    n = math.prod(shape)
    k_first, k_more = jax.random.split(key)
    ok, g = propose(k_first, n)
    buffer = min(n, 64 + n // 16)

    def redraw(state):
        i, ok, g = state
        idx = jnp.nonzero(~ok, size=buffer, fill_value=n)[0]  # n: no element (dropped)
        ok_new, g_new = propose(jax.random.fold_in(k_more, i), buffer)
        at = jnp.where(ok_new, idx, n)
        return i + 1, ok.at[at].set(True, mode="drop"), g.at[at].set(g_new, mode="drop")

    _, _, g = jax.lax.while_loop(lambda s: ~jnp.all(s[1]), redraw, (0, ok, g))
    return g.reshape(shape)


def feature_dropout(key, X, y, params, level, *, impute="zero", train_mean=None, **_):
    """Missing features: each entry of X is missing with probability ℓ, then imputed.

    .. math:: X'_{ij} = M_{ij} \\, c_j + (1 - M_{ij}) X_{ij}, \\quad M_{ij} \\sim
       \\mathrm{Bernoulli}(ℓ),

    with ``c_j = 0`` (``impute="zero"``) or ``c_j`` the training data's column mean
    (``impute="mean"``: ``train_mean``, as an imputer fitted on the training part; on
    standardized features it is 0, the same as ``zero``). Without ``train_mean`` (an
    evaluation given no training data) ``mean`` takes X's own column means. No rescaling by
    1/(1 − ℓ): this is missing data, not dropout.

    Args:
      impute: ``"zero"`` | ``"mean"``.
      train_mean: (p,) the training part's column means, for ``impute="mean"``.

    Returns:
      ``(X', y, params)``.
    """
    missing = jax.random.bernoulli(key, level, X.shape)
    if impute == "zero":
        fill = jnp.zeros_like(X)
    else:
        means = X.mean(axis=0) if train_mean is None else train_mean.astype(X.dtype)
        fill = jnp.broadcast_to(means, X.shape)
    return jnp.where(missing, fill, X), y, params


def label_noise(key, X, y, params, level, *, task="regression", n_classes=2, **_):
    """Label noise: :func:`label_gaussian` for regression, :func:`label_flip` for classes.

    * regression: ``y' = y + ℓ·Z``, ``Z ~ N(0, 1)`` (std ℓ, in the units of y);
    * classification (``binary`` | ``multiclass``, labels 0..K−1): each label is replaced with
      probability ℓ by a class drawn uniformly among the K − 1 *other* classes.

    On a test set neither can rank fits: for regression ``E[MSE'] = MSE + ℓ²`` for every fit
    (the noise is independent of the residual), and for classes ``E[acc'] = a(1 − ℓ) +
    (1 − a)·ℓ/(K − 1)``, a function of the clean accuracy a alone. Training-set contamination
    (``train_noise``, :mod:`l1bench.noise.training`) is what tells penalties apart.

    Args:
      task: ``regression`` | ``binary`` | ``multiclass``.
      n_classes: K (classification only).

    Returns:
      ``(X, y', params)``.
    """
    if task == "regression":
        return label_gaussian(key, X, y, params, level)
    return label_flip(key, X, y, params, level, n_classes=n_classes)


def label_gaussian(key, X, y, params, level, *, relative=False, **_):
    r"""Gaussian label noise, std ℓ in the target's units (or in units of sd(y)).

    .. math:: y' = y + ℓ\, s\, Z, \quad Z_i \sim N(0, 1),

    with ``s = 1`` (``relative=False``) or ``s = sd(y)``, the standard deviation (1/n) of the
    labels given (``relative=True``: ℓ = 1 is noise as large as the labels' spread).

    Returns:
      ``(X, y', params)``.
    """
    s = jnp.std(y) if relative else 1.0
    return X, y + level * s * jax.random.normal(key, y.shape, y.dtype), params


def label_student_t(key, X, y, params, level, *, df=3.0, relative=False, **_):
    r"""Heavy-tailed label noise: Student-t with ``df`` > 2 degrees of freedom, std ℓ·s.

    .. math:: y' = y + ℓ\, s \sqrt{(df - 2) / df}\; T, \quad T_i \sim t_{df},

    with ``s`` as in :func:`label_gaussian` (1, or sd(y) with ``relative=True``).

    Returns:
      ``(X, y', params)``.
    """
    s = jnp.std(y) if relative else 1.0
    t = standard_t(key, df, y.shape, y.dtype)
    return X, y + level * s * jnp.sqrt((df - 2.0) / df) * t, params


def _chosen(z, level):
    """The ``round(ℓ·n)`` rows of smallest ``z_i`` (n i.i.d. continuous draws): a fraction ℓ
    of the rows, nested across levels for one draw (the rows chosen at ℓ are among those
    chosen at ℓ' > ℓ)."""
    rank = jnp.argsort(jnp.argsort(z))
    return rank < jnp.round(level * z.shape[0])


def label_outliers(key, X, y, params, level, *, scale=10.0, **_):
    r"""Gross label outliers: a fraction ℓ of the labels replaced by wild draws.

    .. math:: y'_i = \begin{cases} \bar y + c\, \mathrm{sd}(y)\, Z_i & i \in O \\
       y_i & \text{otherwise} \end{cases}, \quad Z_i \sim N(0, 1),

    with ``O`` the ``round(ℓ·n)`` rows of smallest ``V_i`` (``V_i ~ N(0, 1)``, independent of
    Z), c = ``scale``, and ȳ and sd(y) (1/n) the mean and standard deviation of the labels
    given: the outliers are drawn from ``N(ȳ, (c·sd(y))²)``. One key gives nested outlier
    sets with the same values at every level.

    Args:
      scale: c, the outliers' spread in units of sd(y) (default 10).

    Returns:
      ``(X, y', params)``.
    """
    z = jax.random.normal(key, (y.shape[0], 2), y.dtype)  # one draw: [V, Z]
    wild = jnp.mean(y) + scale * jnp.std(y) * z[:, 1]
    return X, jnp.where(_chosen(z[:, 0], level), wild, y), params


def leverage(key, X, y, params, level, *, scale=10.0, x_scale=10.0, **_):
    r"""Bad leverage points: a fraction ℓ of the rows (x and y) replaced by wild draws.

    .. math:: (x'_i, y'_i) = (\bar x + c_x\, \mathrm{sd}(x) \odot Z_i,\;
       \bar y + c\, \mathrm{sd}(y)\, Z'_i) \; (i \in O), \quad Z_i \sim N(0, I_p),
       \; Z'_i \sim N(0, 1),

    with ``O`` as in :func:`label_outliers`, x̄ and sd(x) the column means and standard
    deviations (1/n) of X, c = ``scale`` and c_x = ``x_scale``: points far out in feature
    space whose label is unrelated to their features.

    Args:
      scale: c, the labels' spread in units of sd(y) (default 10).
      x_scale: c_x, the features' spread in units of each column's sd (default 10).

    Returns:
      ``(X', y', params)``.
    """
    n, p = X.shape
    z = jax.random.normal(key, (n, p + 2), X.dtype)  # one draw: [V, Z', Z]
    rows = _chosen(z[:, 0], level)
    wild_x = X.mean(axis=0) + x_scale * X.std(axis=0) * z[:, 2:]
    wild_y = jnp.mean(y) + scale * jnp.std(y) * z[:, 1]
    return jnp.where(rows[:, None], wild_x, X), jnp.where(rows, wild_y, y), params


def label_flip(key, X, y, params, level, *, n_classes=2, **_):
    """Label flips: each label (0..K−1) replaced with probability ℓ by another class.

    The new class is drawn uniformly among the K − 1 *other* classes (never itself),
    ``y' = (y + S) mod K`` with ``S ~ U{1, …, K−1}``; for K = 2 a flip.

    Args:
      n_classes: K.

    Returns:
      ``(X, y', params)``.
    """
    k_flip, k_class = jax.random.split(key)
    flip = jax.random.bernoulli(k_flip, level, y.shape)
    shift = jax.random.randint(k_class, y.shape, 1, n_classes)
    other = ((y.astype(jnp.int32) + shift) % n_classes).astype(y.dtype)
    return X, jnp.where(flip, other, y), params
