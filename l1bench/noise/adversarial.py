"""Worst-case input perturbations within a norm ball ``‖δ_i‖ ≤ ℓ`` for each test example i.

The machinery of the two adversarial noise models (:mod:`l1bench.noise.models.adversarial_linf`,
:mod:`l1bench.noise.models.adversarial_l2`): :func:`worst_case` builds the perturbation of a
budget's norm, with the uniform signature of :mod:`l1bench.noise`, returning ``(X + Δ, y,
params)`` (labels and weights unchanged); :func:`exact_outputs` its closed-form outputs;
:func:`check_options` the checks of their shared :data:`OPTIONS`. The level ℓ is the radius of
the ball (not a standard deviation).

**Exact** (``attack="exact"``, chosen by ``"auto"`` for models without a hidden layer on a
regression or binary task). Let ``‖·‖_*`` be the dual of the budget's norm (‖·‖₁ for L∞, ‖·‖₂
for L2) and ``g(w)`` a maximizer of ``⟨g, w⟩`` on the unit ball, so ``⟨g(w), w⟩ = ‖w‖_*``
(``sign(w)`` for L∞, ``w / ‖w‖₂`` for L2, 0 when w = 0). Then (Xu, Caramanis & Mannor, 2009):

* regression, residual ``r = y − xᵀw − b``: ``δ = −ℓ·sign(r)·g(w)`` (sign(0) := 1) is a worst
  case of any loss increasing in |r|; the absolute residual becomes ``|r| + ℓ‖w‖_*``, so the
  worst-case MSE is ``mean_i (|r_i| + ℓ‖w‖_*)²``;
* binary logistic, ``y ∈ {0, 1}``: ``δ = −ℓ·(2y − 1)·g(w)`` shrinks the margin
  ``m = (2y − 1)(xᵀw + b)`` to ``m − ℓ‖w‖_*``, the worst case of the log-loss
  ``log(1 + e^{−m})`` and of the 0/1 error alike.

**PGD** (``"pgd"``, chosen by ``"auto"`` otherwise: MLPs, and multinomial logistic regression,
whose worst-case cross-entropy has no single closed form — the exact pairwise margin bound
``min_{j≠y} (w_y − w_j)ᵀx + b_y − b_j − ℓ‖w_y − w_j‖_*`` only decides the 0/1 error, which
``"auto"`` makes exact, below). Projected
gradient ascent on the per-example training loss (½ squared error, log-loss, cross-entropy;
Madry et al., 2018): ``steps`` steps ``δ ← Π(δ + α·d(∇_x loss))`` with ``d`` the sign of the
gradient (L∞) or its direction ``∇/‖∇‖₂`` (L2), ``Π`` the projection onto the ball (clipping for
L∞, radial scaling for L2), step size ``α = step_size`` or by default ``2.5·ℓ/steps``. There are
``restarts`` runs — the first from δ = 0, the others from a uniform draw in the ball — and the one
of highest loss is kept, so PGD never does worse than its clean start. ``"fgsm"`` (Goodfellow et
al., 2015) is the cheap one-step attack ``δ = ℓ·d(∇_x loss(x))``.

PGD is a lower bound on the worst case; for models without hidden layers the tests check it
reaches the exact value.

**Multinomial logistic regression** (``"auto"``, no hidden layer): PGD on the cross-entropy,
plus, per example, the step of radius ℓ toward its nearest class boundary in the pairwise
margins above (:func:`_nearest_boundary`); of the two the misclassified one is kept, else the
one of higher cross-entropy. So the reported 0/1 error is the exact worst case (PGD alone,
which ascends the cross-entropy, had missed some flips: on wine, L2 ε = 1, 0.204 against the
exact 0.222), and the cross-entropy is that of a perturbation in the ball (a lower bound).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l1bench import models
from l1bench.noise import checks

ATTACKS = ("auto", "exact", "pgd", "fgsm")
NORMS = ("linf", "l2")
# the options of both worst cases, with their defaults
OPTIONS = {"attack": "auto", "steps": 20, "restarts": 1, "step_size": None}


def exact_available(params_or_depth, task: str) -> bool:
    """Whether the closed form applies: no hidden layer and a regression or binary task.

    Args:
      params_or_depth: a model pytree or its number of layers.
      task: ``regression`` | ``binary`` | ``multiclass``.
    """
    depth = params_or_depth if isinstance(params_or_depth, int) else len(params_or_depth)
    return depth == 1 and task in ("regression", "binary")


def _unit_direction(w, norm):
    """g(w): the maximizer of ⟨g, w⟩ over the unit ball of the budget's norm."""
    if norm == "linf":
        return jnp.sign(w)
    nrm = jnp.linalg.norm(w)
    return jnp.where(nrm > 0, w / jnp.where(nrm > 0, nrm, 1.0), 0.0)


