"""Train/test partitions of a task's grid, in two fixed-shape forms.

* :class:`Split` -- boolean ``train`` and ``test`` masks over the n^2 grid points. Every
  constructor and perturbation works on this form, as pure functions of arrays, so a
  batch of splits (seeds x move counts) is one ``vmap``.
* :class:`Partition` -- padded index arrays (``train_idx`` with a ``train_valid`` mask,
  and likewise for test) of a fixed capacity. This is what the RFM engine consumes: a
  50% split of 3721 points is solved at 1861 points, not 3721. Padding is chosen once
  for a batch (the largest training set in it), so the batch still vmaps.

Counts that decide array shapes (the size of a random split) are Python ints; counts
that do not (how many points to move) may vary across a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm.errors import InvalidArgument
from grokrfm.symmetry import SymmetryGroup


class Split(NamedTuple):
    """Grid-level partition. Both fields are ``(n_points,)`` bool; they are disjoint."""

    train: jax.Array
    test: jax.Array


class Partition(NamedTuple):
    """Padded index form of a :class:`Split` (see module docstring).

    Attributes:
      train_idx: ``(train_capacity,)`` int32 grid indices; padding entries repeat index 0.
      train_valid: ``(train_capacity,)`` bool, False on padding.
      test_idx: ``(test_capacity,)`` int32.
      test_valid: ``(test_capacity,)`` bool.
    """

    train_idx: jax.Array
    train_valid: jax.Array
    test_idx: jax.Array
    test_valid: jax.Array


def check_fraction(fraction: float, argument: str = "fraction") -> float:
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:
        raise InvalidArgument(argument, f"must lie strictly between 0 and 1, got {fraction}")
    return fraction


def random_split(key: jax.Array, n_points: int, n_train: int) -> Split:
    """Train on ``n_train`` points chosen uniformly at random, test on the rest."""
    order = jax.random.permutation(key, n_points)
    train = jnp.zeros(n_points, bool).at[order[:n_train]].set(True)
    return Split(train, ~train)


def train_count(n_points: int, fraction: float) -> int:
    """The training-set size of a random split, ``round(fraction * n_points)``."""
    fraction = check_fraction(fraction)
    n_train = int(round(fraction * n_points))
    if not 0 < n_train < n_points:
        raise InvalidArgument("fraction", f"{fraction} of {n_points} points leaves a set empty")
    return n_train


def degenerate_split(symmetry: SymmetryGroup, elements: Sequence[int]) -> Split:
    """Test on the fixed points of ``elements`` (their union), train on the rest.

    With one reflection sr^k this is the paper's "symmetric" partition: the training set
    is invariant under {id, sr^k}.
    """
    test = symmetry.fixed_points(elements)
    if not test.any():
        names = [symmetry.names[e] for e in elements]
        raise InvalidArgument("reflections", f"{names} fix no grid point; the test set is empty")
    return Split(jnp.asarray(~test), jnp.asarray(test))


def _choose(key: jax.Array, candidates: jax.Array, m: jax.Array) -> jax.Array:
    """A uniformly random subset of ``m`` of the True entries of ``candidates``."""
    score = jnp.where(candidates, jax.random.uniform(key, candidates.shape), jnp.inf)
    rank = jnp.argsort(jnp.argsort(score))
    return candidates & (rank < jnp.asarray(m, rank.dtype))


def move_train_to_test(key: jax.Array, split: Split, m: jax.Array) -> Split:
    """Move ``m`` random training points to the test set (``m`` may be traced)."""
    moved = _choose(key, split.train, m)
    return Split(split.train & ~moved, split.test | moved)


def move_test_to_train(key: jax.Array, split: Split, m: jax.Array) -> Split:
    """Move ``m`` random test points to the training set (``m`` may be traced)."""
    moved = _choose(key, split.test, m)
    return Split(split.train | moved, split.test & ~moved)


def move_orbits_to_test(
    key: jax.Array, split: Split, orbit_labels: jax.Array, m: jax.Array
) -> Split:
    """Move ``m`` random whole orbits of training points to the test set.

    With the orbits of {id, sr^k} on the degenerate split for sr^k these are the
    paper's "reflected pairs" {x, sr^k x}; with several reflections the unit is an orbit
    of the subgroup they generate. ``m`` may be traced.

    Args:
      orbit_labels: ``(n_points,)`` canonical orbit labels (the smallest grid index in
        each orbit), as from :meth:`grokrfm.symmetry.SymmetryGroup.orbits`.
    """
    orbit_labels = jnp.asarray(orbit_labels)
    representative = orbit_labels == jnp.arange(orbit_labels.shape[0], dtype=orbit_labels.dtype)
    chosen = _choose(key, representative & split.train, m)
    moved = split.train & chosen[orbit_labels]
    return Split(split.train & ~moved, split.test | moved)


def count_orbits(split: Split, orbit_labels, source: str = "train") -> int:
    """How many orbits have their representative in ``split``'s ``source`` set."""
    labels = np.asarray(orbit_labels)
    representative = labels == np.arange(labels.shape[0])
    return int((representative & np.asarray(getattr(split, source))).sum())


def check_move_count(
    split: Split, counts: Sequence[int], source: str, argument="moved", orbit_labels=None
):
    """Raise unless every count is between 0 and what ``split``'s ``source`` set holds:
    its points, or its orbits when ``orbit_labels`` is given."""
    if orbit_labels is None:
        available, unit = int(np.asarray(getattr(split, source)).sum()), "points"
    else:
        available, unit = count_orbits(split, orbit_labels, source), "orbits"
    for m in counts:
        if int(m) != m or not 0 <= int(m) <= available:
            raise InvalidArgument(
                argument,
                f"cannot move {m} {unit}: the {source} set has {available}",
            )


def capacities(splits: Split) -> tuple[int, int]:
    """The padded sizes that hold every split in a (possibly batched) :class:`Split`."""
    train = np.asarray(splits.train).reshape(-1, splits.train.shape[-1]).sum(axis=1)
    test = np.asarray(splits.test).reshape(-1, splits.test.shape[-1]).sum(axis=1)
    return int(train.max()), max(int(test.max()), 1)


def to_partition(split: Split, train_capacity: int, test_capacity: int) -> Partition:
    """Padded index form of ``split``; vmaps over a batch of splits."""

    def pad(mask, capacity):
        (idx,) = jnp.nonzero(mask, size=capacity, fill_value=0)
        valid = jnp.arange(capacity, dtype=jnp.int32) < jnp.sum(mask, dtype=jnp.int32)
        return idx.astype(jnp.int32), valid

    train_idx, train_valid = pad(split.train, train_capacity)
    test_idx, test_valid = pad(split.test, test_capacity)
    return Partition(train_idx, train_valid, test_idx, test_valid)


def to_partitions(splits: Split) -> Partition:
    """Pad a batch of splits (leading axis) to the batch's own capacities."""
    cap_train, cap_test = capacities(splits)
    return jax.vmap(lambda s: to_partition(s, cap_train, cap_test))(splits)
