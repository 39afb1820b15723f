"""Case E: 32 MLPs (8 grid points × 4 seeds) on digits, a fixed number of full-batch steps.

Two grids: ``MLP L1 grid`` (8 L1 strengths) and ``MLP dropout grid`` (8 stochastic dropout
rates, on the input of every layer, no penalty). Every solver does the same work: ``steps``
full-batch proximal-SGD steps (a gradient step on the mean softmax cross-entropy of the
minibatch — with dropout, of the masked network — then soft-thresholding of every layer's
weights by ``η λ``), from the very initial parameters l1bench draws for the seed
(``models.init`` with the trainer's ``init`` stream). Without dropout the runs are deterministic,
so the solutions must agree: the quality column is the largest relative difference of the final
objective (full data, no dropout) from l1bench's batched call. The l1bench loop draws the same
dropout masks as the batched call (they depend on the seed only), so it must agree too; PyTorch
draws its own, so its objectives agree only in distribution (the column gives the grid means).
The notes give the achieved rate of multiply-add work (:func:`flops`).
"""

from __future__ import annotations

import os

import jax
import numpy as np

from experiments.bench.common import DEFAULTS, fixed_work
from l1bench import models
from l1bench.solvers import trainer
from l1bench.vocab import STREAMS


def digits():
    """scikit-learn's digits (1797 × 64, 10 classes), standardized."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    return X, y.astype(np.int64)


def init_params(seed: int, p: int, n_out: int, hidden, dtype):
    """The trainer's initial parameters for ``seed`` (its ``init`` stream)."""
    key = jax.random.fold_in(jax.random.key(seed), STREAMS["init"])
    return jax.device_get(models.init(key, p, n_out, hidden, dtype))


def grid(lams, rates, n_seeds):
    """``(lam (S, 1, L), dropout (1, L))`` for L grid points (strengths ``lams``, ``rates``)."""
    L = len(lams)
    lam = np.broadcast_to(np.asarray(lams, dtype=float)[None, None, :], (n_seeds, 1, L))
    return lam, np.asarray(rates, dtype=float).reshape(1, L)


def flops(n: int, widths, steps: int, n_models: int) -> float:
    """Multiply-add work of the training: per step and fit, 2n·Σ d_in·d_out for the forward
    products, as much again for the weight gradients, and 2n·Σ_{l>0} d_in·d_out for the
    gradients of the hidden activations (none for the input)."""
    macs = [a * b for a, b in zip(widths[:-1], widths[1:], strict=True)]
    return 2.0 * n * (2 * sum(macs) + sum(macs[1:])) * steps * n_models


def _train(X, y, lam, dropout, seeds, cfg, precision, timings=None):
    return trainer.train_grid(
        X,
        y,
        task="multiclass",
        hidden=cfg["hidden"],
        lam=lam,
        l1_ratio=[1.0],
        dropout=dropout,
        seeds=np.asarray(seeds),
        optimizer="sgd",
        learning_rate=cfg["lr"],
        steps=cfg["steps"],
        tol=0.0,
        check_every=cfg["steps"],
        precision=precision,
        n_classes=10,
        timings=timings,
    )


def l1bench_batched(X, y, lams, rates, seeds, cfg, precision, timings):
    """The whole grid in one ``train_grid`` call (its stacked path: X shared, full batch)."""
    lam, dropout = grid(lams, rates, len(seeds))
    t: dict = {}
    res = _train(X, y, lam, dropout, seeds, cfg, precision, t)
    timings.setdefault("first", t)
    return res.objective[:, 0, :]  # (seeds, grid points)


def l1bench_loop(X, y, lams, rates, seeds, cfg, precision):
    """One ``train_grid`` call per fit (a 1-fit grid: one compiled executable, reused)."""
    out = np.empty((len(seeds), len(lams)))
    for i, s in enumerate(seeds):
        for j, (lm, r) in enumerate(zip(lams, rates, strict=True)):
            res = _train(X, y, [[[lm]]], [[r]], [s], cfg, precision)
            out[i, j] = res.objective[0, 0, 0]
    return out


