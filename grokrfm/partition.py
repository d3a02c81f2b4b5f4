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

from collections.abc import Callable, Sequence
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from grokrfm.errors import InvalidArgument, lookup
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
    """Raise unless every count is between 0 and one less than what ``split``'s
    ``source`` set holds (its points, or its orbits when ``orbit_labels`` is given): a
    move never empties the set it takes from, so both sets stay non-empty."""
    if orbit_labels is None:
        available, unit = int(np.asarray(getattr(split, source)).sum()), "points"
    else:
        available, unit = count_orbits(split, orbit_labels, source), "orbits"
    for m in counts:
        if int(m) != m or not 0 <= int(m) < available:
            raise InvalidArgument(
                argument,
                f"cannot move {m} {unit}: the {source} set has {available}, "
                f"and at least one must stay (0 <= m <= {available - 1})",
            )


# --- moves: perturbations of a split, as records ----------------------------------------


class Move(NamedTuple):
    """One way of perturbing a split by a count m (arXiv 2604.00316, section 4).

    Attributes:
      name: the key in :data:`MOVES` (``"points"``, ``"pairs"``, ``"fixed"``).
      source: the set the moved points come from, ``"train"`` or ``"test"``.
      by_orbit: m counts whole orbits of a subgroup (needs orbit labels) instead of points.
      unit: what m counts, in words (``"points"``, ``"orbits"``).
      label: how a count reads in a table (``"points to test"``).
      description: what is moved, in words (``"random points"``).
      apply: ``apply(key, split, m, orbit_labels) -> Split``; pure, ``m`` may be traced.
    """

    name: str
    source: str
    by_orbit: bool
    unit: str
    label: str
    description: str
    apply: Callable[[jax.Array, Split, jax.Array, jax.Array | None], Split]


MOVES: dict[str, Move] = {
    move.name: move
    for move in (
        Move(
            "points",
            "train",
            False,
            "points",
            "points to test",
            "random points",
            lambda key, split, m, _labels: move_train_to_test(key, split, m),
        ),
        Move(
            "pairs",
            "train",
            True,
            "orbits",
            "pairs to test",
            "reflected pairs",
            lambda key, split, m, labels: move_orbits_to_test(key, split, labels, m),
        ),
        Move(
            "fixed",
            "test",
            False,
            "points",
            "fixed points to train",
            "fixed points",
            lambda key, split, m, _labels: move_test_to_train(key, split, m),
        ),
    )
}


def get_move(move: Move | str, argument: str = "move") -> Move:
    """The :class:`Move` named ``move`` (a record is returned as it is)."""
    if isinstance(move, Move):
        return move
    return lookup(MOVES, move, argument, "move")


# How the moved points of different counts relate (see :func:`moved_splits`).
DRAWS = ("nested", "fresh")


def moved_splits(
    base: Split,
    moved: Sequence[int],
    seeds: Sequence[int],
    move: Move | str = "points",
    orbit_labels=None,
    draw: str = "nested",
) -> tuple[Split, list[dict]]:
    """Every (moved count, seed) perturbation of ``base``, as one batched :class:`Split`.

    ``draw="nested"``: seed s uses ``PRNGKey(s)`` for every count, so the points moved for
    a smaller count are a subset of those moved for a larger one (nested perturbations).
    ``draw="fresh"``: each (count, seed) draws anew (``fold_in(PRNGKey(s), m)``), as the
    paper's published code does, one draw per run. A count of 0 is deterministic and runs
    once, with the first seed.

    Args:
      base: an unbatched split.
      moved: counts m to move (validated against the source set's size).
      seeds: integer seeds.
      move: a :class:`Move` or its name in :data:`MOVES`.
      orbit_labels: ``(n_points,)`` orbit labels, needed by a move whose unit is an orbit.
      draw: ``"nested"`` or ``"fresh"`` (one of :data:`DRAWS`).

    Returns:
      ``(splits, settings)``: a Split with a leading batch axis (count-major), and one
      ``{"moved": m, "seed": s}`` dict per entry (with ``"draw": "fresh"`` for fresh draws).
    """
    move = get_move(move)
    lookup(dict.fromkeys(DRAWS), draw, "draw", "draw of the moved points")
    for name, values in (("moved", moved), ("seeds", seeds)):
        if len(set(values)) != len(values):
            raise InvalidArgument(name, f"give each value once, got {list(values)}")
    if move.by_orbit and orbit_labels is None:
        raise InvalidArgument("orbit_labels", f"moving {move.unit} needs the orbit labels")
    labels = jnp.asarray(orbit_labels, jnp.int32) if move.by_orbit else None
    check_move_count(base, moved, move.source, orbit_labels=orbit_labels if move.by_orbit else None)
    # Moving nothing is deterministic, so m = 0 runs once (with the first seed).
    settings = [
        {"moved": int(m), "seed": int(s)} for m in moved for s in (seeds if m else seeds[:1])
    ]
    keys = [jax.random.PRNGKey(d["seed"]) for d in settings]
    if draw == "fresh":
        keys = [jax.random.fold_in(k, d["moved"]) for k, d in zip(keys, settings, strict=True)]
        settings = [{**d, "draw": "fresh"} for d in settings]
    keys = jnp.stack(keys)
    counts = jnp.asarray([d["moved"] for d in settings], jnp.int32)
    splits = jax.vmap(lambda key, m: move.apply(key, base, m, labels))(keys, counts)
    return splits, settings


