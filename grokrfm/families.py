"""Families of partitions of one task that put its stabiliser on both sides of trivial.

The stabiliser H of a partition is the largest subgroup of the task's symmetry group
under which both its train and its test set are invariant
(:func:`grokrfm.symmetry.stabilizer`). Finding 3.1 of arXiv 2604.00316 (section 3) says
RFM generalises only when the training data's symmetry is broken. To test that as a
prediction, :func:`partition_families` builds many partitions in *families* that put H
on both sides of that line (the ``"family"`` key of every setting):

* ``random``: a random split at training fraction r.
* ``degenerate``: test = the fixed points of one or several reflections.
* ``points`` / ``pairs`` / ``fixed``: a degenerate split for one reflection sr^k with m
  random training points moved to test, m reflected pairs {x, sr^k x} moved to test, or
  m fixed points moved into training (:data:`grokrfm.partition.MOVES`).
* ``orbit_union``: a random subgroup G (random generators), and a random union of its
  orbits as the training set, about half the points (``union_fraction``). Both sets are
  unions of G-orbits, so G <= H by construction.
* ``random_matched``: for each ``orbit_union`` partition, a random split with the same
  number of training points, for contrast.

:func:`group_families` does the same for a task on any finite group, in the symmetry
groups computed by :mod:`grokrfm.computed_symmetry`, and :func:`fraction_batch` gives the
plain random splits at a list of training fractions. Every builder returns a
:class:`Batch`: the batched splits and one setting per split, built together. The
stabiliser of each partition and the confusion tables are measured by
:mod:`grokrfm.analysis.stabilizer`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import computed_symmetry as cs
from grokrfm import partition as partition_
from grokrfm import symmetry, tasks
from grokrfm.errors import InvalidArgument
from grokrfm.partition import Split
from grokrfm.symmetry import SymmetryGroup
from grokrfm.tasks import Task


class Batch(NamedTuple):
    """A batch of partitions and what each one is, built together so they stay in step.

    Attributes:
      splits: a batched :class:`~grokrfm.partition.Split`, ``(B, n_points)`` masks.
      settings: ``B`` JSON-ready dicts, one per split, each with a ``"seed"`` (None
        where the split is deterministic); :func:`grokrfm.sweep.run_records` moves the
        seed into the run record.
    """

    splits: Split
    settings: list[dict]

    @property
    def size(self) -> int:
        return len(self.settings)

    def take(self, count: int) -> Batch:
        """The first ``count`` partitions."""
        return Batch(jax.tree.map(lambda x: x[:count], self.splits), self.settings[:count])

    def labelled(self, **fields) -> Batch:
        """The same partitions with ``fields`` added to every setting."""
        return Batch(self.splits, [{**s, **fields} for s in self.settings])


def concatenate(batches: Sequence[Batch]) -> Batch:
    """Join batches along their leading axis, settings in the same order."""
    splits = partition_.concatenate([b.splits for b in batches])
    return Batch(splits, [s for b in batches for s in b.settings])


def replicate(split: Split, settings: Sequence[dict]) -> Batch:
    """One copy of the unbatched ``split`` per setting (e.g. a deterministic partition
    that a randomly initialised model runs once per seed)."""
    count = len(settings)
    copies = jax.tree.map(lambda x: jnp.broadcast_to(x, (count, *x.shape)), split)
    return Batch(copies, list(settings))


def check_fractions(
    fractions: Sequence[float], n_points: Sequence[int] = (), argument: str = "fractions"
) -> tuple[float, ...]:
    """Training fractions, validated and sorted: each strictly between 0 and 1, none
    repeated, and leaving both sets of a random split of each of ``n_points`` non-empty.

    Raises:
      InvalidArgument: naming ``argument``.
    """
    values = tuple(sorted(float(r) for r in fractions))
    if not values:
        raise InvalidArgument(argument, "give at least one training fraction")
    with _renamed(argument):
        for r in values:
            partition_.check_fraction(r)
            for n in n_points:
                partition_.train_count(n, r)
    if len(set(values)) != len(values):
        raise InvalidArgument(argument, f"repeated fractions in {list(values)}")
    return values


def fraction_batch(
    n_points: int, fractions: Sequence[float], seeds: Sequence[int], argument: str = "fractions"
) -> Batch:
    """One random split per (fraction, seed), fraction-major: seed s draws its split at
    each fraction with ``PRNGKey(s)`` (:func:`grokrfm.partition.fraction_splits`).

    Settings: ``{"fraction": r, "seed": s}``.

    Raises:
      InvalidArgument: naming ``argument`` when a fraction is out of range or leaves a
        set empty.
    """
    with _renamed(argument):
        parts = [
            Batch(
                partition_.fraction_splits(n_points, r, seeds),
                [{"fraction": r, "seed": int(s)} for s in seeds],
            )
            for r in fractions
        ]
    return concatenate(parts)


def group_tasks(names: Sequence[str], argument: str = "groups") -> list[Task]:
    """The task ``a . b`` on each named group (:func:`grokrfm.tasks.group_task`), every
    name validated before any is used.

    Raises:
      InvalidArgument: naming ``argument`` for an unknown name or an empty list.
    """
    if not names:
        raise InvalidArgument(argument, "give at least one group")
    with _renamed(argument):
        return [tasks.group_task(name) for name in names]


@contextlib.contextmanager
def _renamed(argument: str):
    """Re-raise an :class:`InvalidArgument` from inside as one naming ``argument`` (the
    caller's flag, e.g. ``fractions`` for a check that says ``fraction``)."""
    try:
        yield
    except InvalidArgument as err:
        raise err.renamed(argument) from None


# The share of the partitions given to each family (the rest goes to ``random``).
FAMILY_SHARES = {
    "random": 0.2,
    "degenerate": 0.1,
    "points": 0.15,
    "pairs": 0.15,
    "fixed": 0.1,
    "orbit_union": 0.15,
    "random_matched": 0.15,
}


FAMILIES = tuple(FAMILY_SHARES)


MIN_PARTITIONS = 2 * len(FAMILIES)


RANDOM_FRACTIONS = (0.3, 0.7)  # the span of training fractions of the random family


ORBIT_UNION_FRACTION = 0.5  # the default training fraction the orbit unions aim at


# Salts folded into the PRNG key of each random construction, so that e.g. the random
# split for seed 0 of the random family differs from that of the matched family.
_SALT = {"random": 1, "random_matched": 2, "orbit_union": 3}


def _key(seed: int, family: str, index: int = 0) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed), _SALT[family]), index)


