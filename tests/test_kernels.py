"""Kernels: matrix forms against the pointwise definitions, gradient weights against
autodiff of the pointwise kernels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokrfm import agop, kernels
from grokrfm.errors import InvalidArgument


def random_psd(key, d):
    A = jax.random.normal(key, (d, d))
    return A @ A.T / d + 0.1 * jnp.eye(d)


def random_pairs(key, n, N):
    cells = jax.random.choice(key, n * n, (N,), replace=False)
    return jnp.stack(jnp.divmod(cells, n), axis=1).astype(jnp.int32)


@pytest.mark.parametrize("kernel", kernels.KERNELS)
def test_matrix_forms_match_pointwise(kernel, getkey):
    n, N = 5, 9
    M = random_psd(getkey(), 2 * n)
    p1, p2 = random_pairs(getkey(), n, N), random_pairs(getkey(), n, N + 2)
    X1, X2 = agop.pair_inputs(p1, n, jnp.float64), agop.pair_inputs(p2, n, jnp.float64)
    f = kernels.KERNELS[kernel].pointwise
    expected = jax.vmap(lambda x: jax.vmap(lambda z: f(x, z, M, 1.7))(X2))(X1)
    dense = kernels.kernel_matrix(kernel, X1, X2, M, 1.7)
    pairs = kernels.get_kernel(kernel).parts(kernels.pair_inner(p1, p2, M), 1.7).K
    np.testing.assert_allclose(dense, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pairs, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kernel", kernels.KERNELS)
def test_gradient_weights_match_autodiff(kernel, getkey):
    """grad_x K(x_i, x) at x_j == scale * M (W_ij x_i - s W_ij x_j)."""
    n, N = 4, 7
    M = random_psd(getkey(), 2 * n)
    p = random_pairs(getkey(), n, N)
    X = agop.pair_inputs(p, n, jnp.float64)
    f = kernels.KERNELS[kernel].pointwise
    # grads[i, j] = d/dx K(x_i, x) at x = x_j
    grads = jax.vmap(lambda xi: jax.vmap(jax.grad(lambda x: f(xi, x, M, 1.3)))(X))(X)
    parts = kernels.get_kernel(kernel).parts(kernels.pair_inner(p, p, M), 1.3)
    s = 1.0 if kernels.KERNELS[kernel].self_term else 0.0
    W = np.asarray(parts.W)
    Xn = np.asarray(X)
    closed = float(parts.scale) * np.einsum(
        "ij,de,ije->ijd", W, np.asarray(M), Xn[:, None, :] - s * Xn[None, :, :]
    )
    np.testing.assert_allclose(grads, closed, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_pair_inner_products_are_exact_lookups(dtype, getkey):
    """The tables are one-hot products, so the inner products equal M's entries summed
    in the documented grouping to the last bit, on the grid and on explicit pairs."""
    n, N = 6, 11
    M = random_psd(getkey(), 2 * n).astype(dtype)
    p2 = random_pairs(getkey(), n, N)
    Mn, c, d = np.asarray(M), np.asarray(p2[:, 0]), np.asarray(p2[:, 1]) + n
    grid = np.asarray(agop.grid_pairs(n))
    for p1, inner in ((grid, kernels.pair_inner(None, p2, M)), (grid[::3], None)):
        if inner is None:
            inner = kernels.pair_inner(jnp.asarray(p1), p2, M)
        a, b = p1[:, :1], p1[:, 1:] + n
        cross = (Mn[a, c] + Mn[b, c]) + (Mn[a, d] + Mn[b, d])
        np.testing.assert_array_equal(np.asarray(inner.cross), cross)
        np.testing.assert_array_equal(
            np.asarray(inner.norms2), (Mn[c, c] + Mn[d, c]) + (Mn[c, d] + Mn[d, d])
        )


def test_coincident_points_have_zero_distance():
    M = jnp.eye(6) * 3.0
    p = jnp.array([[0, 1], [2, 0], [0, 1]], jnp.int32)
    d2 = kernels.squared_distances(kernels.pair_inner(p, p, M))
    assert float(d2[0, 2]) == 0.0 and float(d2[1, 1]) == 0.0
    np.testing.assert_allclose(d2[0, 1], 3.0 * 4)


def test_unknown_kernel_is_rejected():
    with pytest.raises(InvalidArgument) as err:
        kernels.get_kernel("cauchy")
    assert err.value.argument == "kernel"


def test_distance_conventions_differ_only_below_the_tolerance(getkey):
    """ "nonnegative" keeps tiny positive distances that "tolerance" zeroes, clamps the
    negative round-off the same way, and agrees everywhere else."""
    inner = kernels.InnerProducts(
        cross=jnp.array([[1.0, 1.0 - 1e-15, 0.5, 1.0 + 1e-15, 1.0 - 1e-12]]),
        norms1=jnp.array([1.0]),
        norms2=jnp.array([1.0, 1.0, 1.0, 1.0, 1.0]),
    )
    tolerant = np.asarray(kernels.squared_distances(inner, "tolerance"))
    clamped = np.asarray(kernels.squared_distances(inner, "nonnegative"))
    raw = 2.0 - 2 * np.asarray(inner.cross)
    np.testing.assert_array_equal(clamped, np.maximum(raw, 0.0))
    assert tolerant[0, 0] == clamped[0, 0] == 0.0
    assert tolerant[0, 1] == 0.0 < clamped[0, 1] < 1e-14  # a residue: kept only by one
    assert tolerant[0, 2] == clamped[0, 2] == 1.0
    assert tolerant[0, 3] == clamped[0, 3] == 0.0  # negative: 0 either way
    assert clamped[0, 4] > 0 and tolerant[0, 4] == clamped[0, 4]  # above the tolerance
    assert (tolerant <= clamped).all()
    with pytest.raises(InvalidArgument) as err:
        kernels.squared_distances(inner, "absolute")
    assert err.value.argument == "distances"