def capacities(splits: Split) -> tuple[int, int]:
    """The padded sizes that hold every split in a (possibly batched) :class:`Split`."""
    train = np.asarray(splits.train).reshape(-1, splits.train.shape[-1]).sum(axis=1)
    test = np.asarray(splits.test).reshape(-1, splits.test.shape[-1]).sum(axis=1)
    return int(train.max()), max(int(test.max()), 1)


def to_partition(split: Split, train_capacity: int, test_capacity: int) -> Partition:
    """Padded index form of ``split``; vmaps over a batch of splits."""
    chex.assert_rank([split.train, split.test], 1)
    chex.assert_equal_shape([split.train, split.test])
    chex.assert_type([split.train, split.test], bool)

    def pad(mask, capacity):
        (idx,) = jnp.nonzero(mask, size=capacity, fill_value=0)
        valid = jnp.arange(capacity, dtype=jnp.int32) < jnp.sum(mask, dtype=jnp.int32)
        return idx.astype(jnp.int32), valid

    train_idx, train_valid = pad(split.train, train_capacity)
    test_idx, test_valid = pad(split.test, test_capacity)
    return Partition(train_idx, train_valid, test_idx, test_valid)


def partition_from_pairs(n: int, train_pairs, test_pairs) -> Partition:
    """The unpadded :class:`Partition` of exactly these operand pairs, in the order given.

    For a split built elsewhere (e.g. by the paper's published code): row order matters
    only to round-off, and keeping another code's order lets a comparison with it isolate
    everything else. Pairs are ``(a, b)`` group-element indices, grid point ``a n + b``.

    Raises:
      InvalidArgument: naming ``train_pairs`` or ``test_pairs`` if not ``(k, 2)`` indices
        in ``0..n-1``, repeated, or shared between the two sets.
    """
    indices = {}
    for name, pairs in (("train_pairs", train_pairs), ("test_pairs", test_pairs)):
        pairs = np.asarray(pairs)
        if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.size == 0:
            raise InvalidArgument(name, f"must be a non-empty (k, 2) array, got {pairs.shape}")
        if not np.issubdtype(pairs.dtype, np.integer) or pairs.min() < 0 or pairs.max() >= n:
            raise InvalidArgument(name, f"must hold integer indices in 0..{n - 1}")
        grid = pairs[:, 0].astype(np.int64) * n + pairs[:, 1]
        if np.unique(grid).size != grid.size:
            raise InvalidArgument(name, "holds a grid point more than once")
        indices[name] = grid
    if np.intersect1d(indices["train_pairs"], indices["test_pairs"]).size:
        raise InvalidArgument("test_pairs", "shares grid points with train_pairs")

    def part(grid):
        return jnp.asarray(grid, jnp.int32), jnp.ones(grid.size, bool)

    return Partition(*part(indices["train_pairs"]), *part(indices["test_pairs"]))


def to_partitions(splits: Split) -> Partition:
    """Pad a batch of splits (leading axis) to the batch's own capacities."""
    cap_train, cap_test = capacities(splits)
    return jax.vmap(lambda s: to_partition(s, cap_train, cap_test))(splits)


