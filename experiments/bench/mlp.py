"""Case E: 32 MLPs (8 L1 strengths × 4 seeds) on digits, a fixed number of full-batch steps.

Every solver does the same work: ``steps`` full-batch proximal-SGD steps (a gradient step on the
mean softmax cross-entropy, then soft-thresholding of every layer's weights by ``η λ``), from
the very initial parameters l1bench draws for the seed (``models.init`` with the trainer's
``init`` stream). The runs are deterministic, so the solutions must agree: the table's quality
column is the largest relative difference of the final objective from l1bench's batched call.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from experiments.bench.common import fixed_work
from l1bench import models
from l1bench.fit import trainer


def digits():
    """scikit-learn's digits (1797 × 64, 10 classes), standardized."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    return X, y.astype(np.int64)


def init_params(seed: int, p: int, n_out: int, hidden, dtype):
    """The trainer's initial parameters for ``seed`` (its ``init`` stream)."""
    key = jax.random.fold_in(jax.random.key(seed), trainer.STREAMS["init"])
    return jax.device_get(models.init(key, p, n_out, hidden, dtype))


def l1bench_batched(X, y, lams, seeds, cfg, precision, timings):
    lam = np.broadcast_to(np.asarray(lams)[None, None, :], (len(seeds), 1, len(lams)))
    t: dict = {}
    res = trainer.train_grid(
        X,
        y,
        task="multiclass",
        hidden=cfg["hidden"],
        lam=lam,
        l1_ratio=[1.0],
        dropout=np.zeros((1, len(lams))),
        seeds=np.asarray(seeds),
        optimizer="sgd",
        learning_rate=cfg["lr"],
        steps=cfg["steps"],
        tol=0.0,
        check_every=cfg["steps"],
        precision=precision,
        n_classes=10,
        timings=t,
    )
    timings.setdefault("first", t)
    return res.objective[:, 0, :]  # (seeds, strengths)


def l1bench_loop(X, y, lams, seeds, cfg, precision):
    out = np.empty((len(seeds), len(lams)))
    for i, s in enumerate(seeds):
        for j, lm in enumerate(lams):
            res = trainer.train_grid(
                X,
                y,
                task="multiclass",
                hidden=cfg["hidden"],
                lam=[[[lm]]],
                l1_ratio=[1.0],
                dropout=[[0.0]],
                seeds=[s],
                optimizer="sgd",
                learning_rate=cfg["lr"],
                steps=cfg["steps"],
                tol=0.0,
                check_every=cfg["steps"],
                precision=precision,
                n_classes=10,
            )
            out[i, j] = res.objective[0, 0, 0]
    return out


def torch_loop(X, y, lams, seeds, cfg, precision):
    """The same steps in PyTorch, one model at a time (the usual way to sweep)."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    dtype = {"float64": torch.float64, "float32": torch.float32}[precision]
    Xt = torch.as_tensor(X, dtype=dtype)
    yt = torch.as_tensor(y)
    lr = cfg["lr"]
    out = np.empty((len(seeds), len(lams)))
    for i, s in enumerate(seeds):
        init = init_params(s, X.shape[1], 10, cfg["hidden"], getattr(np, precision))
        for j, lm in enumerate(lams):
            params = [
                (
                    torch.tensor(np.asarray(L["w"]), dtype=dtype, requires_grad=True),
                    torch.tensor(np.asarray(L["b"]), dtype=dtype, requires_grad=True),
                )
                for L in init
            ]

            def loss_fn(params=params):
                h = Xt
                for k, (w, b) in enumerate(params):
                    h = h @ w + b
                    if k < len(params) - 1:
                        h = torch.relu(h)
                return torch.nn.functional.cross_entropy(h, yt)

            for _ in range(cfg["steps"]):
                loss = loss_fn()
                grads = torch.autograd.grad(loss, [t for wb in params for t in wb])
                with torch.no_grad():
                    for (w, b), gw, gb in zip(params, grads[0::2], grads[1::2], strict=True):
                        w -= lr * gw
                        b -= lr * gb
                        w.copy_(torch.sign(w) * torch.clamp(w.abs() - lr * lm, min=0.0))
            with torch.no_grad():
                l1 = sum(float(w.abs().sum()) for w, _ in params)
                out[i, j] = float(loss_fn()) + lm * l1
    return out


def run_case(*, X, y, lams, seeds, cfg, size, repeats, precisions, loop_repeats=1, log=print):
    records = []
    ref = {}
    for prec in precisions:
        timings: dict = {}
        rec, obj = fixed_work(
            case="E",
            variant="MLP L1 grid",
            size=size,
            solver="l1bench train_grid (one call)",
            precision=prec,
            run=lambda prec=prec, t=timings: l1bench_batched(X, y, lams, seeds, cfg, prec, t),
            repeats=repeats,
            compile_s=lambda t=timings: t["first"].get("compile_s", 0.0),
            quality=lambda o: "reference objective",
        )
        ref[prec] = obj
        log(f"  {rec.solver} {prec}: {rec.run_s:.3f} s (compile {rec.compile_s:.2f} s)")
        records.append(rec)
        others = [
            ("l1bench single-model loop", l1bench_loop, loop_repeats),
            ("PyTorch loop", torch_loop, repeats),
        ]
        for name, fn, reps in others:
            if name == "PyTorch loop":
                try:
                    import torch  # noqa: F401
                except ImportError:
                    log("  PyTorch not installed: skipped")
                    continue

            def quality(o, prec=prec):
                diff = np.max(np.abs(o - ref[prec]) / np.abs(ref[prec]))
                return f"max rel. objective difference vs l1bench {diff:.1e}"

            rec, _ = fixed_work(
                case="E",
                variant="MLP L1 grid",
                size=size,
                solver=name,
                precision=prec,
                run=lambda fn=fn, prec=prec: fn(X, y, lams, seeds, cfg, prec),
                repeats=reps,
                quality=quality,
                notes="compile_s: first call minus median (XLA compile of the 1-model grid)"
                if fn is l1bench_loop
                else "",
            )
            log(f"  {name} {prec}: {rec.run_s:.3f} s  {rec.quality}")
            records.append(rec)
    return records
