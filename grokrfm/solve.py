"""Exact kernel ridge regression on a padded training set.

The padded form keeps shapes fixed across a batch of partitions: padding rows and
columns of the kernel matrix are replaced by the identity and padding targets by zero,
so the system is block diagonal, the real block is solved exactly as it would be alone,
and the padding coefficients come out exactly zero.

Jitter policy. The paper's convention is ridge 0 (exact interpolation). When the
Cholesky factorisation of ``K + ridge I`` breaks down (non-finite coefficients: K
numerically singular, which float32 reaches far sooner than float64), :func:`solve` can
retry with a diagonal jitter ``jitter_start * 100^k * mean(diag K)`` for k = 0, 1, ...,
``retries - 1``. The jitter actually added is returned, so a run records exactly which
iterations were not solved at the requested ridge. Under ``vmap`` the retry loop only
costs anything when some run in the batch failed.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl


def masked_system(K: jax.Array, valid: jax.Array, ridge: jax.Array) -> jax.Array:
    """``K + ridge I`` on the valid block and the identity on padding. ``K``: ``(N, N)``.

    The diagonal is added by a scatter rather than by adding ``jnp.eye(N)``, which XLA
    would materialise as one more N x N array (0.1 GB at p = 61).
    """
    both = valid[:, None] & valid[None, :]
    diagonal = jnp.arange(K.shape[0])
    return jnp.where(both, K, 0.0).at[diagonal, diagonal].add(jnp.where(valid, ridge, 1.0))


def _cholesky_solve(A: jax.Array, Y: jax.Array) -> jax.Array:
    # A is symmetric, so A.T is the same matrix; LAPACK wants it column-major, and the
    # transpose of a row-major buffer is exactly that, so XLA passes it without a copy.
    # (jnp.linalg.cholesky's symmetrisation would cost a full transpose pass.)
    factor = jax.lax.linalg.cholesky(A.T, symmetrize_input=False)
    return jsl.cho_solve((factor, True), Y)


def default_jitter_start(dtype) -> float:
    """First relative jitter of the retry policy: 100 ulps of the mean diagonal."""
    return 100 * float(jnp.finfo(dtype).eps)


def solve(
    K: jax.Array,
    Y: jax.Array,
    valid: jax.Array,
    ridge: jax.Array = 0.0,
    retries: int = 0,
    jitter_start: float | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Solve ``(K + ridge I) alpha = Y`` on the valid points by Cholesky.

    Args:
      K: ``(N, N)`` symmetric kernel matrix over the padded training set.
      Y: ``(N, c)`` targets.
      valid: ``(N,)`` bool, False on padding.
      ridge: ``lambda >= 0``; 0 is exact interpolation (the paper's convention).
      retries: how many jittered attempts to make after a failed factorisation
        (0: none; the failure is only reported).
      jitter_start: first relative jitter (default :func:`default_jitter_start`).

    Returns:
      ``(alpha, ok, jitter)``: ``alpha`` is ``(N, c)`` with zero rows on padding; ``ok``
      is a scalar bool, False when the last attempt still gave non-finite coefficients;
      ``jitter`` is the scalar added to the diagonal beyond ``ridge`` (0 when the first
      attempt succeeded).
    """
    N = K.shape[0]
    chex.assert_shape([K, valid], [(N, N), (N,)])
    chex.assert_rank(Y, 2)
    chex.assert_equal_shape_prefix([K, Y], 1)
    chex.assert_type(valid, bool)
    Y = jnp.where(valid[:, None], Y, 0.0)
    alpha = _cholesky_solve(masked_system(K, valid, ridge), Y)
    ok = jnp.all(jnp.isfinite(alpha))
    jitter = jnp.zeros((), K.dtype)
    if retries == 0:
        return alpha, ok, jitter

    start = jitter_start if jitter_start is not None else default_jitter_start(K.dtype)
    n_valid = jnp.maximum(jnp.sum(valid, dtype=K.dtype), 1.0)
    scale = jnp.sum(jnp.where(valid, jnp.diagonal(K), 0.0)) / n_valid

    def failed(state):
        attempt, _, ok, _ = state
        return (~ok) & (attempt < retries)

    def retry(state):
        attempt, _, _, _ = state
        jitter = start * scale * 100.0 ** attempt.astype(K.dtype)
        alpha = _cholesky_solve(masked_system(K, valid, ridge + jitter), Y)
        return attempt + 1, alpha, jnp.all(jnp.isfinite(alpha)), jitter

    state = (jnp.zeros((), jnp.int32), alpha, ok, jitter)
    _, alpha, ok, jitter = jax.lax.while_loop(failed, retry, state)
    return alpha, ok, jitter
