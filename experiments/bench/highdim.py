"""Case C helpers: Lasso paths with p > n on many problems sharing X, timed on a subset.

scikit-learn, skglm and celer fit problems one at a time, so their time over S problems is S
times their time per problem; so is l1bench's working-set solver (:mod:`l1bench.solvers.workingset`
loops over the fits, sharing the centred X and its Gram matrix). With S = 100 problems × 100 λ
at n = 500, p = 5000 a full run of every solver (each run at least twice: the tolerance search,
then the timed repeats) would take far longer than the suite's budget, so :func:`run_subset`
times every solver on the same first ``k`` problems, certifies those fits with the common
float64 evaluator, and scales the time by ``S / k``; a peer's tolerance is searched on the first
problem, then tightened further if the k problems do not all certify. The notes column says so.
"""

from __future__ import annotations

from experiments.bench import linear
from experiments.bench.common import DEFAULTS, PEER_TOLS, Options, Record, measure, worst
from l1bench.solvers import convex


def run_subset(
    *,
    case: str,
    variant: str,
    size: str,
    X,
    Y,
    grid,
    k: int,
    repeats: int,
    precisions=("float64",),
    opts: Options = DEFAULTS,
    log=print,
) -> list[Record]:
    """l1bench and every peer on the first ``k`` of the ``S`` problems; times scaled by S / k.

    Where l1bench's algorithm is batched (``gram_ws``: the default for p > n on accelerators),
    l1bench fits all S problems in its one call and is timed on them, not on ``k``.

    Args:
      X: (n, p) shared design. Y: (S, n) targets. grid: the l1bench grid over all S problems
        (``grid.lam[:, 0]`` (S, L) is what every solver fits).
      k: problems actually run (``k >= S``: all of them, nothing scaled).
      precisions: l1bench's precisions (float32 at l1bench's first tolerance only, as in
        :func:`linear.run_variant`); the peers run in float64.
    """
    S = Y.shape[0]
    k = min(k, S)
    factor = S / k
    Ys, lam = Y[:k], grid.lam[:k, 0]
    sub = grid._replace(lam=grid.lam[:k], lam_max=grid.lam_max[:k], seeds=grid.seeds[:k])
    check = lambda W: worst(linear.certified_gaps(X, Ys, W, lam))

    def probe_run(fn):
        """For k > 1: search the tolerance on the first problem (then run, tightened, on all k)."""
        if k == 1:
            return None
        check1 = lambda W: worst(linear.certified_gaps(X, Ys[:1], W, lam[:1]))
        return (lambda tol: fn(X, Ys[:1], lam[:1], tol)), check1

    note = f"timed on {k} of {S} problems (gaps certified on those), time scaled ×{factor:g}"
    algorithm = opts.algorithm
    if algorithm == convex.AUTO:
        algorithm = convex.choose_algorithm(grid, X)
    if algorithm == "gram_ws":  # one batched call: every problem, nothing scaled
        records = linear.l1bench_records(
            case, variant, size, X, Y, grid, precisions, repeats, opts, log
        )
        for rec in records if S > 1 else ():
            rec.notes += f"; all {S} problems in one call"
    else:
        quiet = lambda _: None  # logged below, once scaled
        records = linear.l1bench_records(
            case, variant, size, X, Ys, sub, precisions, repeats, opts, quiet
        )
        for rec in records:
            if factor > 1:
                linear.scale_record(rec, factor, note)
            log(linear._fmt(rec))
    for name, fn in linear.available_peers(False).items() if opts.peers else ():
        rec = measure(
            case=case,
            variant=variant,
            size=size,
            solver=name,
            precision="float64",
            run=lambda tol, fn=fn: fn(X, Ys, lam, tol),
            check=check,
            tols=PEER_TOLS,
            repeats=repeats,
            probe=probe_run(fn),
            notes="tol searched on the first problem" if k > 1 else "",
        )
        records.append(linear.scale_record(rec, factor, note) if factor > 1 else rec)
        log(linear._fmt(rec))
    return records
