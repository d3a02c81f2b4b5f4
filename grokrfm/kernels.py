"""Kernels with a feature matrix M: pointwise forms (for autodiff and custom kernels) and
matrix forms built from Mahalanobis inner products (for the closed-form AGOP).

Built-in kernels (arXiv 2604.00316, §2.1; docs/science.md §3), with ``||v||_M^2 = v^T M v`` and
bandwidth L:

* ``gaussian``:  K(x, z) = exp(-||x - z||_M^2 / (2 L^2))
* ``laplace``:   K(x, z) = exp(-||x - z||_M / L)
* ``quadratic``: K(x, z) = (x^T M z)^2          (bandwidth unused)

Every built-in kernel's input gradient has the form
``grad_x K(x_i, x)|_{x = x_j} = scale * M (W_ij x_i - s W_ij x_j)`` for a weight matrix W
and ``s`` in {0, 1}. Each built-in kernel is one :class:`Kernel` record in
:data:`KERNELS`, whose ``parts`` returns K and W together so that one pass over the
points feeds both the solve and the AGOP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import einops
import jax
import jax.numpy as jnp

from grokrfm.errors import lookup

# K(x, z, M, bandwidth) -> scalar, for x, z of shape (d,) and M of shape (d, d).
PointwiseKernel = Callable[[jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]


def _safe_sqrt(d2: jax.Array) -> jax.Array:
    """sqrt with value and derivative 0 at 0 (the subgradient the closed form uses)."""
    positive = d2 > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1.0)), 0.0)


def gaussian(x, z, M, bandwidth):
    v = x - z
    return jnp.exp(-(v @ M @ v) / (2 * bandwidth**2))


def laplace(x, z, M, bandwidth):
    v = x - z
    return jnp.exp(-_safe_sqrt(v @ M @ v) / bandwidth)


def quadratic(x, z, M, bandwidth):
    del bandwidth
    return (x @ M @ z) ** 2


class InnerProducts(NamedTuple):
    """Mahalanobis inner products between two point sets.

    Attributes:
      cross: ``(N1, N2)`` with ``cross[i, j] = x_i^T M z_j``.
      norms1: ``(N1,)`` with ``x_i^T M x_i``.
      norms2: ``(N2,)`` with ``z_j^T M z_j``.
    """

    cross: jax.Array
    norms1: jax.Array
    norms2: jax.Array


def dense_inner(X1: jax.Array, X2: jax.Array, M: jax.Array) -> InnerProducts:
    """Inner products for arbitrary inputs ``X1 (N1, d)``, ``X2 (N2, d)``."""
    XM1 = X1 @ M
    XM2 = X2 @ M
    return InnerProducts(XM1 @ X2.T, jnp.sum(XM1 * X1, axis=1), jnp.sum(XM2 * X2, axis=1))


def _column_tables(M: jax.Array, pairs: jax.Array):
    """The four ``(n, N)`` tables of M's columns at the operands of ``pairs``.

    They are exact products with one-hot matrices (every entry is one element of M
    times 1, plus zeros), which XLA writes row-major: as gathers, XLA:CPU fused them
    into the kernel's pass as transposed, strided reads, which made that pass 2-3x
    slower (0.12-0.15 s against 0.045 s per iteration at p = 61).
    """
    n = M.shape[0] // 2
    onehot_c = jax.nn.one_hot(pairs[:, 0], n, dtype=M.dtype)
    onehot_d = jax.nn.one_hot(pairs[:, 1], n, dtype=M.dtype)
    tc = jnp.matmul(M[:, :n], onehot_c.T, precision="highest")
    td = jnp.matmul(M[:, n:], onehot_d.T, precision="highest")
    return tc[:n], tc[n:], td[:n], td[n:]


def pair_inner(pairs1: jax.Array | None, pairs2: jax.Array, M: jax.Array) -> InnerProducts:
    """Inner products for one-hot pair inputs ``e_a || e_b``, by table lookups instead of
    matmuls.

    With ``x_i = e_a + e_(n+b)`` and ``z_j = e_c + e_(n+d)``, ``x_i^T M z_j`` is
    ``(M[a, c] + M[n+b, c]) + (M[a, n+d] + M[n+b, n+d])``: four ``(n, N2)`` tables of
    M's columns at the second set's operands, looked up by the first set's operands.
    The lookups are elementwise, so XLA evaluates them inside the kernel's own
    elementwise pass and the ``(N1, N2)`` inner products are never stored. When
    ``pairs1`` is None the rows are the whole ``n x n`` grid in grid order ``a n + b``,
    and the lookups become broadcasts.

    Args:
      pairs1: ``(N1, 2)`` int operands (a, b) with a, b in [0, n), or None for the grid.
      pairs2: ``(N2, 2)`` int operands.
      M: ``(2n, 2n)`` symmetric feature matrix.
    """
    n = M.shape[0] // 2
    c, d = pairs2[:, 0], pairs2[:, 1] + n
    # (n, N2) tables: M[a, c_j], M[n + b, c_j], M[a, n + d_j], M[n + b, n + d_j].
    first_c, second_c, first_d, second_d = _column_tables(M, pairs2)

    def norms(a, b):  # x^T M x, grouped as the cross terms are
        return (M[a, a] + M[b, a]) + (M[a, b] + M[b, b])

    if pairs1 is None:
        cross = (first_c[:, None] + second_c[None, :]) + (first_d[:, None] + second_d[None, :])
        cross = einops.rearrange(cross, "a b j -> (a b) j")
        grid_a, grid_b = jnp.divmod(jnp.arange(n * n), n)
        norms1 = norms(grid_a, grid_b + n)
    else:
        a, b = pairs1[:, 0], pairs1[:, 1]
        cross = (first_c[a] + second_c[b]) + (first_d[a] + second_d[b])
        norms1 = norms(a, b + n)
    return InnerProducts(cross, norms1, norms(c, d))


# How :func:`squared_distances` treats the cancellation residue of ``|x|^2 + |z|^2 - 2 x.z``.
DISTANCES = ("tolerance", "nonnegative")


def check_distances(distances: str) -> str:
    """``distances`` if it is one of :data:`DISTANCES`; InvalidArgument naming it if not."""
    lookup(dict.fromkeys(DISTANCES), distances, "distances", "distance convention")
    return distances


def squared_distances(inner: InnerProducts, distances: str = "tolerance") -> jax.Array:
    """``||x_i - z_j||_M^2`` from inner products, with the cancellation residue handled
    by the ``distances`` convention (one of :data:`DISTANCES`):

    * ``"tolerance"`` (the default): values up to ``16 eps (|x|^2 + |z|^2)`` are set to
      exactly 0. Computing the distance as ``|x|^2 + |z|^2 - 2 x.z`` leaves a residue of
      a few ulps where the points coincide; the Laplace kernel divides by its root.
    * ``"nonnegative"``: only negative values are set to 0, the convention of the
      paper's published code. Points at a tiny but nonzero distance (e.g. the fixed
      points of a reflection under a feature matrix that nearly annihilates their
      differences) keep that distance.
    """
    scale = inner.norms1[:, None] + inner.norms2[None, :]
    d2 = scale - 2 * inner.cross
    if check_distances(distances) == "nonnegative":
        return jnp.maximum(d2, 0.0)
    tol = 16 * jnp.finfo(d2.dtype).eps * jnp.abs(scale)
    return jnp.where(d2 > tol, d2, 0.0)


class KernelParts(NamedTuple):
    """A kernel matrix and the weights of its input gradient.

    ``grad_x K(x_i, x)|_{x = x_j} = scale * M (W_ij x_i - s W_ij x_j)`` with ``s = 1``
    for a kernel with :attr:`Kernel.self_term`. For the Gaussian kernel ``W`` is ``K``
    itself (the same array), so the engine masks and gathers one matrix, not two.
    """

    K: jax.Array
    W: jax.Array
    scale: jax.Array


def _gaussian_parts(
    inner: InnerProducts, bandwidth: jax.Array, distances: str = "tolerance"
) -> KernelParts:
    K = jnp.exp(-squared_distances(inner, distances) / (2 * bandwidth**2))
    return KernelParts(K, K, 1 / bandwidth**2)


def _laplace_parts(
    inner: InnerProducts, bandwidth: jax.Array, distances: str = "tolerance"
) -> KernelParts:
    dist = _safe_sqrt(squared_distances(inner, distances))
    K = jnp.exp(-dist / bandwidth)
    W = jnp.where(dist > 0, K / jnp.where(dist > 0, dist, 1.0), 0.0)
    return KernelParts(K, W, 1 / bandwidth)


def _quadratic_parts(
    inner: InnerProducts, bandwidth: jax.Array, distances: str = "tolerance"
) -> KernelParts:
    del bandwidth, distances  # an inner-product kernel: no distances
    return KernelParts(inner.cross**2, inner.cross, jnp.asarray(2.0, inner.cross.dtype))


class Kernel(NamedTuple):
    """A built-in kernel: everything the engine needs to know about it, in one record.

    Attributes:
      name: its key in :data:`KERNELS` (what :class:`grokrfm.rfm.RFMConfig` names).
      pointwise: ``k(x, z, M, bandwidth)`` on single points (autodiff AGOP, checks).
      parts: ``parts(inner, bandwidth, distances="tolerance") -> KernelParts``: the
        kernel matrix and its gradient weights from :class:`InnerProducts` (the
        closed-form AGOP); ``distances`` as for :func:`squared_distances`.
      self_term: the gradient has the ``-W_ij x_j`` term (translation-invariant kernels).
      weights_are_kernel: ``parts`` returns ``W`` as ``K`` itself, so ``K alpha`` (the
        predictions) is also the self-term coefficient ``W alpha``.
    """

    name: str
    pointwise: PointwiseKernel
    parts: Callable[..., KernelParts]
    self_term: bool
    weights_are_kernel: bool


# The registry: adding a kernel is one entry here (with its pointwise and matrix forms).
KERNELS: dict[str, Kernel] = {
    kernel.name: kernel
    for kernel in (
        Kernel("gaussian", gaussian, _gaussian_parts, True, True),
        Kernel("laplace", laplace, _laplace_parts, True, False),
        Kernel("quadratic", quadratic, _quadratic_parts, False, False),
    )
}


def get_kernel(kernel: Kernel | str, argument: str = "kernel") -> Kernel:
    """The :class:`Kernel` named ``kernel`` (a record is returned as it is)."""
    if isinstance(kernel, Kernel):
        return kernel
    return lookup(KERNELS, kernel, argument, "kernel")


def kernel_matrix(
    kernel: Kernel | str, X1: jax.Array, X2: jax.Array, M: jax.Array, bandwidth: jax.Array
) -> jax.Array:
    """``(N1, N2)`` kernel matrix of a built-in kernel on arbitrary inputs."""
    return get_kernel(kernel).parts(dense_inner(X1, X2, M), bandwidth).K
