"""What the learned feature matrix M encodes (PAPER.md section 4, 5 items 7-8, section 6).

The paper compares M with the permutation matrices Pi(g) of the task's symmetry group only
by eye. This module measures it, as pure array functions that vmap over a batch of
feature matrices (runs, iterations of ``M_history``) and over group elements.

**Representation.** Every element g of Dih(A) permutes the 2n input coordinates; Pi(g)
is that ``(2n, 2n)`` permutation matrix (``Pi(g) x_p = x_{g p}`` for every grid point p,
and ``Pi(g h) = Pi(g) Pi(h)``): :func:`representation`.

**Representation score.** Write ``<A, B> = tr(A^T B)`` and ``|A|`` for the Frobenius norm.

* Centring. P = blockdiag(I_n - 11^T/n, I_n - 11^T/n) removes the all-ones direction of
  each one-hot block. Differences of inputs ``x - z`` have zero sum in each block, so
  ``|x - z|_M^2 = (x - z)^T (P M P)(x - z)``: a Gaussian or Laplace kernel sees M only
  through M~ = P M P, and the parts of M that P removes (block-constant rows and
  columns) are invisible to it. Every Pi(g) maps each block onto a block, so it commutes
  with P.
* Symmetrising. M is symmetric, so ``<M, Pi(g)> = <M, S(g)>`` with
  ``S(g) = (Pi(g) + Pi(g)^T) / 2``; unlike Pi(g), S(g) can be matched with cosine 1 by
  a symmetric matrix. ``S(g) = S(g^-1)``, so the score cannot tell g from g^-1
  (reflections are involutions; rotations r^k and r^-k share one score).
* Basis. ``B_g = P S(g) P``; ``B_id = P``.

For a feature matrix M, :func:`representation_scores` returns, per element g:

* ``cosine[g] = <M~, B_g> / (|M~| |B_g|)``, and ``cosine_plus[g]``, ``cosine_minus[g]``,
  the same against ``P (I + S(g)) P`` and ``P (I - S(g)) P`` (0 for the zero matrix
  ``P (I - S(id)) P``);
* ``identity_share = cosine[id]^2``, the fraction of M~'s energy along the identity;
* ``score[g]``, the **partial cosine** with the identity direction removed from both
  sides: with ``R = M~ - <M~, P> P / |P|^2`` and ``U_g = B_g - <B_g, P> P / |P|^2``,
  ``score[g] = <R, U_g> / (|R| |U_g|)`` (0 where either is 0, e.g. for M = I or g = id;
  R counts as 0 when ``|R| <= 1e-10 |M~|``).
  It is the ranking statistic: elements other than the identity are ranked by
  ``|score|`` (:func:`ranked`); a negative score means M ~ a I - b S(g) with b > 0;
* ``pair_share[g] = identity_share + score[g]^2 (1 - identity_share)``, the fraction of
  M~'s energy in span{I, S(g)} (after centring): 1 exactly when ``M~ = a P + b B_g``,
  i.e. when M encodes g and nothing else ("how cleanly").

Why the partial cosine rather than ``cosine``: ``B_g`` of a rotation overlaps the identity
direction slightly (``<P, B_{r^k}> = tr(Pi(r^k)) - 2``), so a diagonal-heavy M would
rank rotations above reflections by ``cosine`` alone; ranking by ``score`` (equivalently
by ``pair_share``) compares every element after the part of M that is just I is gone.
For a subgroup H, :func:`energy_fraction` is ``|proj_{span{B_h : h in H}} M~|^2 / |M~|^2``
(least squares on the Gram of the basis; 1 for M in the span).

**Circulant structure** (PAPER.md section 6). In the ordering of A by powers of its
smallest generator (the discrete logarithm for Z_p^*; the identity ordering for Z_p:
:func:`cyclic_order`) every Pi(g) has circulant diagonal blocks; its off-diagonal blocks
are circulant (entries depend on j - i) for ``a . b`` tasks and Hankel (on i + j) for
``a . b^-1`` tasks. :func:`circulant_deviation` measures how far a block is from that
form; :func:`agop_alignment` is the cosine of vec(M_t) with vec(M_final).

**Orbit predictions** (Finding 4.1): :func:`orbit_prediction` compares the set
``Orbit_H(train) minus train`` with the correctly classified test points.

Per-iteration measures are computed after a run from ``RFMResult.M_history``
(``RFMConfig(save_every=1)``), so the RFM scan itself is unchanged; :func:`feature_records`
measures a whole batch of runs in two compiled calls. The experiments
``features_degenerate``, ``features_random``, ``features_subgroups`` and
``orbit_predictions`` are thin drivers of this module.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import kernels as kernels_
from grokrfm import partition, tasks
from grokrfm.errors import InvalidArgument
from grokrfm.symmetry import SymmetryGroup, stabilizing_elements
from grokrfm.tasks import Group, Task

# Below this fraction of |M~| the part of M~ off the identity direction is rounding error.
RESIDUAL_FLOOR = 1e-10

# --- representations -----------------------------------------------------------------


def representation(sym: SymmetryGroup, dtype=np.float64) -> np.ndarray:
    """``(|G|, 2n, 2n)``: Pi(g) for every element g (rotations first, then reflections).

    ``Pi(g)[perm[i], i] = 1`` for the coordinate permutation of g, so
    ``Pi(g) x_p = x_{g p}`` and ``Pi(g h) = Pi(g) Pi(h)``.
    """
    perms = sym.coordinate_perms
    order, d = perms.shape
    out = np.zeros((order, d, d), dtype)
    out[np.arange(order)[:, None], perms, np.arange(d)[None, :]] = 1
    return out


def multiplication_table(sym: SymmetryGroup) -> np.ndarray:
    """``(|G|, |G|)`` int: ``table[g, h]`` is the element ``g o h`` (apply h first)."""
    perms = sym.coordinate_perms
    index = {row.tobytes(): e for e, row in enumerate(perms)}
    # composed[g * |G| + h] = perms[g][perms[h]]
    composed = np.take_along_axis(
        np.repeat(perms, perms.shape[0], axis=0), np.tile(perms, (perms.shape[0], 1)), axis=1
    )
    return np.array([index[row.tobytes()] for row in composed]).reshape(len(perms), len(perms))


def inverses(sym: SymmetryGroup) -> np.ndarray:
    """``(|G|,)`` int: the inverse of each element."""
    perms = sym.coordinate_perms
    index = {row.tobytes(): e for e, row in enumerate(perms)}
    return np.array([index[np.argsort(row).tobytes()] for row in perms])


def subgroup_mask(sym: SymmetryGroup, generators: Sequence[int]) -> np.ndarray:
    """``(|G|,)`` bool: the elements of the subgroup generated by ``generators``."""
    mask = np.zeros(sym.order, bool)
    mask[list(sym.generate(list(generators)))] = True
    return mask


def element_classes(sym: SymmetryGroup) -> tuple[np.ndarray, tuple[str, ...]]:
    """The classes {g, g^-1} the score cannot separate.

    Returns:
      ``(representative, names)``: ``representative[g] = min(g, g^-1)`` (``(|G|,)`` int)
      and each element's class name (``"sr^3"``; ``"r^3/r^10"`` for a rotation and its
      inverse).
    """
    inv = inverses(sym)
    rep = np.minimum(np.arange(sym.order), inv)
    names = tuple(
        sym.names[g] if inv[g] == g else f"{sym.names[min(g, inv[g])]}/{sym.names[max(g, inv[g])]}"
        for g in range(sym.order)
    )
    return rep, names


# --- representation score --------------------------------------------------------------


def centring_projector(n: int, dtype=np.float64) -> np.ndarray:
    """``(2n, 2n)`` P = blockdiag(I - 11^T/n, I - 11^T/n)."""
    block = np.eye(n, dtype=dtype) - np.full((n, n), 1.0 / n, dtype)
    out = np.zeros((2 * n, 2 * n), dtype)
    out[:n, :n] = block
    out[n:, n:] = block
    return out


class ScoreBasis(NamedTuple):
    """The fixed matrices the scores compare M with (see the module docstring).

    Attributes:
      projector: ``(2n, 2n)`` P.
      elements: ``(|G|, 2n, 2n)`` ``B_g = P S(g) P``.
      residuals: ``(|G|, 2n, 2n)`` ``U_g``, B_g with its component along P removed.
      gram: ``(|G|, |G|)`` ``<B_g, B_h>``.
      residual_gram: ``(|G|, |G|)`` ``<U_g, U_h>``.
    """

    projector: jax.Array
    elements: jax.Array
    residuals: jax.Array
    gram: jax.Array
    residual_gram: jax.Array


def score_basis(sym: SymmetryGroup, dtype=None) -> ScoreBasis:
    """The :class:`ScoreBasis` of ``sym`` (host computation, once per task)."""
    dtype = dtype or jnp.result_type(float)
    pi = representation(sym)
    P = centring_projector(sym.task.n)
    sym_pi = (pi + np.swapaxes(pi, 1, 2)) / 2
    B = P[None] @ sym_pi @ P[None]
    along = np.einsum("gij,ij->g", B, P) / np.sum(P * P)
    U = B - along[:, None, None] * P[None]
    U[sym.identity] = 0.0  # exactly, not rounding residue
    return ScoreBasis(
        jnp.asarray(P, dtype),
        jnp.asarray(B, dtype),
        jnp.asarray(U, dtype),
        jnp.asarray(np.einsum("gij,hij->gh", B, B), dtype),
        jnp.asarray(np.einsum("gij,hij->gh", U, U), dtype),
    )


class Scores(NamedTuple):
    """Representation scores of one M (each field may carry leading batch axes).

    Attributes:
      identity_share: ``()`` fraction of M~'s energy along the identity.
      score: ``(|G|,)`` partial cosine (the ranking statistic).
      pair_share: ``(|G|,)`` fraction of M~'s energy in span{I, S(g)}.
      cosine: ``(|G|,)`` cosine of M~ with B_g.
      cosine_plus, cosine_minus: ``(|G|,)`` cosine of M~ with P (I +- S(g)) P.
    """

    identity_share: jax.Array
    score: jax.Array
    pair_share: jax.Array
    cosine: jax.Array
    cosine_plus: jax.Array
    cosine_minus: jax.Array


def _safe_ratio(num, den):
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


def _check_square(M, d: int, argument: str):
    if M.shape[-2:] != (d, d):
        raise InvalidArgument(argument, f"must be {d} x {d} (or a batch of them), got {M.shape}")


def centred(M: jax.Array, basis: ScoreBasis) -> jax.Array:
    """``P M P`` for ``M (..., 2n, 2n)``."""
    P = basis.projector
    return P @ M @ P


def representation_scores(M: jax.Array, basis: ScoreBasis) -> Scores:
    """The :class:`Scores` of ``M (2n, 2n)`` against every group element; pure, vmappable.

    Raises:
      InvalidArgument: naming ``M`` when its shape is not ``(2n, 2n)``.
    """
    d = basis.projector.shape[0]
    _check_square(M, d, "M")
    if M.ndim != 2:
        raise InvalidArgument("M", f"one {d} x {d} matrix (vmap for a batch), got {M.shape}")
    P = basis.projector
    Mt = centred(M, basis)
    norm_m = jnp.sqrt(jnp.sum(Mt * Mt))
    norm_p2 = jnp.sum(P * P)
    inner = jnp.einsum("gij,ij->g", basis.elements, Mt)  # <B_g, M~>
    norm_b = jnp.sqrt(jnp.diagonal(basis.gram))
    cosine = _safe_ratio(inner, norm_b * norm_m)
    along = jnp.sum(Mt * P) / norm_p2
    R = Mt - along * P
    norm_r = jnp.sqrt(jnp.sum(R * R))
    norm_r = jnp.where(norm_r > RESIDUAL_FLOOR * norm_m, norm_r, 0.0)  # M = I: R is rounding
    norm_u = jnp.sqrt(jnp.sum(basis.residuals * basis.residuals, axis=(1, 2)))
    score = _safe_ratio(jnp.einsum("gij,ij->g", basis.residuals, R), norm_u * norm_r)
    identity_share = _safe_ratio(along**2 * norm_p2, norm_m**2)
    pair_share = identity_share + score**2 * (1 - identity_share)
    # P (I +- S(g)) P = P +- B_g: inner products and norms from the Gram and <P, B_g>.
    p_dot_b = jnp.einsum("gij,ij->g", basis.elements, P)
    p_dot_m = along * norm_p2

    def variant(sign):
        norm2 = norm_p2 + 2 * sign * p_dot_b + jnp.diagonal(basis.gram)
        # P (I - S(id)) P = 0: its cosine is 0, not the ratio of two rounding errors.
        norm = jnp.where(norm2 > 1e-12 * norm_p2, jnp.sqrt(jnp.maximum(norm2, 0.0)), 0.0)
        return _safe_ratio(p_dot_m + sign * inner, norm * norm_m)

    return Scores(identity_share, score, pair_share, cosine, variant(1.0), variant(-1.0))


def energy_fraction(
    M: jax.Array, basis: ScoreBasis, mask: jax.Array, beyond_identity: bool = False
) -> jax.Array:
    """Fraction of M~'s energy in span{B_h : h in H}, H given by ``mask (|G|,)`` bool.

    The projection is the least-squares fit ``sum_h c_h B_h`` (pseudo-inverse of the masked
    Gram, so the duplicates ``B_g = B_{g^-1}`` cost nothing). With ``beyond_identity`` the
    identity direction is first removed from M~ and from every B_h (R and U_h of the
    module docstring): the fraction of what M learned beyond a multiple of I that H
    explains (M = I itself is trivially in every span; its R is 0 and the fraction 0).
    Pure, vmappable over ``M`` and ``mask``; 0 for a zero matrix.

    Raises:
      InvalidArgument: naming ``M`` or ``subgroup`` for shapes that do not fit the basis.
    """
    d = basis.projector.shape[0]
    _check_square(M, d, "M")
    if M.ndim != 2:
        raise InvalidArgument("M", f"one {d} x {d} matrix (vmap for a batch), got {M.shape}")
    if mask.shape != (basis.gram.shape[0],):
        raise InvalidArgument(
            "subgroup", f"mask must have shape ({basis.gram.shape[0]},), got {mask.shape}"
        )
    Mt = centred(M, basis)
    if beyond_identity:
        P = basis.projector
        R = Mt - jnp.sum(Mt * P) / jnp.sum(P * P) * P
        # A residual at rounding level (M a multiple of I) counts as 0, not as noise.
        small = jnp.sum(R * R) <= (RESIDUAL_FLOOR**2) * jnp.sum(Mt * Mt)
        Mt = jnp.where(small, 0.0, R)
        vectors, gram = basis.residuals, basis.residual_gram
    else:
        vectors, gram = basis.elements, basis.gram
    keep = mask.astype(Mt.dtype)
    inner = jnp.einsum("gij,ij->g", vectors, Mt) * keep
    gram = gram * keep[:, None] * keep[None, :]
    captured = inner @ jnp.linalg.pinv(gram, hermitian=True) @ inner
    return _safe_ratio(captured, jnp.sum(Mt * Mt))


def ranked(
    sym: SymmetryGroup, scores: Scores, top: int = 5, exclude_identity: bool = True
) -> list[dict]:
    """The ``top`` classes {g, g^-1} by ``|score|`` (host side, one unbatched Scores).

    Returns:
      One dict per class, best first: ``element`` (representative index), ``name``,
      ``score``, ``pair_share``, ``cosine``, ``cosine_plus``, ``cosine_minus``.
    """
    if int(top) < 1:
        raise InvalidArgument("top", f"must be >= 1, got {top}")
    rep, names = element_classes(sym)
    s = jax.tree.map(np.asarray, scores)
    if s.score.ndim != 1:
        raise InvalidArgument("scores", f"one M's scores, got score shape {s.score.shape}")
    candidates = [g for g in range(sym.order) if rep[g] == g]
    if exclude_identity:
        candidates = [g for g in candidates if g != sym.identity]
    # Stable order: |score| descending, ties by element index.
    candidates.sort(key=lambda g: (-abs(float(s.score[g])), g))
    return [
        {
            "element": int(g),
            "name": names[g],
            "score": float(s.score[g]),
            "pair_share": float(s.pair_share[g]),
            "cosine": float(s.cosine[g]),
            "cosine_plus": float(s.cosine_plus[g]),
            "cosine_minus": float(s.cosine_minus[g]),
        }
        for g in candidates[: int(top)]
    ]


def rank_of(sym: SymmetryGroup, scores: Scores, element: int) -> int:
    """1-based rank of ``element``'s class among the non-identity classes (ties count
    against it: the rank is 1 + the number of classes with ``|score|`` >= its own)."""
    rep, _ = element_classes(sym)
    s = np.abs(np.asarray(scores.score))
    target = rep[element]
    others = [g for g in range(sym.order) if rep[g] == g and g not in (sym.identity, target)]
    return 1 + int(sum(s[g] >= s[target] for g in others))


# --- cyclic order, circulant deviation, AGOP alignment --------------------------------


def cyclic_order(group: Group) -> np.ndarray:
    """``(n,)`` element indices ``g^0, g^1, ..., g^(n-1)`` for the smallest generator g.

    For Z_p^* the position of an element is its discrete logarithm to the smallest
    primitive root; for Z_p the order is 0, 1, ..., p-1; for a cyclic product such as
    Z_5 x Z_7 the generator is the smallest mixed-radix index of order n, (1,1).

    Raises:
      InvalidArgument: naming ``group`` when it is not cyclic (e.g. Z_3 x Z_3).
    """
    n = group.order
    generators = np.nonzero(tasks.element_orders(group) == n)[0]
    if generators.size == 0:
        raise InvalidArgument("group", f"{group.name} is not cyclic; it has no discrete log")
    g = int(generators[0])
    out = np.zeros(n, int)
    out[0] = group.identity
    for k in range(1, n):
        out[k] = group.table[out[k - 1], g]
    return out


def smallest_generator(group: Group) -> str:
    """The name of the generator :func:`cyclic_order` uses (``"2"`` for Z_29^*)."""
    return group.element_names[int(cyclic_order(group)[1])]


def reorder(M: jax.Array, order) -> jax.Array:
    """``M (..., 2n, 2n)`` with both blocks' coordinates permuted to ``order (n,)``."""
    order = jnp.asarray(order)
    n = order.shape[0]
    _check_square(M, 2 * n, "M")
    both = jnp.concatenate([order, order + n])
    return M[..., both, :][..., :, both]


