"""grokrfm.analysis.orbits: Finding 4.1's predicted set against a brute-force orbit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from feature_helpers import group

from grokrfm import partition, symmetry
from grokrfm.analysis import orbits
from grokrfm.errors import InvalidArgument


def _brute_force_orbits(sym, train, test, correct, elements):
    orbit = set()
    for x in np.nonzero(train)[0]:
        for h in elements:
            orbit.add(int(sym.grid_perms[h][x]))
    predicted = {y for y in orbit if test[y] and not train[y]}
    right = {y for y in np.nonzero(test & correct)[0]}
    both = predicted & right
    precision = len(both) / len(predicted) if predicted else np.nan
    recall = len(both) / len(right) if right else np.nan
    return predicted, precision, recall


@pytest.mark.parametrize("op,mod", [("x-y", 8), ("x+y", (3, 2))])
def test_orbit_prediction_matches_brute_force_vmapped_over_reflections(op, mod):
    sym = group(op, mod)
    n, N = sym.task.n, sym.task.n_points
    rng = np.random.default_rng(8)
    train = rng.random(N) < 0.5
    test = ~train & (rng.random(N) < 0.9)  # some points in neither set
    correct = rng.random(N) < 0.4
    subgroups = [[n + k] for k in range(n)] + [[n, 1 % n]]
    masks = np.stack([symmetry.subgroup_mask(sym, s) for s in subgroups])
    run = jax.vmap(orbits.orbit_prediction, (None, None, None, None, 0))
    got = run(*map(jnp.asarray, (train, test, correct, sym.grid_perms, masks)))
    for i, s in enumerate(subgroups):
        predicted, precision, recall = _brute_force_orbits(
            sym, train, test, correct, sym.generate(s)
        )
        assert set(np.nonzero(np.asarray(got.predicted[i]))[0].tolist()) == predicted
        np.testing.assert_allclose(got.precision[i], precision)
        np.testing.assert_allclose(got.recall[i], recall)
        assert int(got.n_predicted[i]) == len(predicted)


def test_bad_arguments_name_the_argument():
    sym = group("x+y", 7)
    with pytest.raises(InvalidArgument, match="^subgroup: "):
        orbits.orbit_prediction(
            *(jnp.zeros(49, bool),) * 3, jnp.asarray(sym.grid_perms), jnp.ones(3, bool)
        )


def test_sets_are_bool_masks_and_the_action_grid_indices():
    sym = group("x+y", 7)
    perms = jnp.asarray(sym.grid_perms)
    mask = jnp.asarray(symmetry.subgroup_mask(sym, [7]))
    sets = (jnp.zeros(49, bool),) * 3
    with pytest.raises(AssertionError, match="assert_type"):
        orbits.orbit_prediction(jnp.zeros(49), *sets[1:], perms, mask)
    with pytest.raises(AssertionError, match="assert_type"):
        orbits.orbit_prediction(*sets, perms.astype(float), mask)
    # The batched form: one row per run, the same number of runs everywhere.
    splits = partition.fraction_splits(49, 0.5, [0, 1])
    correct = jnp.ones((2, 49), bool)
    masks = jnp.stack([mask, mask])
    assert orbits.orbit_predictions(sym, splits, correct, masks).precision.shape == (2,)
    with pytest.raises(AssertionError, match="assert_equal_shape_prefix"):
        orbits.orbit_predictions(sym, splits, correct, masks[:1])
    with pytest.raises(AssertionError, match="assert_rank"):
        orbits.orbit_predictions(sym, splits, correct[0], masks)
