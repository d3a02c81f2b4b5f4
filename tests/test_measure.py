"""grokrfm.analysis.measure: the batched measures agree with the single-matrix functions
they batch, and a history that does not fit its final matrices fails at the boundary."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from feature_helpers import group, random_symmetric

from grokrfm import symmetry
from grokrfm.analysis import measure, representation, structure


def test_measure_batch_is_the_single_matrix_measures_batched():
    sym = group("x+y", 5)
    basis = representation.score_basis(sym)
    rng = np.random.default_rng(9)
    history = np.stack([[np.eye(10)] + [random_symmetric(rng, 10) for _ in range(2)]] * 2)
    history[1, 1:] *= 3.0  # a second run with different matrices
    history = jnp.asarray(history)
    M = history[:, -1]
    masks = np.stack([symmetry.subgroup_mask(sym, [5]), symmetry.subgroup_mask(sym, [1, 5])])
    got = measure.measure_batch(sym, basis, M, masks[:, None], history)
    forms = structure.block_forms(sym.task)
    for b in range(2):
        one = representation.representation_scores(M[b], basis)
        for x, y in zip(got.scores, one, strict=True):
            np.testing.assert_allclose(x[b], y, atol=1e-13)
        for beyond, energy in ((False, got.energy), (True, got.energy_beyond)):
            want = representation.energy_fraction(M[b], basis, jnp.asarray(masks[b]), beyond)
            np.testing.assert_allclose(energy[b, 0], want, atol=1e-13)
        for t in range(3):
            dev = structure.block_circulant_deviation(history[b, t], forms)
            np.testing.assert_allclose(got.deviation.combined[b, t], dev.combined, atol=1e-13)
        np.testing.assert_allclose(got.alignment[b], structure.agop_alignment(history[b]))
    first = jax.tree.map(lambda x: x[:, 0], got.history_scores)
    np.testing.assert_allclose(first.score, 0.0, atol=1e-13)  # M_0 = I encodes nothing


def test_a_history_must_fit_its_final_matrices():
    sym = group("x+y", 5)
    basis = representation.score_basis(sym)
    M = jnp.stack([jnp.eye(10)] * 2)
    masks = np.ones((2, 1, sym.order), bool)
    with pytest.raises(AssertionError, match="assert_equal_shape_prefix"):
        measure.measure_batch(sym, basis, M, masks, jnp.stack([jnp.eye(10)] * 3)[None])
    with pytest.raises(AssertionError, match="assert_rank"):
        measure.measure_batch(sym, basis, M[0], masks)