def circulant_deviation(A: jax.Array, hankel: bool = False) -> jax.Array:
    """PAPER.md section 6 on one ``(n, n)`` block: align, column variances, / ``|A|_F^2``.

    Row l is rolled so that a circulant block (``A[i, j] = c(j - i)``; ``hankel=False``)
    or a Hankel block (``A[i, j] = c(i + j)``; ``hankel=True``) has constant columns:
    ``aligned[l, m] = A[l, (m + l) mod n]`` or ``A[l, (m - l) mod n]``. The deviation is
    ``sum_m Var_l(aligned[l, m]) / |A|_F^2``: 0 exactly for that form, scale invariant,
    NaN for a zero block. (The section's "shift row l right by l" is literally the Hankel
    alignment; which form a block of M has follows from the representation, see
    :func:`block_forms`.) Pure, vmappable.

    Raises:
      InvalidArgument: naming ``block`` unless ``A`` is square (batches allowed).
    """
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise InvalidArgument("block", f"must be square, got shape {A.shape}")
    n = A.shape[-1]
    rows = jnp.arange(n)[:, None]
    cols = jnp.arange(n)[None, :]
    shift = -rows if hankel else rows
    aligned = jnp.take_along_axis(A, jnp.broadcast_to((cols + shift) % n, A.shape), axis=-1)
    variance = jnp.sum(jnp.var(aligned, axis=-2), axis=-1)
    norm2 = jnp.sum(A * A, axis=(-2, -1))
    return jnp.where(norm2 > 0, variance / jnp.where(norm2 > 0, norm2, 1.0), jnp.nan)


