"""The padded solve against a direct numpy solve on the subset."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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
        alpha, ok, jitter = solve(K, Y, valid, ridge)
        Ks = np.asarray(K)[np.ix_(idx, idx)] + ridge * np.eye(idx.size)
        expected = np.linalg.solve(Ks, np.asarray(Y)[idx])
        np.testing.assert_allclose(np.asarray(alpha)[idx], expected, rtol=1e-9, atol=1e-11)
        assert np.all(np.asarray(alpha)[~np.asarray(valid)] == 0.0)
        assert bool(ok) and float(jitter) == 0.0


def test_failed_factorisation_is_reported(getkey):
    v = jax.random.normal(getkey(), (6, 1))
    K = v @ v.T  # rank one: Cholesky breaks down at ridge 0
    alpha, ok, _ = solve(K, jnp.ones((6, 2)), jnp.ones(6, bool), 0.0)
    assert not bool(ok)
    assert not np.all(np.isfinite(np.asarray(alpha)))
    _, ok, jitter = solve(K, jnp.ones((6, 2)), jnp.ones(6, bool), 1e-3)
    assert bool(ok) and float(jitter) == 0.0


def test_jitter_retries_recover_and_report(getkey):
    v = jax.random.normal(getkey(), (6, 1))
    K = v @ v.T
    Y = jax.random.normal(getkey(), (6, 2))
    valid = jnp.ones(6, bool)
    alpha, ok, jitter = jax.jit(lambda K: solve(K, Y, valid, 0.0, retries=4))(K)
    assert bool(ok) and float(jitter) > 0.0
    # The answer solves the system at the reported jitter (backward error: the jittered
    # system is still nearly singular, so the solution itself is not well determined).
    A = np.asarray(K) + float(jitter) * np.eye(6)
    a = np.asarray(alpha)
    backward = np.linalg.norm(A @ a - np.asarray(Y)) / (np.linalg.norm(A) * np.linalg.norm(a))
    assert backward < 1e-12
    # Under vmap, a run that needed no jitter is unaffected by one that did.
    good = gram(getkey(), 6)
    batch = jax.vmap(lambda K: solve(K, Y, valid, 0.0, retries=4))(jnp.stack([good, K]))
    assert batch[1].tolist() == [True, True] and float(batch[2][0]) == 0.0
    np.testing.assert_allclose(batch[0][0], np.linalg.solve(np.asarray(good), np.asarray(Y)))


def test_misshapen_inputs_fail_at_the_boundary(getkey):
    K = gram(getkey(), 5)
    Y = jnp.zeros((5, 2))
    with pytest.raises(AssertionError):
        solve(K[:, :4], Y, jnp.ones(5, bool))  # K not square
    with pytest.raises(AssertionError):
        solve(K, Y[:4], jnp.ones(5, bool))  # Y rows != N
    with pytest.raises(AssertionError):
        solve(K, Y, jnp.ones(5))  # valid must be a bool mask
