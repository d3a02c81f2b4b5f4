"""The Average Gradient Outer Product of a kernel predictor, and the feature update.

For the predictor ``f(x) = sum_i alpha_i K(x_i, x)`` (``alpha_i`` in R^c) the AGOP at the
training points is (arXiv 2604.00316, §2.1; docs/science.md §3)::

    g_jc = grad_x f_c(x_j),   g_jc <- g_jc - mean_j g_jc   (centring, per class)
    AGOP = (1 / n_train) sum_j sum_c g_jc g_jc^T

Three implementations, each checked against the others in the tests:

* :func:`agop_autodiff` -- ``vmap`` of ``jacfwd`` of the predictor, for any pointwise
  kernel (including user-supplied ones). O(N^2 d^2); the reference.
* :func:`agop_dense` -- the closed form ``g_jc = scale * M (sum_i W_ij alpha_ic x_i -
  s B_jc x_j)`` with ``B = W alpha`` for the built-in kernels on arbitrary inputs,
  O(N^2 c d).
* :func:`agop_pairs` -- the same closed form for one-hot pair inputs, where the
  contraction over training points becomes a batched matmul over the n x n grid,
  O(n^2 N c), plus one Gram of the gradients, O(N c d^2). The RFM engine's path.

All take a ``valid`` mask so a padded training set gives exactly the unpadded AGOP.
"""

from __future__ import annotations

import chex
import einops
import jax
import jax.numpy as jnp

from grokrfm import kernels as K_
from grokrfm.errors import lookup


def gradient_outer(g: jax.Array, valid: jax.Array, centre: bool = True) -> jax.Array:
    """``sum_{j valid, c} g_jc g_jc^T / n_valid``, optionally centring each class first.

    Args:
      g: ``(N, c, d)`` gradients.
      valid: ``(N,)`` bool.
      centre: subtract each class's mean gradient over the valid points.

    Returns:
      ``(d, d)``.
    """
    chex.assert_rank([g, valid], [3, 1])
    chex.assert_equal_shape_prefix([g, valid], 1)
    n_valid = jnp.sum(valid, dtype=g.dtype)
    mask = valid[:, None, None]
    g = jnp.where(mask, g, 0.0)
    if centre:
        g = jnp.where(mask, g - g.sum(axis=0, keepdims=True) / n_valid, 0.0)
    flat = einops.rearrange(g, "j c d -> (j c) d")
    return flat.T @ flat / n_valid


def agop_autodiff(
    kernel_fn: K_.PointwiseKernel,
    X: jax.Array,
    alpha: jax.Array,
    M: jax.Array,
    bandwidth: jax.Array,
    valid: jax.Array | None = None,
    centre: bool = True,
) -> jax.Array:
    """AGOP by ``vmap(jacfwd(f))`` for any pointwise kernel ``kernel_fn(x, z, M, L)``.

    Args:
      kernel_fn: scalar kernel of two ``(d,)`` inputs.
      X: ``(N, d)`` training inputs.
      alpha: ``(N, c)`` coefficients (zero on padding).
      M: ``(d, d)`` feature matrix.
      bandwidth: scalar passed to the kernel.
      valid: ``(N,)`` bool, or None when nothing is padding.
      centre: centre gradients per class.

    Returns:
      ``(d, d)`` AGOP.
    """
    if valid is None:
        valid = jnp.ones(X.shape[0], bool)
    alpha = jnp.where(valid[:, None], alpha, 0.0)

    def predictor(x):  # (d,) -> (c,)
        return jax.vmap(lambda xi: kernel_fn(xi, x, M, bandwidth))(X) @ alpha

    return gradient_outer(jax.vmap(jax.jacfwd(predictor))(X), valid, centre)


def _valid_weights(kernel: K_.Kernel, parts: K_.KernelParts, alpha, valid):
    """Mask the weights to the valid block and form the self-term coefficients B."""
    both = valid[:, None] & valid[None, :]
    W = jnp.where(both, parts.W, 0.0)
    B = W @ alpha if kernel.self_term else jnp.zeros_like(alpha)
    return W, B