class CirculantStructure(NamedTuple):
    """How to read a task's feature matrix for circulant structure.

    Attributes:
      order: ``(n,)`` the cyclic order of A's elements (:func:`cyclic_order`).
      off_diagonal_hankel: the off-diagonal blocks are Hankel (``a . b^-1`` tasks) rather
        than circulant (``a . b`` tasks) in that order.
      generator: the generator's name.
    """

    order: np.ndarray
    off_diagonal_hankel: bool
    generator: str


def block_forms(task: Task) -> CirculantStructure:
    """The :class:`CirculantStructure` the representation predicts for ``task``.

    In the cyclic order, r^k shifts both blocks (diagonal blocks of Pi circulant); sr^k sends
    coordinate i of block 1 to i + k of block 2 for ``a . b`` (circulant off-diagonal
    block) and to -(i + k) for ``a . b^-1`` (Hankel).
    """
    order = cyclic_order(task.group)
    return CirculantStructure(order, bool(task.divide), smallest_generator(task.group))


class Deviation(NamedTuple):
    """Circulant deviation of a feature matrix after reordering (batched as M is).

    Attributes:
      off_diagonal: of the lower-left block (the block PAPER.md section 6 measures;
        NaN while it is zero, e.g. for M = I).
      combined: over all four blocks, each aligned by its predicted form:
        ``sum of column variances / |M|_F^2``.
    """

    off_diagonal: jax.Array
    combined: jax.Array


