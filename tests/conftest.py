"""Test configuration: float64 reference, loud dtype/rank promotion, PRNG keys."""

import os

# Most tests run programs of a few hundred points, which XLA:CPU takes longer to compile
# than to run. Its -O0 backend compiles them faster: 26% and 30% less CPU time for
# test_paper_experiments.py and test_feature_experiments.py, measured, and the same for the
# compute-bound test_claims.py. Set here, before the backend starts, so that the test
# processes and the experiment subprocesses they start (which inherit the environment) all
# use it. Users' runs keep XLA's default optimisation level.
_flags = os.environ.get("XLA_FLAGS", "")
if "xla_backend_optimization_level" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_backend_optimization_level=0".strip()

from grokrfm import runtime  # noqa: E402

runtime.configure(x64=True)

import itertools  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

# Silent promotions (int32 + int64, float32 + float64, (n,) + (n, c)) are bugs here.
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """``getkey()`` returns a fresh PRNG key on each call, deterministic per test."""
    counter = itertools.count()
    return lambda: jax.random.PRNGKey(next(counter))
