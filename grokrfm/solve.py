"""Exact kernel ridge regression on a padded training set.

The padded form keeps shapes fixed across a batch of partitions: padding rows and
columns of the kernel matrix are replaced by the identity and padding targets by zero,
so the system is block diagonal, the real block is solved exactly as it would be alone,
and the padding coefficients come out exactly zero.

Three solvers (:data:`SOLVERS`); the first two compute the same Cholesky solve:

* ``"lapack"`` (the default): on CPU the factorisation and the two triangular solves
  are LAPACK's ``potrf`` and ``trsm`` (the kernels jaxlib registers with XLA), called
  through :func:`jax.ffi.ffi_call` so that nothing is copied around them. LAPACK
  stores matrices column-major and XLA row-major; a symmetric matrix is its own
  transpose, so the row-major buffer *is* the column-major matrix and is handed over
  as it is, and the factor is left where LAPACK wrote it (its other triangle is never
  read). The generic path copies the matrix into column-major order before the
  factorisation and masks the factor's upper triangle after it: two extra passes over
  an N x N array. On GPU and TPU the ``"lapack"`` solver is the reference one.
* ``"reference"``: :func:`jax.lax.linalg.cholesky` and
  :func:`jax.scipy.linalg.cho_solve`, on every backend. The tests check that the two
  agree to the last bit.
* ``"lu"``: the general solve, LU with partial pivoting (:func:`jax.numpy.linalg.solve`,
  LAPACK's ``getrf``/``getrs`` on CPU). It needs no positive definiteness, so it solves a
  system that is symmetric but numerically indefinite (a Gaussian kernel matrix with
  nearly coincident points, whose smallest eigenvalues round-off pushes below zero),
  where Cholesky breaks down. It is the solve of the paper's published code (a general
  solve at ridge 0), and about twice the factorisation's work.

Jitter policy. The paper's convention is ridge 0 (exact interpolation). When the
solve of ``K + ridge I`` breaks down (non-finite coefficients: K
numerically singular or, for Cholesky, indefinite, which float32 reaches far sooner
than float64), :func:`solve` can
retry with a diagonal jitter ``jitter_start * 100^k * mean(diag K)`` for k = 0, 1, ...,
``retries - 1``. The jitter actually added is returned, so a run records exactly which
iterations were not solved at the requested ridge. Under ``vmap`` the retry loop only
costs anything when some run in the batch failed.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from grokrfm.errors import lookup

SOLVERS = ("lapack", "reference", "lu")


def check_solver(solver: str) -> str:
    """``solver`` if it is one of :data:`SOLVERS`; InvalidArgument naming ``solver`` if not."""
    lookup(dict.fromkeys(SOLVERS), solver, "solver", "solver")
    return solver


def masked_system(K: jax.Array, valid: jax.Array, ridge: jax.Array) -> jax.Array:
    """``K + ridge I`` on the valid block and the identity on padding. ``K``: ``(N, N)``.

    The diagonal comes from comparing row and column indices inside the same
    elementwise pass, so XLA forms the system in one fusion (no ``N x N`` identity, no
    scatter into a copy).
    """
    N = K.shape[0]
    rows = jax.lax.broadcasted_iota(jnp.int32, (N, N), 0)
    cols = jax.lax.broadcasted_iota(jnp.int32, (N, N), 1)
    both = valid[:, None] & valid[None, :]
    diagonal = jnp.where(valid, ridge, 1.0).astype(K.dtype)
    return jnp.where(both, K, 0.0) + jnp.where(rows == cols, diagonal[:, None], 0.0)


def _reference_solve(A: jax.Array, Y: jax.Array) -> jax.Array:
    # A is symmetric, so A.T is the same matrix (jnp.linalg.cholesky's symmetrisation
    # would cost a full transpose pass). NaN where the factorisation failed.
    factor = jax.lax.linalg.cholesky(A.T, symmetrize_input=False)
    return jsl.cho_solve((factor, True), Y)


_LOWER, _LEFT, _PLAIN, _TRANSPOSED, _NON_UNIT = (np.uint8(ord(c)) for c in "LLNTN")


@functools.cache
def _lapack_name(routine: str, dtype: str) -> str | None:
    """The name of jaxlib's LAPACK kernel for ``routine`` (``"potrf"``, ``"trsm"``) in
    ``dtype``, with jaxlib's LAPACK bindings initialised (as jax's own lowerings do);
    None where this jaxlib has no such kernel (then the reference solver is used)."""
    if dtype not in ("float32", "float64"):
        return None
    try:
        from jaxlib import lapack
    except ImportError:  # pragma: no cover - jaxlib always ships it on CPU
        return None
    name = lapack.prepare_lapack_call(f"{routine}_ffi", np.dtype(dtype))
    registered = lapack.registrations().get("cpu", [])
    return name if any(entry[0] == name for entry in registered) else None


def _lapack_target(routine: str, dtype) -> str | None:
    return _lapack_name(routine, np.dtype(dtype).name)


def lapack_available(dtype) -> bool:
    """Whether the ``"lapack"`` solver calls LAPACK directly on CPU for ``dtype``."""
    return all(_lapack_target(r, dtype) is not None for r in ("potrf", "trsm"))


def _lapack_solve(A: jax.Array, Y: jax.Array) -> jax.Array:
    """The Cholesky solve by LAPACK's ``potrf`` and ``trsm`` on the buffers as they are."""
    # potrf reads the row-major buffer of the symmetric A as column-major (the same
    # matrix) and overwrites it with L in column-major order.
    factor, info = jax.ffi.ffi_call(
        _lapack_target("potrf", A.dtype),
        (
            jax.ShapeDtypeStruct(A.shape, A.dtype),
            jax.ShapeDtypeStruct(A.shape[:-2], jnp.int32),
        ),
        input_output_aliases={0: 0},
        vmap_method="broadcast_all",
    )(A, uplo=_LOWER)
    # trsm reads the factor's buffer the same way (as L); the right-hand sides are
    # declared column-major (major-to-minor (1, 0)), a copy of an N x c array at most.
    column_major = (*range(Y.ndim - 2), Y.ndim - 1, Y.ndim - 2)

    def triangular(rhs, transpose):
        return jax.ffi.ffi_call(
            _lapack_target("trsm", A.dtype),
            jax.ShapeDtypeStruct(rhs.shape, rhs.dtype),
            input_layouts=[None, column_major],
            output_layouts=column_major,
            input_output_aliases={1: 0},
            vmap_method="broadcast_all",
        )(factor, rhs, side=_LEFT, uplo=_LOWER, trans_x=transpose, diag=_NON_UNIT)

    alpha = triangular(triangular(Y, _PLAIN), _TRANSPOSED)  # L^-T L^-1 Y
    return jnp.where(info[..., None, None] == 0, alpha, jnp.nan)