def block_circulant_deviation(M: jax.Array, structure: CirculantStructure) -> Deviation:
    """:class:`Deviation` of ``M (..., 2n, 2n)``; pure, vmappable."""
    n = len(structure.order)
    R = reorder(M, structure.order)
    blocks = (R[..., :n, :n], R[..., n:, n:], R[..., n:, :n], R[..., :n, n:])
    hankel = (False, False, structure.off_diagonal_hankel, structure.off_diagonal_hankel)
    variance = 0.0
    for A, h in zip(blocks, hankel, strict=True):
        variance = variance + circulant_deviation(A, h) * jnp.sum(A * A, axis=(-2, -1))
    variance = jnp.nan_to_num(variance)  # zero blocks contribute nothing
    norm2 = jnp.sum(M * M, axis=(-2, -1))
    combined = jnp.where(norm2 > 0, variance / jnp.where(norm2 > 0, norm2, 1.0), jnp.nan)
    return Deviation(circulant_deviation(blocks[2], hankel[2]), combined)


@functools.partial(jax.jit, static_argnames=("hankel",))
def _deviation(M, order, hankel):
    return block_circulant_deviation(M, CirculantStructure(order, hankel, ""))


def batch_deviation(M: jax.Array, structure: CirculantStructure) -> Deviation:
    """:func:`block_circulant_deviation` as one compiled call (any leading batch axes)."""
    order = jnp.asarray(structure.order)
    return _deviation(jnp.asarray(M), order, bool(structure.off_diagonal_hankel))