def _exact_parts(X, y, params, norm, task):
    """``(s, g, clean)``: the per-example sign s, the direction g(w) and the clean outputs."""
    w, b = params[0]["w"][:, 0], params[0]["b"][0]
    clean = X @ w + b
    if task == "regression":
        s = jnp.where(y - clean >= 0, 1.0, -1.0)
    else:
        s = 2.0 * y - 1.0
    return s, _unit_direction(w, norm), clean


def _exact(X, y, params, level, norm, task):
    s, g, _ = _exact_parts(X, y, params, norm, task)
    return X - level * s[:, None] * g[None, :]


def exact_outputs(norm):
    """The closed-form ``outputs`` of a :class:`~l1bench.noise.NoiseModel` for the ``norm``
    budget (``linf`` | ``l2``): see the inner function."""

    def outputs(key, X, y, params, level, *, task="regression", attack="auto", **_):
        """The model's outputs on the exact worst case without forming it, or None (PGD).

        ``(x − ℓ s g(w))ᵀw + b = xᵀw + b − ℓ s ‖w‖_*``: one product with X per fit, whatever
        the number of levels, instead of one per level. Returns ``(outputs (n, 1), y)``.
        """
        if attack not in ("auto", "exact") or not exact_available(params, task):
            return None
        s, g, clean = _exact_parts(X, y, params, norm, task)
        dual = g @ params[0]["w"][:, 0]  # ‖w‖_*
        return (clean - level * s * dual)[:, None], y

    outputs.__name__ = outputs.__qualname__ = f"adversarial_{norm}_outputs"
    return outputs


def example_loss(params, x, y, task, activation):
    """The training loss of one example: ½ squared error, log-loss or cross-entropy.

    Args:
      params: model layers. x: (p,) one input. y: its target (class index for classification).
      task: ``regression`` | ``binary`` | ``multiclass``. activation: the MLP's activation.
    """
    out = models.apply(params, x, activation=activation)
    if task == "regression":
        return 0.5 * (y - out[0]) ** 2
    if task == "binary":
        return jax.nn.softplus(out[0]) - y * out[0]
    return -jax.nn.log_softmax(out)[y.astype(jnp.int32)]


def _project(delta, level, norm):
    if norm == "linf":
        return jnp.clip(delta, -level, level)
    nrm = jnp.linalg.norm(delta)
    return delta * jnp.minimum(1.0, level / jnp.where(nrm > 0, nrm, 1.0))


def _ascent(g, norm):
    if norm == "linf":
        return jnp.sign(g)
    nrm = jnp.linalg.norm(g)
    return g / jnp.where(nrm > 0, nrm, 1.0)


def _random_start(key, shape, level, norm, dtype):
    """A uniform draw in the ball of radius ``level``."""
    if norm == "linf":
        return jax.random.uniform(key, shape, dtype, -level, level)
    k_dir, k_rad = jax.random.split(key)
    d = jax.random.normal(k_dir, shape, dtype)
    radius = level * jax.random.uniform(k_rad, (), dtype) ** (1.0 / shape[-1])
    return d / jnp.linalg.norm(d) * radius


def _pgd_one(key, x, y, params, level, norm, task, activation, steps, step_size, restarts, fgsm):
    loss = lambda xx: example_loss(params, xx, y, task, activation)
    grad = jax.grad(loss)
    if fgsm:
        return x + _project(level * _ascent(grad(x), norm), level, norm)
    alpha = 2.5 * level / steps if step_size is None else step_size

    def attack(r, k):
        # the first start is the clean point, the others are uniform in the ball
        delta0 = jnp.where(r == 0, 0.0, _random_start(k, x.shape, level, norm, x.dtype))

        def step(delta, _):
            delta = _project(delta + alpha * _ascent(grad(x + delta), norm), level, norm)
            return delta, None

        delta, _ = jax.lax.scan(step, delta0, None, length=steps)
        return x + delta

    cands = jax.vmap(attack)(jnp.arange(restarts), jax.random.split(key, restarts))
    losses = jax.vmap(loss)(cands)
    return cands[jnp.argmax(losses)]


