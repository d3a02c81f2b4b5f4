"""Test configuration: float64 reference, loud dtype/rank promotion, PRNG keys."""

from grokrfm import runtime

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