def agop_alignment(history: jax.Array, block: str = "full") -> jax.Array:
    """``(T+1,)`` cosine of vec(M_t) with vec(M_T) over ``history (T+1, 2n, 2n)``.

    Args:
      history: M_0, ..., M_T (``RFMResult.M_history`` with ``save_every=1``); batches
        allowed in front.
      block: ``"full"`` (PAPER.md section 6) or ``"off_diagonal"`` (the lower-left block
        only, which is 0 at M_0 = I, so the curve starts at 0 instead of near the
        diagonal's share).

    Raises:
      InvalidArgument: naming ``block`` or ``history``.
    """
    if block not in ("full", "off_diagonal"):
        raise InvalidArgument("block", f"unknown {block!r}; choose 'full' or 'off_diagonal'")
    if history.ndim < 3 or history.shape[-1] != history.shape[-2] or history.shape[-1] % 2:
        raise InvalidArgument("history", f"must be (T+1, 2n, 2n), got {history.shape}")
    if block == "off_diagonal":
        n = history.shape[-1] // 2
        history = history[..., n:, :n]
    flat = history.reshape(history.shape[:-2] + (-1,))
    final = flat[..., -1:, :]
    dots = jnp.sum(flat * final, axis=-1)
    norms = jnp.linalg.norm(flat, axis=-1) * jnp.linalg.norm(final, axis=-1)
    return _safe_ratio(dots, norms)


# --- predictions and orbits -----------------------------------------------------------


def make_grid_predictor(task: Task, kernel: str):
    """``predict(alpha, alpha_M, train_idx, train_valid, bandwidth) -> (n_points, n)``.

    The predictions at every grid point of the last reported predictor of a run
    (``RFMResult.alpha`` solved with ``RFMResult.alpha_M``), so the argmax agrees with the
    run's final ``train_acc`` and ``test_acc``. Pure, vmappable over runs.
    """
    kernels_.check_kernel(kernel)
    pairs = jnp.asarray(task.pairs, jnp.int32)

    def predict(alpha, alpha_M, train_idx, train_valid, bandwidth):
        inner = kernels_.pair_inner(pairs, pairs[train_idx], alpha_M)
        K = kernels_.kernel_and_weights(kernel, inner, bandwidth).K
        return K @ jnp.where(train_valid[:, None], alpha, 0.0)

    return predict


def correct_points(task: Task, predictions: jax.Array) -> jax.Array:
    """``(..., n_points)`` bool: argmax of ``predictions (..., n_points, n)`` is the label."""
    guess = jnp.argmax(predictions, axis=-1).astype(jnp.int32)
    return guess == jnp.broadcast_to(jnp.asarray(task.labels, jnp.int32), guess.shape)


class OrbitPrediction(NamedTuple):
    """Finding 4.1's prediction against what a run got right (batched as its inputs).

    Attributes:
      predicted: ``(n_points,)`` bool, T = Orbit_H(train) minus train.
      correct_test: ``(n_points,)`` bool, the correctly classified test points C.
      precision: ``|T & C| / |T|`` (NaN for empty T).
      recall: ``|T & C| / |C|`` (NaN for empty C).
      n_predicted, n_correct, n_both: the three counts.
    """

    predicted: jax.Array
    correct_test: jax.Array
    precision: jax.Array
    recall: jax.Array
    n_predicted: jax.Array
    n_correct: jax.Array
    n_both: jax.Array


def orbit_prediction(
    train: jax.Array,
    test: jax.Array,
    correct: jax.Array,
    grid_perms: jax.Array,
    mask: jax.Array,
) -> OrbitPrediction:
    """T = {x in test : h x in train for some h in H} against C = {x in test : correct}.

    ``Orbit_H(train)`` is ``{h x : x in train, h in H}``; for a subgroup H, a point y lies
    in it exactly when ``h y`` is in train for some h in H (take h = the inverse). Pure,
    vmappable over runs and over subgroups.

    Args:
      train, test, correct: ``(n_points,)`` bool.
      grid_perms: ``(|G|, n_points)`` int, ``SymmetryGroup.grid_perms``.
      mask: ``(|G|,)`` bool, the elements of H (a subgroup: :func:`subgroup_mask`).
    """
    if mask.shape != grid_perms.shape[:1]:
        raise InvalidArgument(
            "subgroup", f"mask must have shape ({grid_perms.shape[0]},), got {mask.shape}"
        )
    if not (train.shape == test.shape == correct.shape == grid_perms.shape[1:]):
        raise InvalidArgument(
            "split", f"train, test and correct must be ({grid_perms.shape[1]},) masks"
        )
    moved_in = train[grid_perms]  # [h, y] = train[h y]
    in_orbit = jnp.any(moved_in & mask[:, None], axis=0)
    predicted = test & in_orbit & ~train
    correct_test = test & correct
    both = predicted & correct_test
    counts = [jnp.sum(x, dtype=jnp.int32) for x in (predicted, correct_test, both)]
    n_pred, n_corr, n_both = counts

    def ratio(a, b):
        dtype = jnp.result_type(float)
        return jnp.where(b > 0, a.astype(dtype) / jnp.maximum(b, 1).astype(dtype), jnp.nan)

    return OrbitPrediction(
        predicted, correct_test, ratio(n_both, n_pred), ratio(n_both, n_corr), *counts
    )