def _nearest_boundary(X, y, params, level, norm):
    """A linear multinomial model's inputs, each moved by ``ℓ`` toward its nearest boundary.

    For example i of class c the pairwise margins ``m_k = z_c − z_k`` fall by at most
    ``ℓ‖w_c − w_k‖_*`` in the ball, so it can be misclassified iff ``min_k m_k / ‖w_c − w_k‖_*
    ≤ ℓ``; the step ``δ = −ℓ g(w_c − w_k*)`` toward the minimizing class k* does it whenever it
    can. Returns X + Δ, (n, p).
    """
    W, b = params[0]["w"], params[0]["b"]  # (p, K), (K,)
    rows = jnp.arange(X.shape[0])
    yi = y.astype(jnp.int32)
    z = X @ W + b
    D = W[:, yi].T[:, :, None] - W[None]  # (n, p, K): w_c − w_k
    cost = jnp.sum(jnp.abs(D), axis=1) if norm == "linf" else jnp.linalg.norm(D, axis=1)
    margin = z[rows, yi][:, None] - z  # (n, K)
    edge = jnp.where(margin > 0, jnp.inf, -jnp.inf)  # w_c = w_k: no step moves m_k
    ratio = jnp.where(cost > 0, margin / jnp.where(cost > 0, cost, 1.0), edge)
    nearest = jnp.argmin(ratio.at[rows, yi].set(jnp.inf), axis=1)
    g = jax.vmap(_unit_direction, in_axes=(0, None))(D[rows, :, nearest], norm)
    return X - level * g


def _worst_of(params, y, X_a, X_b):
    """Per example, of two perturbed inputs the misclassified one, else the higher cross-entropy
    (a linear multinomial model)."""
    yi = y.astype(jnp.int32)

    def score(Xp):
        z = Xp @ params[0]["w"] + params[0]["b"]
        ce = jax.nn.logsumexp(z, axis=1) - z[jnp.arange(z.shape[0]), yi]
        return jnp.argmax(z, axis=1) != yi, ce

    wrong_a, ce_a = score(X_a)
    wrong_b, ce_b = score(X_b)
    take_b = (wrong_b & ~wrong_a) | ((wrong_b == wrong_a) & (ce_b > ce_a))
    return jnp.where(take_b[:, None], X_b, X_a)


def worst_case(norm):
    """The perturbation ``fn`` of the worst case under the ``norm`` budget (``linf`` | ``l2``,
    the module docstring): exact where :func:`exact_available`, PGD / FGSM otherwise."""

    def fn(
        key,
        X,
        y,
        params,
        level,
        *,
        task="regression",
        activation="relu",
        attack="auto",
        steps=20,
        restarts=1,
        step_size=None,
        **_,
    ):
        if attack not in ATTACKS:
            raise ValueError(f"attack={attack!r}; choose one of {', '.join(ATTACKS)}")
        if attack == "exact" and not exact_available(params, task):
            raise ValueError(
                f"attack=exact: the {norm} worst case has no closed form for task={task!r} "
                f"with {len(params)} layers (only without hidden layers on regression or "
                f"binary tasks); use attack=pgd, fgsm or auto"
            )
        use_exact = attack == "exact" or (attack == "auto" and exact_available(params, task))
        if use_exact:
            return _exact(X, y, params, level, norm, task), y, params
        keys = jax.random.split(key, X.shape[0])
        one = lambda k, x, yy: _pgd_one(
            k,
            x,
            yy,
            params,
            level,
            norm,
            task,
            activation,
            steps,
            step_size,
            restarts,
            attack == "fgsm",
        )
        X_attacked = jax.vmap(one)(keys, X, y)
        if attack == "auto" and task == "multiclass" and len(params) == 1:
            X_attacked = _worst_of(
                params, y, X_attacked, _nearest_boundary(X, y, params, level, norm)
            )
        return X_attacked, y, params

    fn.__name__ = fn.__qualname__ = f"adversarial_{norm}"
    return fn


def check_options(options, *, levels, task, depth) -> None:
    """The checks of :data:`OPTIONS` (a :class:`~l1bench.noise.NoiseModel`'s ``check``).

    Raises:
      ValueError: an unknown ``attack``; ``attack=exact`` where there is no closed form
        (a hidden layer, or a multiclass task; not judged before the task is known when the
        depth allows it); ``steps`` or ``restarts`` not an integer >= 1; ``step_size`` neither
        null nor a finite number > 0.
    """
    del levels  # radii: any level >= 0
    checks.choice(options, "attack", ATTACKS)
    if options["attack"] == "exact" and not exact_available(depth, task or "regression"):
        raise ValueError(
            f"attack=exact: no closed form for this budget here; it is only available for "
            f"models without hidden layers on regression or binary tasks (task={task}, "
            f"{depth} layers); use attack=pgd, fgsm or auto"
        )
    checks.count(options, "steps")
    checks.count(options, "restarts")
    if options["step_size"] is not None:
        checks.positive(options, "step_size")
