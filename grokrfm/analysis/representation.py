"""What the learned feature matrix M encodes: its scores against Pi(g) for every element g.

The paper (arXiv 2604.00316, section 5) compares M with the permutation matrices Pi(g)
of the task's symmetry group only by eye. This module measures it, as pure array
functions that vmap over a batch of feature matrices (runs, iterations of
``M_history``) and over group elements. Pi(g) itself is
:func:`grokrfm.symmetry.representation`.

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
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from grokrfm.errors import InvalidArgument
from grokrfm.symmetry import SymmetryGroup, element_classes, representation

# Below this fraction of |M~| the part of M~ off the identity direction is rounding error.
RESIDUAL_FLOOR = 1e-10


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


def safe_ratio(num, den):
    """``num / den`` where ``den > 0``, else 0 (no NaN, and no NaN gradient either)."""
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


def check_square(M, d: int, argument: str):
    """Raise :class:`InvalidArgument` naming ``argument`` unless ``M`` is ``(..., d, d)``."""
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
    check_square(M, d, "M")
    if M.ndim != 2:
        raise InvalidArgument("M", f"one {d} x {d} matrix (vmap for a batch), got {M.shape}")
    chex.assert_type(M, float)  # an integer or bool M would be promoted (or refused) deep inside
    P = basis.projector
    Mt = centred(M, basis)
    norm_m = jnp.sqrt(jnp.sum(Mt * Mt))
    norm_p2 = jnp.sum(P * P)
    inner = jnp.einsum("gij,ij->g", basis.elements, Mt)  # <B_g, M~>
    norm_b = jnp.sqrt(jnp.diagonal(basis.gram))
    cosine = safe_ratio(inner, norm_b * norm_m)
    along = jnp.sum(Mt * P) / norm_p2
    R = Mt - along * P
    norm_r = jnp.sqrt(jnp.sum(R * R))
    norm_r = jnp.where(norm_r > RESIDUAL_FLOOR * norm_m, norm_r, 0.0)  # M = I: R is rounding
    norm_u = jnp.sqrt(jnp.sum(basis.residuals * basis.residuals, axis=(1, 2)))
    score = safe_ratio(jnp.einsum("gij,ij->g", basis.residuals, R), norm_u * norm_r)
    identity_share = safe_ratio(along**2 * norm_p2, norm_m**2)
    pair_share = identity_share + score**2 * (1 - identity_share)
    # P (I +- S(g)) P = P +- B_g: inner products and norms from the Gram and <P, B_g>.
    p_dot_b = jnp.einsum("gij,ij->g", basis.elements, P)
    p_dot_m = along * norm_p2

    def variant(sign):
        norm2 = norm_p2 + 2 * sign * p_dot_b + jnp.diagonal(basis.gram)
        # P (I - S(id)) P = 0: its cosine is 0, not the ratio of two rounding errors.
        norm = jnp.where(norm2 > 1e-12 * norm_p2, jnp.sqrt(jnp.maximum(norm2, 0.0)), 0.0)
        return safe_ratio(p_dot_m + sign * inner, norm * norm_m)

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
    check_square(M, d, "M")
    if M.ndim != 2:
        raise InvalidArgument("M", f"one {d} x {d} matrix (vmap for a batch), got {M.shape}")
    if mask.shape != (basis.gram.shape[0],):
        raise InvalidArgument(
            "subgroup", f"mask must have shape ({basis.gram.shape[0]},), got {mask.shape}"
        )
    # A membership mask: weights or element indices of the right length would be read as
    # a different span without any error.
    chex.assert_type(mask, bool)
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
    return safe_ratio(captured, jnp.sum(Mt * Mt))


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
    chex.assert_rank(s.score, 2)  # one run's (T+1, |G|): a batch would mix runs
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