def grid_predictions(task: Task, kernel: str, result, partitions, bandwidth=2.5) -> jax.Array:
    """``(B, n_points, n)`` every grid point's prediction by each run's last predictor.

    Args:
      result: a batched :class:`grokrfm.rfm.RFMResult`.
      partitions: the batched :class:`grokrfm.partition.Partition` it ran on.
      bandwidth: scalar or ``(B,)``.
    """
    predict = jax.vmap(make_grid_predictor(task, kernel))
    batch = result.alpha.shape[0]
    L = jnp.broadcast_to(jnp.asarray(bandwidth, result.alpha.dtype), (batch,))
    return jax.jit(predict)(
        result.alpha, result.alpha_M, partitions.train_idx, partitions.train_valid, L
    )


def orbit_predictions(
    sym: SymmetryGroup, splits, correct: jax.Array, masks: jax.Array
) -> OrbitPrediction:
    """:func:`orbit_prediction` for a batch: ``splits`` and ``correct (B, n_points)``, one
    subgroup ``masks (B, |G|)`` per run."""
    perms = jnp.asarray(sym.grid_perms, jnp.int32)
    run = jax.vmap(orbit_prediction, (0, 0, 0, None, 0))
    return jax.jit(run)(
        jnp.asarray(splits.train), jnp.asarray(splits.test), correct, perms, jnp.asarray(masks)
    )


# --- reports: host-side, JSON-ready summaries of batches of runs ------------------------


_batched_scores = jax.jit(jax.vmap(representation_scores, (0, None)))


def batch_scores(M: jax.Array, basis: ScoreBasis) -> Scores:
    """:class:`Scores` of ``M (..., 2n, 2n)``, any leading batch axes (one jitted vmap)."""
    M = jnp.asarray(M)
    lead = M.shape[:-2]
    flat = M.reshape((-1,) + M.shape[-2:])
    out = _batched_scores(flat, basis)
    return jax.tree.map(lambda x: x.reshape(lead + x.shape[1:]), out)


def matrix_report(
    sym: SymmetryGroup, scores: Scores, expected: int | None = None, top: int = 5
) -> dict:
    """What one M encodes: the ``top`` classes by ``|score|`` and, when ``expected`` (an
    element index, e.g. the reflection that built the partition) is given, its rank.

    Returns:
      ``identity_share``, ``top`` (see :func:`ranked`), ``top_name``, ``margin`` (the gap
      in ``|score|`` between the first and second class) and, with ``expected``:
      ``expected_name``, ``expected_rank``, ``expected_score``, ``expected_pair_share`` and
      ``top_is_expected`` (rank 1 with no tie).
    """
    best = ranked(sym, scores, top=max(2, int(top)))
    out = {
        "identity_share": float(np.asarray(scores.identity_share)),
        "top": best[: int(top)],
        "top_name": best[0]["name"],
        "margin": abs(best[0]["score"]) - abs(best[1]["score"]),
    }
    if expected is not None:
        _, names = element_classes(sym)
        rank = rank_of(sym, scores, expected)
        out.update(
            expected_name=names[expected],
            expected_rank=rank,
            expected_score=float(np.asarray(scores.score)[expected]),
            expected_pair_share=float(np.asarray(scores.pair_share)[expected]),
            top_is_expected=rank == 1,
        )
    return out


class Measures(NamedTuple):
    """Everything measured on a batch of B runs (see :func:`measure_batch`).

    Attributes:
      scores: :class:`Scores` of each final M, fields ``(B, ...)``.
      energy, energy_beyond: ``(B, K)`` :func:`energy_fraction` per subgroup mask,
        with the identity and beyond it.
      history_scores: :class:`Scores` per iteration, fields ``(B, T+1, ...)`` (or None).
      deviation: :class:`Deviation` per iteration, ``(B, T+1)`` (or None).
      alignment, alignment_off_diagonal: ``(B, T+1)`` :func:`agop_alignment` (or None).
    """

    scores: Scores
    energy: jax.Array
    energy_beyond: jax.Array
    history_scores: Scores | None
    deviation: Deviation | None
    alignment: jax.Array | None
    alignment_off_diagonal: jax.Array | None


@jax.jit
def _measure_final(basis, M, masks):
    scores = jax.vmap(representation_scores, (0, None))(M, basis)
    per_mask = jax.vmap(energy_fraction, (None, None, 0, None))
    energy = jax.vmap(per_mask, (0, None, 0, None))(M, basis, masks, False)
    beyond = jax.vmap(per_mask, (0, None, 0, None))(M, basis, masks, True)
    return scores, energy, beyond


@functools.partial(jax.jit, static_argnames=("hankel",))
def _measure_history(basis, history, order, hankel):
    scores = jax.vmap(jax.vmap(representation_scores, (0, None)), (0, None))(history, basis)
    if order is None:
        return scores, None, None, None
    deviation = block_circulant_deviation(history, CirculantStructure(order, hankel, ""))
    return scores, deviation, agop_alignment(history), agop_alignment(history, "off_diagonal")


