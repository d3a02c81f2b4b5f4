"""The padded solve against a direct numpy solve on the subset."""

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm.solve import solve


def gram(key, N):
    X = jax.random.normal(key, (N, 3 * N))
    return X @ X.T / N


def test_masked_solve_equals_direct_solve_on_subset(getkey):
    N, c = 20, 3
    K = gram(getkey(), N)
    Y = jax.random.normal(getkey(), (N, c))
    valid = jnp.asarray(np.random.default_rng(0).random(N) < 0.6)
    idx = np.nonzero(np.asarray(valid))[0]
    for ridge in (0.0, 0.3):
        alpha, ok = solve(K, Y, valid, ridge)
        Ks = np.asarray(K)[np.ix_(idx, idx)] + ridge * np.eye(idx.size)
        expected = np.linalg.solve(Ks, np.asarray(Y)[idx])
        np.testing.assert_allclose(np.asarray(alpha)[idx], expected, rtol=1e-9, atol=1e-11)
        assert np.all(np.asarray(alpha)[~np.asarray(valid)] == 0.0)
        assert bool(ok)


def test_failed_factorisation_is_reported(getkey):
    v = jax.random.normal(getkey(), (6, 1))
    K = v @ v.T  # rank one: Cholesky breaks down at ridge 0
    alpha, ok = solve(K, jnp.ones((6, 2)), jnp.ones(6, bool), 0.0)
    assert not bool(ok)
    assert not np.all(np.isfinite(np.asarray(alpha)))
    _, ok = solve(K, jnp.ones((6, 2)), jnp.ones(6, bool), 1e-3)
    assert bool(ok)
