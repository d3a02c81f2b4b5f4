"""Exact kernel ridge regression on a padded training set.

The padded form keeps shapes fixed across a batch of partitions: padding rows and
columns of the kernel matrix are replaced by the identity and padding targets by zero,
so the system is block diagonal, the real block is solved exactly as it would be alone,
and the padding coefficients come out exactly zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl


def masked_system(K: jax.Array, valid: jax.Array, ridge: jax.Array) -> jax.Array:
    """``K + ridge I`` on the valid block and the identity on padding. ``K``: ``(N, N)``."""
    eye = jnp.eye(K.shape[0], dtype=K.dtype)
    both = valid[:, None] & valid[None, :]
    return jnp.where(both, K + ridge * eye, eye)


def solve(
    K: jax.Array, Y: jax.Array, valid: jax.Array, ridge: jax.Array = 0.0
) -> tuple[jax.Array, jax.Array]:
    """Solve ``(K + ridge I) alpha = Y`` on the valid points by Cholesky.

    Args:
      K: ``(N, N)`` symmetric kernel matrix over the padded training set.
      Y: ``(N, c)`` targets.
      valid: ``(N,)`` bool, False on padding.
      ridge: ``lambda >= 0``; 0 is exact interpolation (the paper's convention).

    Returns:
      ``(alpha, ok)``: ``alpha`` is ``(N, c)`` with zero rows on padding; ``ok`` is a
      scalar bool, False when the factorisation failed (non-finite coefficients, as when
      K is numerically singular at ridge 0).
    """
    # A is symmetric, so A.T is the same matrix; LAPACK wants it column-major, and the
    # transpose of a row-major buffer is exactly that, so XLA passes it without a copy.
    # (jnp.linalg.cholesky's symmetrisation would cost a full transpose pass.)
    A = masked_system(K, valid, ridge).T
    factor = jax.lax.linalg.cholesky(A, symmetrize_input=False)
    Y = jnp.where(valid[:, None], Y, 0.0)
    alpha = jsl.cho_solve((factor, True), Y)
    return alpha, jnp.all(jnp.isfinite(alpha))