def torch_loop(X, y, lams, rates, seeds, cfg, precision):
    """The same steps in PyTorch, one model at a time (the usual way to sweep).

    Its best plain configuration: as many threads as this process may use, ``addmm`` for
    ``h @ w + b``, the fused ``cross_entropy``, autograd for the gradient, and in-place
    updates under ``no_grad`` with the fused ``softshrink`` (= soft-thresholding) for the
    L1 prox. Dropout (``F.dropout``, inverted, on the input of every layer as in l1bench)
    draws its own masks from torch's generator, seeded per fit.
    """
    import torch

    F = torch.nn.functional
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    torch.set_num_threads(threads or os.cpu_count() or 1)
    dtype = {"float64": torch.float64, "float32": torch.float32}[precision]
    Xt = torch.as_tensor(X, dtype=dtype)
    yt = torch.as_tensor(y)
    lr = cfg["lr"]
    out = np.empty((len(seeds), len(lams)))
    for i, s in enumerate(seeds):
        init = init_params(s, X.shape[1], 10, cfg["hidden"], getattr(np, precision))
        for j, (lm, rate) in enumerate(zip(lams, rates, strict=True)):
            torch.manual_seed(1000 * s + j)
            params = [
                (
                    torch.tensor(np.asarray(L["w"]), dtype=dtype, requires_grad=True),
                    torch.tensor(np.asarray(L["b"]), dtype=dtype, requires_grad=True),
                )
                for L in init
            ]
            flat = [t for wb in params for t in wb]

            def loss_fn(params=params, rate=rate, train=True):
                h = Xt
                for k, (w, b) in enumerate(params):
                    if train and rate > 0:
                        h = F.dropout(h, rate, training=True)
                    h = torch.addmm(b, h, w)
                    if k < len(params) - 1:
                        h = torch.relu(h)
                return F.cross_entropy(h, yt)

            for _ in range(cfg["steps"]):
                grads = torch.autograd.grad(loss_fn(), flat)
                with torch.no_grad():
                    for (w, b), gw, gb in zip(params, grads[0::2], grads[1::2], strict=True):
                        w.sub_(gw, alpha=lr)
                        b.sub_(gb, alpha=lr)
                        if lm > 0:
                            w.copy_(F.softshrink(w, lr * lm))
            with torch.no_grad():
                l1 = sum(float(w.abs().sum()) for w, _ in params)
                out[i, j] = float(loss_fn(train=False)) + lm * l1
    return out


VARIANTS = {
    "MLP L1 grid": "L1 strengths, no dropout",
    "MLP dropout grid": "stochastic dropout rates, no penalty",
}


def run_case(
    *, X, y, grids, seeds, cfg, size, repeats, precisions, loop_repeats=1, opts=DEFAULTS, log=print
):
    """Case E's rows: per variant and precision, l1bench batched, the l1bench loop, PyTorch.

    Args:
      grids: {variant: (lams, rates)}, one entry per grid point (same length).
      opts: ``peaks``, {precision: GFLOP/s} of a dense matmul on this machine
        (:func:`common.matmul_rates`): the notes give each row's rate as a share of it;
        ``peers``: whether the PyTorch loop runs.
    """
    peaks = opts.peaks
    records = []
    widths = [X.shape[1], *cfg["hidden"], 10]
    for variant, (lams, rates) in grids.items():
        stochastic = any(r > 0 for r in rates)
        work = flops(X.shape[0], widths, cfg["steps"], len(lams) * len(seeds))

        def rate_note(s, prec, work=work):
            rate = work / s / 1e9
            peak = f"{rate / peaks[prec]:.1%} of" if peaks else "no"
            return f"{rate:.1f} GFLOP/s ({work / 1e9:.3g} GFLOP; {peak} the {prec} matmul rate)"

        ref = {}
        for prec in precisions:
            timings: dict = {}
            rec, obj = fixed_work(
                case="E",
                variant=variant,
                size=size,
                solver="l1bench train_grid (one call)",
                precision=prec,
                run=lambda prec=prec, t=timings, lams=lams, rates=rates: l1bench_batched(
                    X, y, lams, rates, seeds, cfg, prec, t
                ),
                repeats=repeats,
                compile_s=lambda t=timings: t["first"].get("compile_s", 0.0),
                quality=lambda o: "reference objective",
            )
            rec.notes = rate_note(rec.run_s, prec)
            ref[prec] = obj
            log(
                f"  {variant}, {rec.solver} {prec}: {rec.run_s:.3f} s ({rec.notes}; compile "
                f"{rec.compile_s:.2f} s)"
            )
            records.append(rec)
            others = [
                ("l1bench single-model loop", l1bench_loop, loop_repeats),
                ("PyTorch loop", torch_loop, repeats),
            ]
            for name, fn, reps in others:
                if name == "PyTorch loop" and not opts.peers:
                    continue
                if name == "PyTorch loop":
                    try:
                        import torch  # noqa: F401
                    except ImportError:
                        log("  PyTorch not installed: skipped")
                        continue

                def quality(o, prec=prec, ref=ref, own_masks=stochastic and name == "PyTorch loop"):
                    r = ref[prec]
                    if own_masks:  # other dropout draws: the objectives agree in distribution
                        rel = abs(o.mean() - r.mean()) / abs(r.mean())
                        return (
                            f"own dropout masks: mean objective {o.mean():.4g} vs l1bench "
                            f"{r.mean():.4g} ({rel:.1%} apart)"
                        )
                    diff = np.max(np.abs(o - r) / np.abs(r))
                    return f"max rel. objective difference vs l1bench {diff:.1e}"

                rec, _ = fixed_work(
                    case="E",
                    variant=variant,
                    size=size,
                    solver=name,
                    precision=prec,
                    run=lambda fn=fn, prec=prec, lams=lams, rates=rates: fn(
                        X, y, lams, rates, seeds, cfg, prec
                    ),
                    repeats=reps,
                    quality=quality,
                )
                rec.notes = rate_note(rec.run_s, prec)
                if fn is l1bench_loop:
                    rec.notes += "; compile_s: first call minus median (the 1-fit grid's compile)"
                log(f"  {variant}, {name} {prec}: {rec.run_s:.3f} s ({rec.notes})  {rec.quality}")
                records.append(rec)
    return records