def allocate(total: int) -> dict[str, int]:
    """How many partitions each family gets: its share of ``total`` (at least one), the
    remainder to ``random``; the counts add up to ``total``.

    Raises:
      InvalidArgument: naming ``partitions`` when ``total`` < :data:`MIN_PARTITIONS`.
    """
    if int(total) != total or total < MIN_PARTITIONS:
        raise InvalidArgument(
            "partitions", f"need at least {MIN_PARTITIONS} (two per family), got {total}"
        )
    counts = {f: max(1, math.floor(share * total)) for f, share in FAMILY_SHARES.items()}
    counts["random"] += total - sum(counts.values())
    return counts


def _settings_count(n_partitions: int, n_seeds: int) -> int:
    return -(-n_partitions // n_seeds)


def _spread(count: int, low: int, high: int) -> list[int]:
    """``count`` integers from ``low`` to ``high``, geometrically spaced (repeats allowed)."""
    high = max(low, high)
    return [int(round(v)) for v in np.geomspace(low, high, count)]


def _evenly(items: Sequence, count: int) -> list:
    """``count`` entries of ``items`` evenly spaced along it (cycling if count > len)."""
    step = len(items) / count if count <= len(items) else 1
    return [items[int(i * step) % len(items)] for i in range(count)]


def random_family(n_points: int, count: int, seeds: Sequence[int]) -> Batch:
    """Random splits at training fractions spread over :data:`RANDOM_FRACTIONS`."""
    fractions = np.linspace(*RANDOM_FRACTIONS, _settings_count(count, len(seeds)))
    settings = [
        {"family": "random", "fraction": round(float(r), 3), "seed": int(s)}
        for r in fractions
        for s in seeds
    ][:count]
    keys = jnp.stack([_key(d["seed"], "random", i) for i, d in enumerate(settings)])
    sizes = [partition_.train_count(n_points, d["fraction"]) for d in settings]
    return Batch(partition_.random_splits(keys, n_points, sizes), settings)


def degenerate_family(sym: SymmetryGroup, count: int, seed: int = 0) -> Batch:
    """Degenerate splits: half for single reflections (evenly spaced over all of them),
    half for random sets of two or three reflections (distinct sets that leave some
    training points, as many as exist)."""
    n = sym.task.n
    reflections = list(range(n, 2 * n))
    singles = _evenly(reflections, min(n, max(1, count // 2)))
    rng = np.random.default_rng(seed)
    sets = {(r,) for r in singles}
    for _ in range(50 * count):
        if len(sets) >= count:
            break
        size = min(n, int(rng.integers(2, 4)))
        candidate = tuple(sorted(int(r) for r in rng.choice(reflections, size, replace=False)))
        if not sym.fixed_points(candidate).all():
            sets.add(candidate)
    chosen = sorted(sets, key=lambda s: (len(s), s))[:count]
    settings = [
        {"family": "degenerate", "reflections": [sym.names[e] for e in s], "seed": None}
        for s in chosen
    ]
    return Batch(partition_.degenerate_splits(sym, chosen), settings)


def _largest_move(move: str, base: Split, orbit_labels) -> int:
    """The largest m of a perturbation family: an eighth of the training points, a
    quarter of the training orbits, or half of the held-out fixed points."""
    if move == "points":
        return int(np.asarray(base.train).sum()) // 8
    if move == "pairs":
        return partition_.count_orbits(base, orbit_labels) // 4
    return int(np.asarray(base.test).sum()) // 2


def perturbed_family(sym: SymmetryGroup, move: str, count: int, seeds: Sequence[int]) -> Batch:
    """Degenerate splits for single reflections, perturbed by m moves of one kind.

    Setting i holds out the fixed points of the i-th of evenly spaced reflections sr^k
    and moves the i-th of geometrically spaced counts m (from 1 to
    :func:`_largest_move`), with every seed (:func:`grokrfm.partition.moved_splits`).

    Args:
      move: a key of :data:`grokrfm.partition.MOVES`: ``"points"`` (random training
        points to test), ``"pairs"`` (orbits {x, sr^k x} to test) or ``"fixed"`` (fixed
        points into training).
      count: the number of partitions, settings x seeds (the last setting may have
        fewer seeds).
    """
    n = sym.task.n
    k = _settings_count(count, len(seeds))
    parts = []
    for i, element in enumerate(_evenly(list(range(n, 2 * n)), k)):
        base = partition_.degenerate_split(sym, [element])
        labels = sym.orbits([element])
        m = _spread(k, 1, _largest_move(move, base, labels))[i]
        splits, settings = partition_.moved_splits(
            base, [m], list(seeds), move, orbit_labels=labels
        )
        setting = {"family": move, "reflections": [sym.names[element]]}
        parts.append(Batch(splits, [{**setting, **d} for d in settings]))
    return concatenate(parts).take(count)


def orbit_union_family(
    sym: SymmetryGroup,
    count: int,
    seeds: Sequence[int],
    fraction: float = ORBIT_UNION_FRACTION,
    seed: int = 0,
) -> Batch:
    """Unions of orbits of distinct random subgroups (:func:`random_subgroup`, drawn
    with ``seed``), about ``fraction`` of the points in training, one union per seed in
    ``seeds``."""
    n_train = partition_.train_count(sym.task.n_points, fraction)
    rng = np.random.default_rng(seed)
    labels, keys, settings, drawn = [], [], [], set()
    for j in range(_settings_count(count, len(seeds))):
        generators = symmetry.random_subgroup(rng, sym, avoid=drawn)
        subgroup = sym.generate(generators)
        drawn.add(subgroup)
        for s in seeds:
            labels.append(sym.orbits(generators))
            keys.append(_key(int(s), "orbit_union", j))
            settings.append(
                {
                    "family": "orbit_union",
                    "generators": [sym.names[g] for g in generators],
                    "subgroup_order": len(subgroup),
                    "seed": int(s),
                }
            )
    union = jax.jit(jax.vmap(partition_.orbit_union_split, (0, 0, None)), static_argnums=2)
    splits = union(jnp.stack(keys[:count]), jnp.asarray(np.stack(labels[:count])), n_train)
    return Batch(splits, settings[:count])


def matched_random_family(n_points: int, like: Split, seeds: Sequence[int]) -> Batch:
    """One random split per split of ``like`` (batched), with as many training points.

    The i-th uses seed ``seeds[i % len(seeds)]``.
    """
    sizes = np.asarray(like.train).sum(axis=1)
    settings = [
        {"family": "random_matched", "n_train": int(size), "seed": int(seeds[i % len(seeds)])}
        for i, size in enumerate(sizes)
    ]
    keys = jnp.stack([_key(d["seed"], "random_matched", i) for i, d in enumerate(settings)])
    return Batch(partition_.random_splits(keys, n_points, sizes), settings)


def partition_families(
    sym: SymmetryGroup,
    total: int,
    seeds: Sequence[int],
    union_fraction: float = ORBIT_UNION_FRACTION,
) -> Batch:
    """About ``total`` partitions of ``sym.task`` in every family of the module docstring.

    Args:
      sym: the task's symmetry group.
      total: how many partitions (at least :data:`MIN_PARTITIONS`); split by
        :func:`allocate`. The degenerate family can hold fewer when the task has few
        distinct reflection sets; the result then has fewer than ``total``.
      seeds: random draws per setting.
      union_fraction: the training fraction of the orbit unions and of their matched
        random splits.

    Returns:
      A :class:`Batch`, ``B`` partitions; each setting has a ``"family"`` and a
      ``"seed"`` (None where the split is deterministic).

    Raises:
      InvalidArgument: naming ``partitions`` (too few), ``seeds`` (none) or ``p`` (a
        group of order below 3).
    """
    counts = allocate(total)
    if len(seeds) < 1:
        raise InvalidArgument("seeds", "need at least one seed")
    if sym.task.n < 3:
        # With n = 2 a reflected pair is the whole training set of a degenerate split.
        raise InvalidArgument("p", f"the families need a group of order >= 3, got {sym.task.n}")
    n_points = sym.task.n_points
    unions = orbit_union_family(sym, counts["orbit_union"], seeds, union_fraction)
    batch = concatenate(
        [
            random_family(n_points, counts["random"], seeds),
            degenerate_family(sym, counts["degenerate"]),
            *(
                perturbed_family(sym, move, counts[move], seeds)
                for move in ("points", "pairs", "fixed")
            ),
            unions,
            matched_random_family(n_points, unions.take(counts["random_matched"]).splits, seeds),
        ]
    )
    partition_.check_splits(batch.splits)
    return batch


# --- partitions of any finite group ------------------------------------------------------
#
# The families above index Dih(A)'s reflections as n + k, which is only the symmetry
# group of an abelian A. The families below take their symmetries from
# :mod:`grokrfm.computed_symmetry` (label-preserving elements, automorphisms acting on
# both operands), so they apply to any group task.

GROUP_FAMILIES = (
    "random",
    "reflection_fixed",
    "reflection_points",
    "reflection_pairs",
    "rotation_orbits",
    "aut_fixed",
    "aut_points",
    "aut_orbits",
)


def group_families(
    task: Task,
    lp: SymmetryGroup,
    fraction: float,
    seeds: Sequence[int],
    families: Sequence[str] = GROUP_FAMILIES,
    random_fractions: Sequence[float] = (),
    move_fraction: float = 0.1,
) -> Batch:
    """Partitions of a task on any group, one :class:`Batch`.

    Args:
      task: the task.
      lp: its label-preserving group (:func:`grokrfm.computed_symmetry.label_preserving_group`).
      fraction: the training fraction of random splits and orbit unions.
      seeds: one split per seed in each random family; the deterministic families
        (``reflection_fixed``, ``aut_fixed``) take one distinct symmetry per seed instead.
      families: which of :data:`GROUP_FAMILIES`; the ``reflection_*`` ones need an
        operand-swapping label-preserving element (abelian A) and are skipped otherwise;
        the ``aut_*`` ones need a non-trivial automorphism.
      random_fractions: further training fractions of the ``random`` family.
      move_fraction: the ``*_points`` / ``*_pairs`` families move this fraction of the
        training points (in points or whole orbits of {id, s}) to test.

    Families: ``random`` (a random split); ``reflection_fixed`` (test = the fixed points
    of one label-preserving swap, Section 3's symmetric partition); ``reflection_points``
    / ``reflection_pairs`` (that of the first swap, with random training points or
    reflected pairs moved to test); ``rotation_orbits`` (a random union of orbits of the
    cyclic group of a smallest-order block-keeping label-preserving element);
    ``aut_fixed`` (test = the points ``(a, b)`` with ``phi(a) = a`` and ``phi(b) = b``
    for an automorphism phi acting on both operands, a label-*permuting* symmetry;
    automorphisms with the largest fixed subgroup first); ``aut_points`` (that of the
    first phi, random training points moved to test); ``aut_orbits`` (a random union of
    orbits of the first phi's cyclic group).
    """
    unknown = sorted(set(families) - set(GROUP_FAMILIES))
    if unknown:
        raise InvalidArgument("families", f"unknown {unknown}; choose from {GROUP_FAMILIES}")
    fraction = partition_.check_fraction(fraction)
    n_train = partition_.train_count(task.n_points, fraction)
    seeds = [int(s) for s in seeds]
    parts: list[Split] = []
    settings: list[dict] = []

    def add(split: Split, setting: dict, seed) -> None:
        parts.append(Split(jnp.asarray(split.train), jnp.asarray(split.test)))
        settings.append({**setting, "seed": seed})

    if "random" in families:
        for r in (fraction, *random_fractions):
            size = partition_.train_count(task.n_points, r)
            for s in seeds:
                split = partition_.random_split(_key(s, "random"), task.n_points, size)
                add(split, {"family": "random", "fraction": float(r)}, s)
    swaps = [e for e in range(lp.order) if lp.is_reflection(e)]
    swaps = [e for e in swaps if lp.fixed_points([e]).any()]
    moved_points = max(1, int(round(move_fraction * task.n_points)))
    if swaps:
        base = partition_.degenerate_split(lp, [swaps[0]])
        if "reflection_fixed" in families:
            for e in _evenly(swaps, min(len(seeds), len(swaps))):
                split = partition_.degenerate_split(lp, [e])
                add(split, {"family": "reflection_fixed", "symmetry": lp.names[e]}, None)
        if "reflection_points" in families:
            for s in seeds:
                split = partition_.move_train_to_test(jax.random.PRNGKey(s), base, moved_points)
                setting = {"family": "reflection_points", "symmetry": lp.names[swaps[0]]}
                add(split, {**setting, "moved": moved_points}, s)
        if "reflection_pairs" in families:
            labels = lp.orbits([swaps[0]])
            pairs = max(1, moved_points // 2)
            for s in seeds:
                key = jax.random.PRNGKey(s)
                split = partition_.move_orbits_to_test(key, base, jnp.asarray(labels), pairs)
                setting = {"family": "reflection_pairs", "symmetry": lp.names[swaps[0]]}
                add(split, {**setting, "moved": pairs}, s)
    rotation = symmetry.smallest_rotation(lp)
    if "rotation_orbits" in families and rotation is not None:
        labels = lp.orbits([rotation])
        for s in seeds:
            split = partition_.orbit_union_split(_key(s, "orbit_union"), labels, n_train)
            add(split, {"family": "rotation_orbits", "symmetry": lp.names[rotation]}, s)
    auts = cs.automorphisms_fixing_most(task.group, max(len(seeds), 1))
    if auts:
        perms = [cs.automorphism_perm(task, phi) for phi in auts]
        names = cs.describe(task, np.stack(perms))
        if "aut_fixed" in families:
            for perm, name in zip(perms, names, strict=True):
                test = cs.fixed_grid_points(task, perm[None])
                if test.all() or not test.any():
                    continue
                add(Split(~test, test), {"family": "aut_fixed", "symmetry": name}, None)
        test = cs.fixed_grid_points(task, perms[0][None])
        if "aut_points" in families and test.any() and not test.all():
            base = Split(jnp.asarray(~test), jnp.asarray(test))
            m = min(moved_points, int((~test).sum()) - 1)
            for s in seeds:
                split = partition_.move_train_to_test(jax.random.PRNGKey(s), base, m)
                add(split, {"family": "aut_points", "symmetry": names[0], "moved": m}, s)
        if "aut_orbits" in families:
            labels = cs.grid_orbits(task, perms[0][None])
            for s in seeds:
                split = partition_.orbit_union_split(_key(s, "orbit_union"), labels, n_train)
                add(split, {"family": "aut_orbits", "symmetry": names[0]}, s)
    if not parts:
        raise InvalidArgument("families", f"none of {list(families)} applies to {task.name}")
    return Batch(partition_.stack(parts), settings)