# --- batches of splits -------------------------------------------------------------------


def stack(splits: Sequence[Split]) -> Split:
    """Stack unbatched splits into one batch."""
    return Split(
        jnp.stack([jnp.asarray(s.train) for s in splits]),
        jnp.stack([jnp.asarray(s.test) for s in splits]),
    )


def concatenate(splits: Sequence[Split]) -> Split:
    """Join batched splits along their leading axis."""
    return Split(
        jnp.concatenate([jnp.asarray(s.train) for s in splits]),
        jnp.concatenate([jnp.asarray(s.test) for s in splits]),
    )


def check_splits(splits: Split) -> None:
    """Raise unless every split is disjoint and has non-empty train and test sets."""
    train, test = np.asarray(splits.train), np.asarray(splits.test)
    bad = np.nonzero((train & test).any(1) | ~train.any(1) | ~test.any(1))[0]
    if bad.size:
        raise InvalidArgument("partitions", f"splits {bad.tolist()} are empty or overlap")


def degenerate_splits(sym: SymmetryGroup, reflection_sets: Sequence[Sequence[int]]):
    """A batched :class:`~grokrfm.partition.Split`: for each set of reflections (element
    indices), test = the union of their fixed points, train = the rest."""
    if len(reflection_sets) == 0:
        raise InvalidArgument("reflections", "give at least one set of reflections")
    splits = [degenerate_split(sym, list(s)) for s in reflection_sets]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *splits)


def fraction_splits(n_points: int, fraction: float, seeds: Sequence[int], repeat: int = 1) -> Split:
    """One random split at training ``fraction`` per seed (``PRNGKey(seed)``), each
    repeated ``repeat`` times in a row (seed-major), as a batched Split."""
    n_train = train_count(n_points, fraction)
    if int(repeat) < 1:
        raise InvalidArgument("repeat", f"must be >= 1, got {repeat}")
    keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
    splits = jax.vmap(lambda k: random_split(k, n_points, n_train))(keys)
    return jax.tree.map(lambda x: jnp.repeat(x, int(repeat), axis=0), splits)


_random_splits = jax.jit(jax.vmap(move_test_to_train, (0, None, 0)))


def random_splits(keys: jax.Array, n_points: int, n_train) -> Split:
    """A batch of random splits, ``n_train[i]`` training points for ``keys[i]``.

    Args:
      keys: ``(B, 2)`` PRNG keys.
      n_train: ``(B,)`` training-set sizes (they may differ: the batch keeps one shape).
    """
    everything_test = Split(jnp.zeros(n_points, bool), jnp.ones(n_points, bool))
    counts = jnp.asarray(n_train, jnp.int32)
    return _random_splits(keys, everything_test, counts)


def orbit_union_split(key: jax.Array, orbit_labels, n_train: int) -> Split:
    """Train on a random union of orbits holding about ``n_train`` points.

    Orbits are visited in random order and taken while fewer than ``n_train`` points
    have been taken, so the training set overshoots ``n_train`` by less than one orbit
    and always holds at least one orbit. Every orbit lies wholly in train or in test, so
    both sets are invariant under the group whose orbits these are.

    Args:
      key: PRNG key.
      orbit_labels: ``(n_points,)`` canonical orbit labels (smallest grid index of each
        orbit), as from :meth:`grokrfm.symmetry.SymmetryGroup.orbits`.
      n_train: the target training-set size (static).

    Returns:
      An unbatched :class:`~grokrfm.partition.Split`.
    """
    labels = jnp.asarray(orbit_labels)
    n_points = labels.shape[0]
    representative = labels == jnp.arange(n_points, dtype=labels.dtype)
    sizes = jnp.zeros(n_points, jnp.int32).at[labels].add(1)  # at each representative
    score = jnp.where(representative, jax.random.uniform(key, (n_points,)), jnp.inf)
    order = jnp.argsort(score)  # representatives first, in random order
    before = jnp.cumsum(sizes[order]) - sizes[order]  # points taken before each orbit
    taken = representative[order] & (before < n_train)
    chosen = jnp.zeros(n_points, bool).at[order].set(taken)
    train = chosen[labels]
    return Split(train, ~train)