def agop_dense(kernel, X, alpha, M, bandwidth, valid=None, centre=True, distances="tolerance"):
    """Closed-form AGOP of a built-in kernel on arbitrary inputs ``X (N, d)``
    (``distances``: the convention of :func:`grokrfm.kernels.squared_distances`).

    Costs O(N^2 c d) time and memory: fine for checks and small dense problems.
    """
    if valid is None:
        valid = jnp.ones(X.shape[0], bool)
    alpha = jnp.where(valid[:, None], alpha, 0.0)
    kernel = K_.get_kernel(kernel)
    parts = kernel.parts(K_.dense_inner(X, X, M), bandwidth, distances)
    W, B = _valid_weights(kernel, parts, alpha, valid)
    h = jnp.einsum("ij,ic,id->jcd", W, alpha, X) - B[:, :, None] * X[:, None, :]
    grads = parts.scale * jnp.einsum("jcd,de->jce", h, M)
    return gradient_outer(grads, valid, centre)


def pair_inputs(pairs: jax.Array, n: int, dtype) -> jax.Array:
    """``(N, 2n)`` one-hot pair encodings ``e_a || e_b`` of ``pairs (N, 2)``."""
    return jax.nn.one_hot(pairs[:, 0], 2 * n, dtype=dtype) + jax.nn.one_hot(
        pairs[:, 1] + n, 2 * n, dtype=dtype
    )


def grid_pairs(n: int) -> jax.Array:
    """``(n^2, 2)`` operands of every grid point, in grid-index order ``a * n + b``."""
    a, b = jnp.divmod(jnp.arange(n * n, dtype=jnp.int32), n)
    return jnp.stack([a, b], axis=1)


# Training columns per step of the AGOP's scan: large enough for efficient matmuls,
# small enough that the per-chunk gradient blocks (2n x c x chunk) stay a few MB.
AGOP_CHUNK = 512


# The two forms of the pairs AGOP (see :func:`agop_pairs_from_grid`).
PAIRS_METHODS = ("stable", "fast")