def cholesky_solve(A: jax.Array, Y: jax.Array, solver: str = "lapack") -> jax.Array:
    """``A^-1 Y`` for a symmetric positive definite ``A (N, N)`` by Cholesky; all NaN
    where the factorisation fails (A not numerically positive definite).

    Args:
      A: symmetric; only one triangle is read.
      Y: ``(N, c)`` right-hand sides.
      solver: one of :data:`SOLVERS`.
    """
    if check_solver(solver) == "reference" or not lapack_available(A.dtype):
        return _reference_solve(A, Y)
    return jax.lax.platform_dependent(A, Y, cpu=_lapack_solve, default=_reference_solve)


def linear_solve(A: jax.Array, Y: jax.Array, solver: str = "lapack") -> jax.Array:
    """``A^-1 Y`` for a symmetric ``A (N, N)`` by ``solver`` (one of :data:`SOLVERS`).

    The Cholesky solvers give all NaN where ``A`` is not numerically positive definite;
    ``"lu"`` solves any nonsingular ``A`` (inf or NaN where it is exactly singular).
    """
    if check_solver(solver) == "lu":
        return jnp.linalg.solve(A, Y)
    return cholesky_solve(A, Y, solver)


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
    solver: str = "lapack",
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Solve ``(K + ridge I) alpha = Y`` on the valid points (by Cholesky unless
    ``solver`` is ``"lu"``).

    Args:
      K: ``(N, N)`` symmetric kernel matrix over the padded training set.
      Y: ``(N, c)`` targets.
      valid: ``(N,)`` bool, False on padding.
      ridge: ``lambda >= 0``; 0 is exact interpolation (the paper's convention).
      retries: how many jittered attempts to make after a failed factorisation
        (0: none; the failure is only reported).
      jitter_start: first relative jitter (default :func:`default_jitter_start`).
      solver: one of :data:`SOLVERS` (``"lapack"`` and ``"reference"`` give the same
        numbers, ``"reference"`` being the generic XLA path; ``"lu"`` is the general
        solve, which needs no positive definiteness).

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
    alpha = linear_solve(masked_system(K, valid, ridge), Y, solver)
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
        alpha = linear_solve(masked_system(K, valid, ridge + jitter), Y, solver)
        return attempt + 1, alpha, jnp.all(jnp.isfinite(alpha)), jitter

    state = (jnp.zeros((), jnp.int32), alpha, ok, jitter)
    _, alpha, ok, jitter = jax.lax.while_loop(failed, retry, state)
    return alpha, ok, jitter
