"""AGOP: both closed forms against vmap(jacfwd), padding against no padding, and the
matrix power against an eigendecomposition done in numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokrfm import agop, kernels


def relerr(a, b):
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


def setup(key, n=5, N=14, c=None):
    k1, k2, k3 = jax.random.split(key, 3)
    cells = jax.random.choice(k1, n * n, (N,), replace=False)
    pairs = jnp.stack(jnp.divmod(cells, n), axis=1).astype(jnp.int32)
    A = jax.random.normal(k2, (2 * n, 2 * n))
    M = A @ A.T / (2 * n) + 0.2 * jnp.eye(2 * n)
    alpha = jax.random.normal(k3, (N, c or n))
    return pairs, M, alpha


@pytest.mark.parametrize("kernel", kernels.KERNELS)
@pytest.mark.parametrize("centre", [True, False])
def test_closed_forms_match_jacfwd(kernel, centre, getkey):
    n = 5
    pairs, M, alpha = setup(getkey(), n)
    X = agop.pair_inputs(pairs, n, jnp.float64)
    ref = agop.agop_autodiff(kernels.KERNELS[kernel].pointwise, X, alpha, M, 2.5, centre=centre)
    dense = agop.agop_dense(kernel, X, alpha, M, 2.5, centre=centre)
    pairs_form = agop.agop_pairs(kernel, pairs, alpha, M, 2.5, centre=centre)
    assert relerr(dense, ref) < 1e-10
    assert relerr(pairs_form, ref) < 1e-10


def test_autodiff_matches_finite_differences(getkey):
    """The reference itself, against central differences of the predictor."""
    n = 4
    pairs, M, alpha = setup(getkey(), n, N=6, c=3)
    X = agop.pair_inputs(pairs, n, jnp.float64)
    f = kernels.KERNELS["gaussian"].pointwise

    def predictor(x):
        return jax.vmap(lambda xi: f(xi, x, M, 2.0))(X) @ alpha

    eps = 1e-5
    grads = np.zeros((X.shape[0], 3, 2 * n))
    for j in range(X.shape[0]):
        for d in range(2 * n):
            e = jnp.zeros(2 * n).at[d].set(eps)
            grads[j, :, d] = (predictor(X[j] + e) - predictor(X[j] - e)) / (2 * eps)
    grads -= grads.mean(axis=0, keepdims=True)
    expected = np.einsum("jcd,jce->de", grads, grads) / X.shape[0]
    got = agop.agop_autodiff(f, X, alpha, M, 2.0)
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kernel", kernels.KERNELS)
def test_padding_does_not_change_the_agop(kernel, getkey):
    n, N, pad = 5, 12, 4
    pairs, M, alpha = setup(getkey(), n, N)
    ref = agop.agop_pairs(kernel, pairs, alpha, M, 2.5)
    # Padding rows repeat grid point 0 (which may also be a real point) and carry junk
    # coefficients; the mask must remove both.
    padded_pairs = jnp.concatenate([pairs, jnp.zeros((pad, 2), jnp.int32)])
    padded_alpha = jnp.concatenate([alpha, jnp.full((pad, n), 7.0)])
    valid = jnp.arange(N + pad) < N
    for fn in (agop.agop_pairs, agop.agop_dense):
        dense = agop.pair_inputs(padded_pairs, n, jnp.float64)
        inputs = padded_pairs if fn is agop.agop_pairs else dense
        got = fn(kernel, inputs, padded_alpha, M, 2.5, valid)
        assert relerr(got, ref) < 1e-12
    X = agop.pair_inputs(padded_pairs, n, jnp.float64)
    got = agop.agop_autodiff(kernels.KERNELS[kernel].pointwise, X, padded_alpha, M, 2.5, valid)
    assert relerr(got, ref) < 1e-10


def test_matrix_power_against_numpy(getkey):
    A = jax.random.normal(getkey(), (8, 8))
    sym = np.asarray(A + A.T)  # indefinite
    w, V = np.linalg.eigh(sym)
    for power in (0.5, 1.0, 0.25):
        expected = (V * np.clip(w, 0, None) ** power) @ V.T
        np.testing.assert_allclose(agop.matrix_power(jnp.asarray(sym), power), expected, atol=1e-12)
    psd = np.asarray(A @ A.T)
    root = agop.matrix_power(jnp.asarray(psd), 0.5)
    np.testing.assert_allclose(root @ root, psd, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", agop.PAIRS_METHODS)
@pytest.mark.parametrize("chunk", [1, 3, 5, 7, 14, 100])
def test_chunked_accumulation_matches_one_chunk(chunk, method, getkey):
    """Column chunks, including a last chunk that overlaps its predecessor, with padding."""
    n, N, pad = 5, 11, 3
    pairs, M, alpha = setup(getkey(), n, N)
    X = agop.pair_inputs(pairs, n, jnp.float64)
    ref = agop.agop_autodiff(kernels.KERNELS["gaussian"].pointwise, X, alpha, M, 2.5)
    pairs = jnp.concatenate([pairs, jnp.zeros((pad, 2), jnp.int32)])
    alpha = jnp.concatenate([alpha, jnp.zeros((pad, n))])
    valid = jnp.arange(N + pad) < N
    parts = kernels.get_kernel("gaussian").parts(
        kernels.pair_inner(agop.grid_pairs(n), pairs, M), 2.5
    )
    W_grid = jnp.where(valid[None, :], parts.W, 0.0)
    B = W_grid[pairs[:, 0] * n + pairs[:, 1]] @ alpha
    got, used = agop.agop_pairs_from_grid(
        W_grid, B, parts.scale, alpha, pairs, M, valid, chunk=chunk, method=method
    )
    assert relerr(got, ref) < 1e-10
    np.testing.assert_array_equal(used, jnp.where(valid[:, None], B, 0.0))
    # The self-term coefficients computed from the same contraction (B=None), on the
    # unmasked weights: the same AGOP, and B = W^T alpha, the predictions.
    computed, B_computed = agop.agop_pairs_from_grid(
        parts.W, None, parts.scale, alpha, pairs, M, valid, chunk=chunk, method=method
    )
    assert relerr(computed, ref) < 1e-10
    np.testing.assert_allclose(B_computed, jnp.where(valid[:, None], B, 0.0), atol=1e-12)


def test_stable_pairs_form_stays_exact_with_huge_coefficients():
    """At ridge 0 from an M0 that nearly annihilates the differences of Fix(s)'s points
    (Finding 4.1), the general solve returns coefficients of size ~1e9 and the gradients
    are huge along exactly the directions M annihilates. On the same W, alpha and M the
    stable form agrees with the dense one (which squares M h); the fast form, which
    squares h before applying M, does not."""
    from grokrfm import partition, rfm, solve, symmetry, tasks

    task = tasks.make_task("x+y", p=13)
    sym = symmetry.symmetry_group(task)
    base = partition.degenerate_split(sym, [sym.reflection(0)])
    paper = dict(rfm.PAPER_SOLVE, residual_limit=float("inf"))
    M = rfm.run_batch(
        task,
        rfm.RFMConfig(iterations=20, **paper),
        rfm.make_spec(task, partition.to_partitions(partition.stack([base]))),
    ).M[0]
    split = partition.random_split(jax.random.PRNGKey(1), task.n_points, task.n_points // 2)
    idx = jnp.flatnonzero(split.train)
    pairs = jnp.asarray(task.pairs, jnp.int32)[idx]
    valid = jnp.ones(idx.size, bool)
    parts = kernels.get_kernel("gaussian").parts(
        kernels.pair_inner(None, pairs, M), 2.5, "nonnegative"
    )
    Y = jax.nn.one_hot(jnp.asarray(task.labels)[idx], task.n, dtype=M.dtype)
    alpha, ok, _ = solve.solve(parts.K[idx], Y, valid, 0.0, solver="lu")
    assert bool(ok) and float(jnp.abs(alpha).max()) > 1e6  # the regime this is about
    X = agop.pair_inputs(pairs, task.n, M.dtype)
    dense = agop.agop_dense("gaussian", X, alpha, M, 2.5, distances="nonnegative")
    got = {
        method: agop.agop_pairs_from_grid(
            parts.W, None, parts.scale, alpha, pairs, M, valid, method=method
        )[0]
        for method in agop.PAIRS_METHODS
    }
    assert relerr(got["stable"], dense) < 1e-6
    assert relerr(got["fast"], dense) > 1e-2
