"""Every feature measure of a batch of finished runs (RFM or network), in a few calls.

:func:`measure_batch` scores the final M of every run (and each recorded M of its
history) against Pi(g) (:mod:`grokrfm.analysis.representation`), with the circulant
deviation and AGOP alignment (:mod:`grokrfm.analysis.structure`) for a cyclic A;
:func:`feature_records` adds the results to the runs' JSON records.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from grokrfm.analysis.representation import (
    ScoreBasis,
    Scores,
    batch_scores,
    energy_fraction,
    matrix_report,
    ranked,
    representation_scores,
    score_basis,
    score_curves,
)
from grokrfm.analysis.structure import (
    CirculantStructure,
    Deviation,
    agop_alignment,
    batch_deviation,
    block_circulant_deviation,
    block_forms,
    is_cyclic,
)
from grokrfm.errors import InvalidArgument
from grokrfm.symmetry import SymmetryGroup, stabilizing_elements, subgroup_mask


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
    M = jnp.asarray(M)
    chex.assert_rank(M, 3)
    if history is not None:
        history = jnp.asarray(history)
        # One (T+1, 2n, 2n) history per final M.
        chex.assert_rank(history, 4)
        chex.assert_equal_shape_prefix([M, history], 1)
        chex.assert_equal_shape_suffix([M, history], 2)
    masks = jnp.asarray(masks)
    if masks.ndim != 3 or masks.shape[0] != M.shape[0] or masks.shape[2] != sym.order:
        raise InvalidArgument(
            "subgroup", f"masks must be ({M.shape[0]}, K, {sym.order}), got {masks.shape}"
        )
    # Two compiled calls, the second started after the first has finished: XLA:CPU
    # (jaxlib 0.10) was seen to deadlock on one program holding both the batched
    # pseudo-inverses (LAPACK eigh) and the per-iteration measures.
    final = jax.block_until_ready(_measure_final(basis, M, masks))
    if history is None:
        return Measures(*final, None, None, None, None)
    order, hankel = None, False
    if is_cyclic(sym.task.group):
        structure = block_forms(sym.task)
        order, hankel = jnp.asarray(structure.order), structure.off_diagonal_hankel
    return Measures(*final, *_measure_history(basis, history, order, hankel))


def feature_records(
    sym: SymmetryGroup,
    result,
    records: Sequence[dict],
    splits,
    expected: Sequence[int | None] | None = None,
    top: int = 5,
    basis: ScoreBasis | None = None,
) -> Measures:
    """Add a ``"features"`` entry to each run record (see :func:`grokrfm.sweep.run_records`).

    Per run: :func:`matrix_report` of the final M (with the run's ``expected`` element),
    the energy fractions (:func:`energy_fraction`, with and beyond the identity) of the
    partition's stabiliser (``"stabilizer"``), the whole group (``"group"``) and
    {id, expected} (``"pair"``), the stabiliser's element names, and, when
    ``result.M_history`` is recorded, per-iteration curves (:func:`score_curves`, and for
    a cyclic A the circulant deviation and AGOP alignment per iteration).

    Args:
      result: the batched :class:`grokrfm.rfm.RFMResult` the records came from.
      records: one record per run, in batch order (modified in place).
      splits: the batched Split the runs used.
      expected: per run, the element index it should encode (or None).
      top: classes listed per run (see :func:`matrix_report`).
      basis: ``sym``'s :class:`ScoreBasis`, when the caller has it already.

    Returns:
      The :class:`Measures` of the batch (one compiled call).
    """
    expected = list(expected) if expected is not None else [None] * len(records)
    if len(expected) != len(records):
        raise InvalidArgument("expected", f"{len(expected)} elements for {len(records)} runs")
    if basis is None:
        basis = score_basis(sym)
    stab = stabilizing_elements(sym, splits.train, splits.test)  # (B, |G|)
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


def matrix_measures(sym: SymmetryGroup, matrices: jax.Array, top: int = 3) -> list[dict]:
    """Representation scores and circulant deviation of a batch of feature matrices
    ``(B, 2n, 2n)`` (NFM or AGOP; float64 on the host), one dict per matrix:
    ``circulant_deviation`` (lower-left block, after reordering by the discrete log;
    :func:`~grokrfm.analysis.structure.block_circulant_deviation`),
    ``circulant_deviation_all_blocks``, ``identity_share`` and the ``top`` group elements
    by representation score (:func:`~grokrfm.analysis.representation.ranked`)."""
    M = np.asarray(matrices, np.float64)
    if M.ndim != 3:
        raise InvalidArgument("matrices", f"must be (B, 2n, 2n), got {M.shape}")
    basis = score_basis(sym, jnp.float64)
    structure = block_forms(sym.task)
    dev = batch_deviation(jnp.asarray(M), structure)
    scores = batch_scores(jnp.asarray(M), basis)
    out = []
    for b in range(M.shape[0]):
        one = jax.tree.map(lambda s, b=b: np.asarray(s)[b], scores)
        best = ranked(sym, one, top=top)
        out.append(
            {
                "circulant_deviation": float(dev.off_diagonal[b]),
                "circulant_deviation_all_blocks": float(dev.combined[b]),
                "identity_share": float(one.identity_share),
                "top": [{k: e[k] for k in ("name", "score", "pair_share")} for e in best],
            }
        )
    return out
