"""The names every stage shares: task kinds, fit statuses and the random streams of a seed.

Each vocabulary has its home here, so a stage that compares against one of these strings or
numbers imports it instead of spelling it again. This module imports nothing.
"""

TASKS = ("regression", "binary", "multiclass")
CLASSIFICATION = ("binary", "multiclass")

# What a fit ended as, index = the status code the solvers return. ``worse_than_zero`` is set
# after fitting by l1bench.solvers.backends for every backend (an objective above the zero
# model's); like ``diverged``, such fits are left out of averages and CV votes.
STATUS = ("converged", "max_iter", "diverged", "worse_than_zero")

# ``jax.random.fold_in(key(seed), STREAMS[name])``: the independent random streams of one seed.
# init: MLP weights; dropout: masks per step; batches: minibatch permutations; noise: the test-time
# noise suite; train_noise: training-set contamination. 3 is unused.
STREAMS = {"init": 0, "dropout": 1, "batches": 2, "noise": 4, "train_noise": 5}
