"""Finding 4.1 (arXiv 2604.00316, section 4): which test points a run gets right.

After RFM starts from a feature matrix that encodes a subgroup H, the correctly
classified test points are predicted to be ``Orbit_H(train) minus train``.
:func:`orbit_prediction` compares that set with the points a run classified correctly
(from :func:`grid_predictions`, the fitted predictor on every grid point).
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import rfm
from grokrfm.errors import InvalidArgument
from grokrfm.symmetry import SymmetryGroup
from grokrfm.tasks import Task


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
    # Sets as bool masks and the action as grid indices: a 0/1 float mask or a float
    # permutation would index and combine without an error but mean something else.
    chex.assert_type([train, test, correct, mask], bool)
    chex.assert_type(grid_perms, int)
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
    """``(B, n_points, n)`` every grid point's prediction by each run's last predictor
    (:func:`grokrfm.rfm.predict` over the whole grid).

    Args:
      result: a batched :class:`grokrfm.rfm.RFMResult`.
      partitions: the batched :class:`grokrfm.partition.Partition` it ran on.
      bandwidth: scalar or ``(B,)``.
    """
    return rfm.predict(task, result, partitions, kernel=kernel, bandwidth=bandwidth)


def orbit_predictions(
    sym: SymmetryGroup, splits, correct: jax.Array, masks: jax.Array
) -> OrbitPrediction:
    """:func:`orbit_prediction` for a batch: ``splits`` and ``correct (B, n_points)``, one
    subgroup ``masks (B, |G|)`` per run."""
    perms = jnp.asarray(sym.grid_perms, jnp.int32)
    train, test, masks = (jnp.asarray(x) for x in (splits.train, splits.test, masks))
    chex.assert_rank([train, test, correct, masks], 2)  # one row per run
    chex.assert_equal_shape([train, test, correct])
    chex.assert_equal_shape_prefix([train, masks], 1)
    run = jax.vmap(orbit_prediction, (0, 0, 0, None, 0))
    return jax.jit(run)(train, test, correct, perms, masks)


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
