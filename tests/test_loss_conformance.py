"""Conformance of every registered loss to the protocol (l1bench.losses.base).

The suite iterates :data:`l1bench.losses.LOSSES`, so a loss added to the package is checked
without being named: its gradient against central finite differences of its per-example
value, its curvature bound against the Hessian's largest eigenvalue, its conjugate through the
Fenchel–Young inequality, and its zero-model intercept against a numerical minimization.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

from l1bench.losses import LOSSES, for_task
from l1bench.losses.base import example_hessian, fenchel_young, output_gradient

pytestmark = pytest.mark.fast

K = 3  # classes of a multiclass loss


def _targets(loss, rng, n):
    """(n,) targets of the loss's task and its output width."""
    if loss.task == "regression":
        return rng.normal(size=n) * 2 + 1, 1
    if loss.task == "binary":
        return (rng.random(n) < 0.3).astype(float), 1
    return rng.integers(0, K, size=n).astype(float), K


def _outputs(rng, m, n):
    return rng.normal(size=(m, n)) * 3


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_matches_finite_differences(name):
    loss = LOSSES[name]
    rng = np.random.default_rng(0)
    y, m = _targets(loss, rng, 8)
    T = np.asarray(loss.encode(y, m))
    Z = _outputs(rng, m, 8)
    values, grads = (np.asarray(a) for a in loss.value_and_grad(jnp.asarray(Z), jnp.asarray(T)))
    h = 1e-6
    for i in range(Z.shape[1]):
        o, t = Z[:, i], T[:, i]
        assert values[i] == pytest.approx(float(loss.example(o, t)), rel=1e-12, abs=1e-12)
        for k in range(m):
            e = np.zeros(m)
            e[k] = h
            fd = (float(loss.example(o + e, t)) - float(loss.example(o - e, t))) / (2 * h)
            assert grads[k, i] == pytest.approx(fd, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_curvature_bounds_the_hessian(name):
    loss = LOSSES[name]
    rng = np.random.default_rng(1)
    y, m = _targets(loss, rng, 50)
    T = np.asarray(loss.encode(y, m))
    Z = _outputs(rng, m, 50)
    Z[:, :5] = 0.0  # where the logistic losses are most curved
    top = 0.0
    for i in range(Z.shape[1]):
        H = np.asarray(example_hessian(loss, jnp.asarray(Z[:, i]), jnp.asarray(T[:, i])))
        top = max(top, float(np.linalg.eigvalsh(H).max()))
    assert top <= loss.curvature * (1 + 1e-12)
    assert top > 0


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_conjugate_satisfies_fenchel_young(name):
    loss = LOSSES[name]
    rng = np.random.default_rng(2)
    y, m = _targets(loss, rng, 20)
    T = jnp.asarray(loss.encode(y, m))
    Z, Z2 = (jnp.asarray(_outputs(rng, m, 20)) for _ in range(2))
    for i in range(20):
        o, t = Z[:, i], T[:, i]
        at_grad = float(fenchel_young(loss, o, t, output_gradient(loss, o, t)))
        elsewhere = float(fenchel_young(loss, o, t, output_gradient(loss, Z2[:, i], t)))
        assert abs(at_grad) <= 1e-10
        assert elsewhere >= -1e-12


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_zero_intercept_is_the_best_constant(name):
    loss = LOSSES[name]
    rng = np.random.default_rng(3)
    y, m = _targets(loss, rng, 60)
    T = jnp.asarray(loss.encode(y, m))

    def objective(b):
        Z = jnp.broadcast_to(jnp.asarray(b)[:, None], T.shape)
        return float(loss.value(Z, T))

    b0 = np.asarray(loss.zero_intercept(np.asarray(T), True))
    ref = minimize(objective, np.zeros(m), method="BFGS", options={"gtol": 1e-10})
    assert objective(b0) <= ref.fun + 1e-9
    zero = loss.zero_objective(y, n_out=m, fit_intercept=True)
    assert zero == pytest.approx(objective(b0), rel=1e-12)
    assert loss.zero_objective(y, n_out=m, fit_intercept=False) == pytest.approx(
        objective(np.zeros(m)), rel=1e-12
    )


def test_every_task_has_a_loss():
    from l1bench.vocab import TASKS

    for task in TASKS:
        assert for_task(task).task == task
    with pytest.raises(ValueError, match="task='ranking'"):
        for_task("ranking")


def test_losses_trace_under_jit():
    for loss in LOSSES.values():
        rng = np.random.default_rng(4)
        y, m = _targets(loss, rng, 5)
        T = loss.encode(jnp.asarray(y), m)
        v = jax.jit(loss.value)(jnp.asarray(_outputs(rng, m, 5)), T)
        assert np.isfinite(float(v))


def test_a_loss_other_than_the_tasks_own_needs_the_trainer(tmp_path, monkeypatch):
    from l1bench.config import ConfigError, validate

    from conftest import compose_config

    (tmp_path / "doubled_loss.py").write_text(
        "import dataclasses\n"
        "from l1bench.losses import LOSSES\n"
        "def make(c=2.0):\n"
        "    return dataclasses.replace(LOSSES['squared'], name='doubled', curvature=c)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    target = "loss._target_=doubled_loss.make"
    with pytest.raises(ConfigError, match="fitted by solver=optax only"):
        validate(compose_config("penalty=l1", target))
    with pytest.raises(ConfigError, match="params"):
        validate(compose_config("penalty=l1", "solver=optax", target, "+loss.params.d=1"))
    cfg = validate(compose_config("penalty=l1", "solver=optax", target))
    assert cfg.loss._target_ == "doubled_loss.make"