def is_cyclic(group: Group) -> bool:
    return bool((tasks.element_orders(group) == group.order).any())


def measure_batch(
    sym: SymmetryGroup, basis: ScoreBasis, M: jax.Array, masks, history=None
) -> Measures:
    """Every measure of a batch of runs in one compiled call.

    Args:
      M: ``(B, 2n, 2n)`` final feature matrices.
      masks: ``(B, K, |G|)`` bool, K subgroups per run for :func:`energy_fraction`.
      history: ``(B, T+1, 2n, 2n)`` or None; the circulant deviation and the AGOP
        alignment need a cyclic group A (they are None otherwise).
    """
    masks = jnp.asarray(masks)
    if masks.ndim != 3 or masks.shape[0] != M.shape[0] or masks.shape[2] != sym.order:
        raise InvalidArgument(
            "subgroup", f"masks must be ({M.shape[0]}, K, {sym.order}), got {masks.shape}"
        )
    # Two compiled calls, the second started after the first has finished: XLA:CPU
    # (jaxlib 0.10) was seen to deadlock on one program holding both the batched
    # pseudo-inverses (LAPACK eigh) and the per-iteration measures.
    final = jax.block_until_ready(_measure_final(basis, jnp.asarray(M), masks))
    if history is None:
        return Measures(*final, None, None, None, None)
    order, hankel = None, False
    if is_cyclic(sym.task.group):
        structure = block_forms(sym.task)
        order, hankel = jnp.asarray(structure.order), structure.off_diagonal_hankel
    return Measures(*final, *_measure_history(basis, jnp.asarray(history), order, hankel))


@functools.partial(jax.jit, static_argnames=("beyond_identity",))
def _energies(M, basis, masks, beyond_identity):
    return jax.vmap(energy_fraction, (None, None, 0, None))(M, basis, masks, beyond_identity)


def energy_report(M: jax.Array, basis: ScoreBasis, masks: dict[str, np.ndarray]) -> dict:
    """``{name: {"with_identity": f, "beyond_identity": f}}`` of one M for named subgroups."""
    stacked = jnp.asarray(np.stack(list(masks.values())))
    M = jnp.asarray(M)
    with_id = np.asarray(_energies(M, basis, stacked, False))
    beyond = np.asarray(_energies(M, basis, stacked, True))
    return {
        name: {"with_identity": float(a), "beyond_identity": float(b)}
        for name, a, b in zip(masks, with_id, beyond, strict=True)
    }


def score_curves(sym: SymmetryGroup, history_scores: Scores, element=None) -> dict:
    """Per-iteration scores of one run, from its ``(T+1, ...)`` :class:`Scores`.

    Returns:
      ``identity_share``, ``best_score`` (the largest ``|score|`` of a non-identity element)
      and ``best_name`` per iteration; with ``element``, also its ``score`` and
      ``pair_share`` per iteration. Lists (JSON-ready).
    """
    s = jax.tree.map(np.asarray, history_scores)
    rep, names = element_classes(sym)
    candidates = np.array([g for g in range(sym.order) if rep[g] == g and g != sym.identity])
    magnitude = np.abs(s.score[:, candidates])
    best = candidates[np.argmax(magnitude, axis=1)]
    out = {
        "identity_share": s.identity_share.tolist(),
        "best_score": magnitude.max(axis=1).tolist(),
        "best_name": [names[g] for g in best],
    }
    if element is not None:
        out["score"] = s.score[:, element].tolist()
        out["pair_share"] = s.pair_share[:, element].tolist()
    return out


def progress_curves(task: Task, history: jax.Array) -> dict:
    """PAPER.md section 6's progress measures per iteration of ``history (..., T+1, 2n, 2n)``.

    Returns:
      ``circulant_deviation`` (lower-left block, reordered by :func:`block_forms`),
      ``circulant_deviation_all_blocks``, ``agop_alignment`` (full M) and
      ``agop_alignment_off_diagonal``, as arrays shaped like ``history``'s leading axes.
    """
    history = jnp.asarray(history)
    dev = batch_deviation(history, block_forms(task))
    return {
        "circulant_deviation": np.asarray(dev.off_diagonal),
        "circulant_deviation_all_blocks": np.asarray(dev.combined),
        "agop_alignment": np.asarray(agop_alignment(history)),
        "agop_alignment_off_diagonal": np.asarray(agop_alignment(history, "off_diagonal")),
    }


def change_before_onset(curve, test_acc, floor: float = 0.1) -> float | None:
    """How much of a progress measure's total change happened while test accuracy was flat.

    ``onset`` is the first iteration t with ``test_acc[t] >= floor`` (the predictor built
    with M_t is the first to leave the floor); the result is
    ``|curve[onset] - curve[t0]| / |curve[-1] - curve[t0]|`` with t0 the first iteration
    where the curve is finite (the off-diagonal measures are undefined at M_0 = I). None
    when test accuracy never reaches ``floor`` or the curve never moves.

    Args:
      curve: ``(T+1,)`` values at M_0 ... M_T.
      test_acc: ``(T,)`` test accuracy of the predictors built with M_0 ... M_{T-1}.
    """
    curve = np.asarray(curve, float)
    hits = np.nonzero(np.asarray(test_acc) >= floor)[0]
    finite = np.nonzero(np.isfinite(curve))[0]
    if hits.size == 0 or finite.size == 0:
        return None
    t0, onset = int(finite[0]), int(hits[0])
    total = abs(curve[-1] - curve[t0])
    if total == 0 or onset < t0:
        return None
    return float(abs(curve[onset] - curve[t0]) / total)


