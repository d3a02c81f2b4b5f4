"""The padded solve against a direct numpy solve on the subset."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokrfm.errors import InvalidArgument
from grokrfm.solve import SOLVERS, cholesky_solve, lapack_available, solve


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


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_lapack_solver_equals_the_reference_to_the_last_bit(dtype, getkey):
    """LAPACK on the buffers as they are against jax.lax.linalg.cholesky + cho_solve,
    padded, at a ridge, single and vmapped."""
    N, c = 24, 5
    Ks = jnp.stack([gram(getkey(), N) for _ in range(3)]).astype(dtype)
    Ys = jax.random.normal(getkey(), (3, N, c), dtype)
    valid = jnp.asarray(np.random.default_rng(1).random(N) < 0.7)

    def run(solver):
        def one(K, Y):
            return solve(K, Y, valid, 1e-3, solver=solver)

        return jax.jit(jax.vmap(one))(Ks, Ys), jax.jit(one)(Ks[1], Ys[1])

    (batch, single), (batch_ref, single_ref) = run("lapack"), run("reference")
    for got, ref in ((batch, batch_ref), (single, single_ref)):
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_array_equal(batch[0][1], single[0])


def test_lapack_solver_reports_a_failed_factorisation_as_nan(getkey):
    N = 6
    K = -jnp.eye(N)  # not positive definite
    for solver in SOLVERS:
        alpha = cholesky_solve(K, jnp.ones((N, 2)), solver)
        assert jnp.isnan(alpha).all(), solver


def test_lapack_solver_hands_the_system_over_without_copies(getkey):
    """On CPU the factorisation reads the fused system's own buffer: nothing in the
    compiled solve is laid out column-major, as the reference's copy into LAPACK's order
    is (which shows the check can fail)."""
    if jax.default_backend() != "cpu" or not lapack_available(jnp.float64):
        pytest.skip("the LAPACK path is CPU-only")
    N = 64
    K, Y, valid = gram(getkey(), N), jnp.ones((N, 3)), jnp.ones(N, bool)

    def hlo(solver):
        fn = jax.jit(lambda K, Y: solve(K, Y, valid, 0.0, solver=solver)[0])
        return fn.lower(K, Y).compile().as_text()

    column_major = f"f64[{N},{N}]{{0,1}}"
    assert "lapack_dpotrf_ffi" in hlo("lapack")
    assert column_major not in hlo("lapack")
    assert column_major in hlo("reference")


def test_unknown_solver_is_refused(getkey):
    with pytest.raises(InvalidArgument, match="solver"):
        solve(jnp.eye(3), jnp.ones((3, 1)), jnp.ones(3, bool), solver="qr")


def test_lu_solver_solves_an_indefinite_system_cholesky_cannot(getkey):
    """A symmetric indefinite system: the Cholesky solvers report failure (NaN), the
    general solve matches numpy's."""
    Q, _ = jnp.linalg.qr(jax.random.normal(getkey(), (8, 8)))
    A = (Q * jnp.array([3.0, 2.0, 1.0, 0.5, 0.25, -0.1, 1.5, 0.7])[None, :]) @ Q.T
    Y = jax.random.normal(getkey(), (8, 2))
    valid = jnp.ones(8, bool)
    alpha, ok, _ = solve(A, Y, valid, 0.0, solver="lu")
    assert bool(ok)
    np.testing.assert_allclose(alpha, np.linalg.solve(np.asarray(A), np.asarray(Y)), rtol=1e-10)
    for solver in ("lapack", "reference"):
        _, ok, _ = solve(A, Y, valid, 0.0, solver=solver)
        assert not bool(ok)


def test_lu_solver_on_a_padded_system_equals_the_direct_solve(getkey):
    K = gram(getkey(), 12)
    Y = jax.random.normal(getkey(), (12, 3))
    valid = jnp.asarray(np.arange(12) % 3 != 0)
    idx = np.flatnonzero(np.asarray(valid))
    alpha, ok, _ = solve(K, Y, valid, 0.0, solver="lu")
    expected = np.linalg.solve(np.asarray(K)[np.ix_(idx, idx)], np.asarray(Y)[idx])
    np.testing.assert_allclose(np.asarray(alpha)[idx], expected, rtol=1e-9, atol=1e-11)
    assert bool(ok) and np.all(np.asarray(alpha)[~np.asarray(valid)] == 0.0)