def agop_pairs_from_grid(
    W_grid, B, scale, alpha, pairs, M, valid, centre=True, chunk=None, method="stable"
) -> tuple[jax.Array, jax.Array]:
    """Closed-form AGOP at one-hot pair inputs, given gradient weights on the whole grid.

    In ``h_jc = sum_i W_ij alpha_ic x_i - B_jc x_j`` the first block of the sum has entry
    ``u_jc[a] = sum_b W_(a,b),j alpha_(a,b),c`` and the second ``u_jc[n + b] = sum_a ...``.
    With the weights laid out over the n x n grid (rows of ``W_grid``) and alpha
    scattered onto it, each block is one batched matmul over the grid, O(n^2 N c)
    instead of O(N^2 c d). The ``B_jc x_j`` term has two non-zeros per point, so it is
    subtracted from one entry of each block. The Gram of the gradients, O(N c d^2), is
    accumulated over chunks of training columns in a ``lax.scan``, so the ``(2n, c, N)``
    gradient array is never formed (at p = 61 it would be 0.2 GB) and the symmetric
    Gram costs three of its four blocks.

    Two forms, the same in exact arithmetic. The fast one forms the Gram of ``h`` and
    applies M afterwards, ``M (sum h h^T - total total^T / N) M``, saving the product
    ``M h``. The stable one applies M to each chunk's ``h`` first, centres the chunk on
    its own mean and merges the chunks' centred Grams exactly (the pairwise update of
    Chan, Golub and LeVeque), as the dense and autodiff forms square only the gradients
    themselves. They part when the coefficients are huge, as at ridge 0 on a nearly
    singular kernel matrix (a feature matrix that nearly annihilates the differences of
    some training points, Finding 4.1): ``h`` is then huge exactly along the directions
    M annihilates, and squaring first leaves round-off of about ``eps |M|^2 |gram|``
    that swamps the AGOP (at p = 29 it turned Finding 4.1's precision of 1 into 0.04).
    The engine uses the stable form; it costs about 1.7x the fast one's AGOP time at
    p = 61 (``make bench``). The fast form is kept as a reference: on ordinary runs the
    two agree to about 1e-9.

    The self-term coefficients ``B = W^T alpha`` are the first block summed over its
    entries (``sum_a u_jc[a]``), so with ``B=None`` they come out of the same
    contraction instead of another ``(n^2, N) x (N, c)`` product; for the Gaussian
    kernel, whose weights are the kernel, they are the predictions at the training
    points.

    Args:
      W_grid: ``(n^2, N)``: ``W_grid[g, j]`` is the weight between grid point g and
        training point j (any finite value where g is not a training point or j is
        padding).
      B: ``(N, c)`` self-term coefficients ``sum_i W_ij alpha_ic``, zeros for kernels
        without the term, or None to compute ``sum_i W_ij alpha_ic`` here.
      scale: scalar factor of the gradient (``kernels.KernelParts.scale``).
      alpha: ``(N, c)`` coefficients, zero on padding.
      pairs: ``(N, 2)`` operands of the training points.
      M: ``(2n, 2n)`` feature matrix.
      valid: ``(N,)`` bool.
      centre: centre gradients per class.
      chunk: training columns per scan step (default :data:`AGOP_CHUNK`, capped at N).
      method: ``"stable"`` (M applied to each chunk first, chunk means merged exactly)
        or ``"fast"`` (the Gram of h, then M on both sides; exact only while the
        coefficients are moderate).

    Returns:
      ``(agop, B)``: the ``(2n, 2n)`` AGOP and the ``(N, c)`` self-term coefficients it
      used (zero on padding).
    """
    n = M.shape[0] // 2
    N, c = alpha.shape
    chex.assert_shape(M, (2 * n, 2 * n))
    chex.assert_shape([W_grid, alpha, pairs, valid], [(n * n, N), (N, c), (N, 2), (N,)])
    compute_B = B is None
    if not compute_B:
        chex.assert_shape(B, (N, c))
    dtype = W_grid.dtype
    # alpha on the grid: zero wherever the grid point is not a (valid) training point,
    # which also removes the rows of W_grid that are not training points.
    cell = jnp.where(valid, pairs[:, 0] * n + pairs[:, 1], n * n)
    a3 = jnp.zeros((n * n, c), dtype).at[cell].set(alpha, mode="drop")
    a3 = einops.rearrange(a3, "(a b) c -> a b c", a=n)  # grid point g = a n + b
    W3 = einops.rearrange(W_grid, "(a b) j -> a b j", a=n)
    if not compute_B:
        B = jnp.where(valid[:, None], B, 0.0)
    size = min(int(chunk or AGOP_CHUNK), N)
    steps = -(-N // size)
    rows = jnp.arange(n, dtype=pairs.dtype)[:, None, None]
    # The last chunk is shifted back to end at N; columns an earlier chunk already
    # covered are zeroed so that every column counts once, as are padding columns.
    begins = jnp.minimum(jnp.arange(steps) * size, N - size)
    columns = begins[:, None] + jnp.arange(size)[None, :]  # (steps, size)

    M11, M12, M21, M22 = M[:n, :n], M[:n, n:], M[n:, :n], M[n:, n:]
    n_valid = jnp.sum(valid, dtype=dtype)
    zeros = jnp.zeros((n, n), dtype)

    def gradients(step):
        """The chunk's ``h`` blocks ``(n, c * size)`` each, its mask and its ``B``."""
        begin = begins[step]
        fresh = (columns[step] >= step * size) & valid[columns[step]]
        Wc = jnp.where(
            fresh[None, None], jax.lax.dynamic_slice_in_dim(W3, begin, size, axis=2), 0.0
        )
        ab = jax.lax.dynamic_slice_in_dim(pairs, begin, size).T[:, None, None]  # (2, 1, 1, size)
        u1 = jnp.einsum("abj,abc->acj", Wc, a3)
        if compute_B:
            Bc = u1.sum(axis=0)  # (c, size): sum_i W_ij alpha_ic, zero on masked columns
        else:
            Bc = jnp.where(fresh[None], jax.lax.dynamic_slice_in_dim(B, begin, size).T, 0.0)
        # h = u - B x: the self-term touches one entry of each block, a and n + b.
        h1 = u1 - jnp.where(rows == ab[0], Bc[None], 0.0)
        h2 = jnp.einsum("abj,abc->bcj", Wc, a3) - jnp.where(rows == ab[1], Bc[None], 0.0)
        f1 = einops.rearrange(h1, "a c j -> a (c j)")
        f2 = einops.rearrange(h2, "b c j -> b (c j)")
        return f1, f2, fresh, Bc

    def fast():
        """Gram of h, then ``M (gram - total total^T / N) M``."""

        def accumulate(acc, step):
            gram11, gram12, gram22, total = acc
            f1, f2, _, Bc = gradients(step)
            total = total + jnp.concatenate([f1, f2]).reshape(2 * n, c, size).sum(axis=2)
            return (
                gram11 + f1 @ f1.T,
                gram12 + f1 @ f2.T,
                gram22 + f2 @ f2.T,
                total,
            ), (Bc if compute_B else None)

        init = (zeros, zeros, zeros, jnp.zeros((2 * n, c), dtype))
        (g11, g12, g22, total), parts = jax.lax.scan(accumulate, init, jnp.arange(steps))
        gram = jnp.block([[g11, g12], [g12.T, g22]])
        if centre:
            gram = gram - total @ total.T / jnp.maximum(n_valid, 1.0)
        return M @ gram @ M, parts

    def stable():
        """Gram of ``g = M h``, centred per chunk and merged exactly."""

        def accumulate(acc, step):
            gram11, gram12, gram22, mean, count = acc
            f1, f2, fresh, Bc = gradients(step)
            g1 = M11 @ f1 + M12 @ f2  # the gradients (up to scale) g = M h, blockwise
            g2 = M21 @ f1 + M22 @ f2
            if centre:
                # Centre on the chunk's own mean (masked columns stay zero), then merge.
                k = jnp.sum(fresh, dtype=dtype)
                g = einops.rearrange(jnp.concatenate([g1, g2]), "d (c j) -> d c j", c=c)
                local = g.sum(axis=2) / jnp.maximum(k, 1.0)  # masked columns are zero
                g = jnp.where(fresh[None, None], g - local[:, :, None], 0.0)
                g = einops.rearrange(g, "d c j -> d (c j)")
                g1, g2 = g[:n], g[n:]
                total = count + k
                delta = local - mean
                weight = jnp.where(total > 0, count * k / jnp.maximum(total, 1.0), 0.0)
                shift = weight * (delta @ delta.T)
                mean = mean + jnp.where(total > 0, delta * k / jnp.maximum(total, 1.0), 0.0)
                count = total
            else:
                shift = jnp.zeros((2 * n, 2 * n), dtype)
            return (
                gram11 + g1 @ g1.T + shift[:n, :n],
                gram12 + g1 @ g2.T + shift[:n, n:],
                gram22 + g2 @ g2.T + shift[n:, n:],
                mean,
                count,
            ), (Bc if compute_B else None)

        init = (zeros, zeros, zeros, jnp.zeros((2 * n, c), dtype), jnp.zeros((), dtype))
        (g11, g12, g22, _, _), parts = jax.lax.scan(accumulate, init, jnp.arange(steps))
        return jnp.block([[g11, g12], [g12.T, g22]]), parts

    lookup(dict.fromkeys(PAIRS_METHODS), method, "method", "pairs AGOP form")
    agop, parts = (stable if method == "stable" else fast)()
    if compute_B:
        # Columns seen twice (the shifted last chunk) were zeroed the second time.
        parts = einops.rearrange(parts, "s c k -> (s k) c")
        B = jnp.zeros((N, c), dtype).at[columns.reshape(-1)].add(parts)
    return scale**2 * agop / n_valid, B


def agop_pairs(kernel, pairs, alpha, M, bandwidth, valid=None, centre=True):
    """Closed-form AGOP of a built-in kernel at one-hot pair inputs ``pairs (N, 2)``."""
    if valid is None:
        valid = jnp.ones(pairs.shape[0], bool)
    alpha = jnp.where(valid[:, None], alpha, 0.0)
    kernel = K_.get_kernel(kernel)
    parts = kernel.parts(K_.pair_inner(None, pairs, M), bandwidth)
    B = None if kernel.self_term else jnp.zeros_like(alpha)
    return agop_pairs_from_grid(parts.W, B, parts.scale, alpha, pairs, M, valid, centre)[0]


# How :func:`matrix_power` treats eigenvalues below zero (round-off of a PSD AGOP).
ROOTS = ("clip", "signed")


def check_root(root: str) -> str:
    """``root`` if it is one of :data:`ROOTS`; InvalidArgument naming it if not."""
    lookup(dict.fromkeys(ROOTS), root, "root", "root convention")
    return root


def matrix_power(agop: jax.Array, power: jax.Array = 0.5, root: str = "clip") -> jax.Array:
    """``agop^power`` of a symmetric PSD matrix via ``eigh``.

    ``root="clip"``: negative eigenvalues -> 0 (the real part of the principal root).
    ``root="signed"``: each eigenvalue l -> ``sign(l) |l|^power``, which is what the SVD
    form ``U S^power V^T`` of a symmetric matrix gives (its singular values are ``|l|``
    and ``V = U sign(l)``); the paper's published quadratic update takes its root so.
    The two differ only where round-off leaves an eigenvalue below zero.
    """
    evals, evecs = jnp.linalg.eigh((agop + agop.T) / 2)
    magnitude = jnp.abs(evals)
    nonzero = magnitude > 0
    scaled = jnp.where(nonzero, jnp.where(nonzero, magnitude, 1.0) ** power, 0.0)
    if check_root(root) == "clip":
        scaled = jnp.where(evals > 0, scaled, 0.0)
    else:
        scaled = jnp.sign(evals) * scaled
    return (evecs * scaled[None, :]) @ evecs.T