# --- batches of feature runs ------------------------------------------------------------


def degenerate_splits(sym: SymmetryGroup, reflection_sets: Sequence[Sequence[int]]):
    """A batched :class:`~grokrfm.partition.Split`: for each set of reflections (element
    indices), test = the union of their fixed points, train = the rest."""
    if len(reflection_sets) == 0:
        raise InvalidArgument("reflections", "give at least one set of reflections")
    splits = [partition.degenerate_split(sym, list(s)) for s in reflection_sets]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *splits)


def stabilizer_mask(sym: SymmetryGroup, train, test) -> np.ndarray:
    """``(|G|,)`` bool: the elements that preserve both sets (the partition's stabiliser)."""
    return np.asarray(stabilizing_elements(sym, np.asarray(train), np.asarray(test)))


def feature_records(
    sym: SymmetryGroup,
    basis: ScoreBasis,
    result,
    records: Sequence[dict],
    splits,
    expected: Sequence[int | None] | None = None,
    top: int = 5,
) -> Measures:
    """Add a ``"features"`` entry to each run record (see :func:`grokrfm.sweep.run_records`).

    Per run: :func:`matrix_report` of the final M (with the run's ``expected`` element),
    the energy fractions (:func:`energy_fraction`, with and beyond the identity) of the
    partition's stabiliser (``"stabilizer"``), the whole group (``"group"``) and
    {id, expected} (``"pair"``), the stabiliser's element names, and, when
    ``result.M_history`` is recorded, per-iteration curves (:func:`score_curves`, and for
    a cyclic A the circulant deviation and AGOP alignment of :func:`progress_curves`).

    Args:
      result: the batched :class:`grokrfm.rfm.RFMResult` the records came from.
      records: one record per run, in batch order (modified in place).
      splits: the batched Split the runs used.
      expected: per run, the element index it should encode (or None).

    Returns:
      The :class:`Measures` of the batch (one compiled call).
    """
    expected = list(expected) if expected is not None else [None] * len(records)
    if len(expected) != len(records):
        raise InvalidArgument("expected", f"{len(expected)} elements for {len(records)} runs")
    stab = stabilizer_mask(sym, splits.train, splits.test)  # (B, |G|)
    pair = np.stack(
        [subgroup_mask(sym, [e]) if e is not None else np.zeros(sym.order, bool) for e in expected]
    )
    masks = np.stack([stab, np.ones_like(stab), pair], axis=1)
    measures = measure_batch(sym, basis, result.M, masks, result.M_history)
    m = jax.tree.map(np.asarray, measures)
    for b, record in enumerate(records):
        one = jax.tree.map(lambda x, b=b: x[b], m.scores)
        entry = matrix_report(sym, one, expected[b], top)
        entry["stabilizer"] = [sym.names[g] for g in np.nonzero(stab[b])[0]]
        names = ["stabilizer", "group"] + (["pair"] if expected[b] is not None else [])
        entry["energy"] = {
            name: {
                "with_identity": float(m.energy[b, k]),
                "beyond_identity": float(m.energy_beyond[b, k]),
            }
            for k, name in enumerate(names)
        }
        if m.history_scores is not None:
            curves = score_curves(
                sym, jax.tree.map(lambda x, b=b: x[b], m.history_scores), expected[b]
            )
            if m.deviation is not None:
                curves.update(
                    circulant_deviation=m.deviation.off_diagonal[b].tolist(),
                    circulant_deviation_all_blocks=m.deviation.combined[b].tolist(),
                    agop_alignment=m.alignment[b].tolist(),
                    agop_alignment_off_diagonal=m.alignment_off_diagonal[b].tolist(),
                )
            entry["curves"] = curves
        record["features"] = entry
    return measures


def random_splits(task: Task, fraction: float, seeds: Sequence[int], repeat: int = 1):
    """One random split per seed (``PRNGKey(seed)``), each repeated ``repeat`` times in a
    row (seed-major), as a batched Split."""
    n_train = partition.train_count(task.n_points, fraction)
    if int(repeat) < 1:
        raise InvalidArgument("repeat", f"must be >= 1, got {repeat}")
    keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
    splits = jax.vmap(lambda k: partition.random_split(k, task.n_points, n_train))(keys)
    return jax.tree.map(lambda x: jnp.repeat(x, int(repeat), axis=0), splits)


def outcomes(sym: SymmetryGroup, kernel: str, result, partitions, splits, masks, bandwidth=2.5):
    """Finding 4.1 for a batch of finished runs: which grid points each got right, and
    :func:`orbit_prediction` of them for one subgroup mask per run.

    Returns:
      ``(correct (B, n_points) bool, OrbitPrediction)``.
    """
    predictions = grid_predictions(sym.task, kernel, result, partitions, bandwidth)
    correct = correct_points(sym.task, predictions)
    return correct, orbit_predictions(sym, splits, correct, masks)


def orbit_fields(correct, orbit: OrbitPrediction, splits) -> list[dict]:
    """JSON-ready per-run fields: precision, recall, the counts, and the test accuracy of
    the recomputed predictor (equal to the run's own last ``test_acc``)."""
    o = jax.tree.map(np.asarray, orbit)
    correct, test = np.asarray(correct), np.asarray(splits.test)
    return [
        {
            "precision": float(o.precision[b]),
            "recall": float(o.recall[b]),
            "n_predicted": int(o.n_predicted[b]),
            "n_correct_test": int(o.n_correct[b]),
            "n_both": int(o.n_both[b]),
            "test_acc_from_predictions": float((correct[b] & test[b]).sum() / test[b].sum()),
        }
        for b in range(correct.shape[0])
    ]
