"""Finding 3.1 as a test: does a trivial stabiliser predict that RFM generalises?

The stabiliser H of a partition is the largest subgroup of Dih(A) under which both its
train and its test set are invariant (:func:`grokrfm.symmetry.stabilizer`). The paper's
Finding 3.1 says RFM generalises only when the training data's symmetry is broken,
i.e. (for the partitions studied) when H = {id}. This module builds many partitions of
one task in *families* that put H on both sides of that line, computes H for each, and
cross-tabulates "H is trivial" against "RFM generalises".

Families (the ``"family"`` key of every setting):

* ``random``: a random split at training fraction r.
* ``degenerate``: test = the fixed points of one or several reflections.
* ``points`` / ``pairs`` / ``fixed``: a degenerate split for one reflection sr^k with m
  random training points moved to test, m reflected pairs {x, sr^k x} moved to test, or
  m fixed points moved into training (PAPER.md section 4).
* ``orbit_union``: a random subgroup G (random generators), and a random union of its
  orbits as the training set, about half the points (``union_fraction``). Both sets are
  unions of G-orbits, so G <= H by construction.
* ``random_matched``: for each ``orbit_union`` partition, a random split with the same
  number of training points, for contrast.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import computed_symmetry as cs
from grokrfm import experiment, partition, sweep, symmetry
from grokrfm.errors import InvalidArgument
from grokrfm.partition import Split
from grokrfm.symmetry import SymmetryGroup
from grokrfm.tasks import Task

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


def concatenate(splits: Sequence[Split]) -> Split:
    """Join batched splits along their leading axis."""
    return Split(
        jnp.concatenate([jnp.asarray(s.train) for s in splits]),
        jnp.concatenate([jnp.asarray(s.test) for s in splits]),
    )


def stack(splits: Sequence[Split]) -> Split:
    """Stack unbatched splits into one batch."""
    return Split(
        jnp.stack([jnp.asarray(s.train) for s in splits]),
        jnp.stack([jnp.asarray(s.test) for s in splits]),
    )


# --- random subgroups and their orbits ----------------------------------------------------


def random_generators(rng: np.random.Generator, sym: SymmetryGroup, count: int) -> tuple[int, ...]:
    """``count`` distinct non-identity elements of ``sym``, uniformly at random, sorted."""
    candidates = np.array([e for e in range(sym.order) if e != sym.identity])
    if not 1 <= count <= candidates.size:
        raise InvalidArgument("generators", f"need 1..{candidates.size} generators, got {count}")
    return tuple(sorted(int(e) for e in rng.choice(candidates, count, replace=False)))


def orbits_are_label_classes(sym: SymmetryGroup, generators: Sequence[int]) -> bool:
    """Whether every orbit of the generated subgroup is a whole label class.

    Every element preserves labels, so orbits lie inside label classes; when there are
    only n of them (e.g. any subgroup of ``x+y`` holding all rotations) each orbit *is*
    a class, and a union of orbits leaves every test label unseen in training.
    """
    return np.unique(sym.orbits(generators)).size == sym.task.n


def random_subgroup(
    rng: np.random.Generator,
    sym: SymmetryGroup,
    avoid: Collection[tuple[int, ...]] = (),
    attempts: int = 200,
) -> tuple[int, ...]:
    """Generators of a random subgroup whose orbits are not just the label classes.

    Each attempt draws one or two random non-identity elements (:func:`random_generators`)
    and is kept unless :func:`orbits_are_label_classes` (a union of such orbits fails to
    generalise for a reason unrelated to symmetry breaking) or the subgroup's elements
    are in ``avoid``. When every attempt fails only because of ``avoid``, the subgroups
    in it are allowed again.

    Args:
      rng: a NumPy generator (consumed).
      sym: the symmetry group.
      avoid: subgroups (sorted element tuples, as :meth:`SymmetryGroup.generate` gives)
        to draw only if nothing else is found.

    Raises:
      InvalidArgument: no subgroup of the task is finer than the label classes.
    """
    fallback = None
    for _ in range(attempts):
        generators = random_generators(rng, sym, int(rng.integers(1, 3)))
        if orbits_are_label_classes(sym, generators):
            continue
        if sym.generate(generators) not in avoid:
            return generators
        fallback = fallback or generators
    if fallback is None:
        raise InvalidArgument(
            "partitions", f"found no subgroup of Dih({sym.task.group.name}) finer than the labels"
        )
    return fallback


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


# --- per-partition diagnostics --------------------------------------------------------------


def stabilizing_masks(sym: SymmetryGroup, splits: Split, batch: int = 64) -> np.ndarray:
    """``(B, 2n)`` bool: which elements stabilise each split of a batch.

    :func:`grokrfm.symmetry.stabilizing_elements` on ``batch`` splits at a time (its
    intermediate is ``(batch, 2n, n_points)``). Row sums are the stabilisers' orders.
    """
    train, test = np.asarray(splits.train), np.asarray(splits.test)
    return np.concatenate(
        [
            symmetry.stabilizing_elements(sym, train[i : i + batch], test[i : i + batch])
            for i in range(0, train.shape[0], batch)
        ]
    )


def stabilizer_orders(sym: SymmetryGroup, splits: Split) -> np.ndarray:
    """``(B,)`` int: the order of the stabiliser of each split in a batch."""
    return stabilizing_masks(sym, splits).sum(axis=-1)


def fixed_test_fraction(sym: SymmetryGroup, splits: Split, stabilizing) -> np.ndarray:
    """``(B,)``: the fraction of test points fixed by a non-identity element of H.

    A refinement of "H is non-trivial": H may act on the test set without fixing any
    of its points (e.g. the fixed points of sr^0 and sr^2 of ``x+y`` are swapped by
    sr^1, whose own fixed points are all in training).

    Args:
      splits: a batched split.
      stabilizing: ``(B, 2n)`` bool, from :func:`stabilizing_masks`.
    """
    points = np.arange(sym.task.n_points)
    fixes = sym.grid_perms == points  # (2n, n_points): element e fixes point x
    others = np.asarray(stabilizing).copy()
    others[:, sym.identity] = False
    fixed = (others.astype(int) @ fixes.astype(int)) > 0  # (B, n_points)
    test = np.asarray(splits.test)
    return (fixed & test).sum(axis=1) / np.maximum(test.sum(axis=1), 1)


def unseen_label_fraction(labels, splits: Split) -> np.ndarray:
    """``(B,)``: the fraction of test points whose label no training point carries.

    Such points cannot be classified by a predictor whose coefficients for that class
    are all zero; a union of rotation orbits of ``x+y`` (one label class per orbit) has
    every test label unseen, so its failure is no evidence about symmetry.

    Args:
      labels: ``(n_points,)`` int class of every grid point.
      splits: a batched split.
    """
    labels = np.asarray(labels)
    n_classes = int(labels.max()) + 1
    train, test = np.asarray(splits.train), np.asarray(splits.test)
    onehot = np.eye(n_classes, dtype=bool)[labels]  # (n_points, n_classes)
    seen = (train.astype(int) @ onehot.astype(int)) > 0  # (B, n_classes)
    unseen_test = test & ~seen[:, labels]
    return unseen_test.sum(axis=1) / np.maximum(test.sum(axis=1), 1)


def stabilizer_names(sym: SymmetryGroup, train, test) -> list[str]:
    """Names of a greedy generating set of the stabiliser of one split (empty if trivial)."""
    return list(symmetry.stabilizer(sym, np.asarray(train), np.asarray(test)).names)


def degenerate_stabilizers(sym: SymmetryGroup) -> list[dict]:
    """For each reflection sr^k: the stabiliser of its degenerate partition.

    For odd group order this is {id, sr^k}; for even order (``x*y``, ``x/y``) it is
    larger (PAPER.md section 7). No RFM is run.

    Returns:
      One ``{"reflection", "order", "elements", "generators"}`` dict per reflection,
      element and generator names as strings.
    """
    rows = []
    for k in range(sym.task.n):
        element = sym.task.n + k
        split = partition.degenerate_split(sym, [element])
        h = symmetry.stabilizer(sym, np.asarray(split.train), np.asarray(split.test))
        rows.append(
            {
                "reflection": sym.names[element],
                "order": h.order,
                "elements": [sym.names[e] for e in h.elements],
                "generators": list(h.names),
            }
        )
    return rows


# --- the families ---------------------------------------------------------------------------


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


_random_splits = jax.jit(jax.vmap(partition.move_test_to_train, (0, None, 0)))


def random_splits(keys: jax.Array, n_points: int, n_train) -> Split:
    """A batch of random splits, ``n_train[i]`` training points for ``keys[i]``.

    Args:
      keys: ``(B, 2)`` PRNG keys.
      n_train: ``(B,)`` training-set sizes (they may differ: the batch keeps one shape).
    """
    everything_test = Split(jnp.zeros(n_points, bool), jnp.ones(n_points, bool))
    counts = jnp.asarray(n_train, jnp.int32)
    return _random_splits(keys, everything_test, counts)


def random_family(n_points: int, count: int, seeds: Sequence[int]) -> tuple[Split, list[dict]]:
    """Random splits at training fractions spread over :data:`RANDOM_FRACTIONS`."""
    fractions = np.linspace(*RANDOM_FRACTIONS, _settings_count(count, len(seeds)))
    settings = [
        {"family": "random", "fraction": round(float(r), 3), "seed": int(s)}
        for r in fractions
        for s in seeds
    ][:count]
    keys = jnp.stack([_key(d["seed"], "random", i) for i, d in enumerate(settings)])
    sizes = [partition.train_count(n_points, d["fraction"]) for d in settings]
    return random_splits(keys, n_points, sizes), settings


def degenerate_family(sym: SymmetryGroup, count: int, seed: int = 0) -> tuple[Split, list[dict]]:
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
    return stack([partition.degenerate_split(sym, list(s)) for s in chosen]), settings


def _largest_move(move: str, base: Split, orbit_labels) -> int:
    """The largest m of a perturbation family: an eighth of the training points, a
    quarter of the training orbits, or half of the held-out fixed points."""
    if move == "points":
        return int(np.asarray(base.train).sum()) // 8
    if move == "pairs":
        return partition.count_orbits(base, orbit_labels) // 4
    return int(np.asarray(base.test).sum()) // 2


def perturbed_family(
    sym: SymmetryGroup, move: str, count: int, seeds: Sequence[int]
) -> tuple[Split, list[dict]]:
    """Degenerate splits for single reflections, perturbed by m moves of one kind.

    Setting i holds out the fixed points of the i-th of evenly spaced reflections sr^k
    and moves the i-th of geometrically spaced counts m (from 1 to
    :func:`_largest_move`), with every seed (:func:`grokrfm.sweep.moved_splits`).

    Args:
      move: a key of :data:`grokrfm.experiment.MOVES`: ``"points"`` (random training
        points to test), ``"pairs"`` (orbits {x, sr^k x} to test) or ``"fixed"`` (fixed
        points into training).
      count: the number of partitions, settings x seeds (the last setting may have
        fewer seeds).
    """
    n = sym.task.n
    k = _settings_count(count, len(seeds))
    splits, settings = [], []
    for i, element in enumerate(_evenly(list(range(n, 2 * n)), k)):
        base = partition.degenerate_split(sym, [element])
        labels = sym.orbits([element])
        m = _spread(k, 1, _largest_move(move, base, labels))[i]
        batch, batch_settings = sweep.moved_splits(
            base, [m], list(seeds), experiment.MOVES[move], orbit_labels=labels
        )
        splits.append(batch)
        settings.extend(
            {"family": move, "reflections": [sym.names[element]], **d} for d in batch_settings
        )
    return jax.tree.map(lambda x: x[:count], concatenate(splits)), settings[:count]


def orbit_union_family(
    sym: SymmetryGroup,
    count: int,
    seeds: Sequence[int],
    fraction: float = ORBIT_UNION_FRACTION,
    seed: int = 0,
) -> tuple[Split, list[dict]]:
    """Unions of orbits of distinct random subgroups (:func:`random_subgroup`, drawn
    with ``seed``), about ``fraction`` of the points in training, one union per seed in
    ``seeds``."""
    n_train = partition.train_count(sym.task.n_points, fraction)
    rng = np.random.default_rng(seed)
    labels, keys, settings, drawn = [], [], [], set()
    for j in range(_settings_count(count, len(seeds))):
        generators = random_subgroup(rng, sym, avoid=drawn)
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
    union = jax.jit(jax.vmap(orbit_union_split, (0, 0, None)), static_argnums=2)
    splits = union(jnp.stack(keys[:count]), jnp.asarray(np.stack(labels[:count])), n_train)
    return splits, settings[:count]


def matched_random_family(
    n_points: int, like: Split, seeds: Sequence[int]
) -> tuple[Split, list[dict]]:
    """One random split per split of ``like`` (batched), with as many training points.

    The i-th uses seed ``seeds[i % len(seeds)]``.
    """
    sizes = np.asarray(like.train).sum(axis=1)
    settings = [
        {"family": "random_matched", "n_train": int(size), "seed": int(seeds[i % len(seeds)])}
        for i, size in enumerate(sizes)
    ]
    keys = jnp.stack([_key(d["seed"], "random_matched", i) for i, d in enumerate(settings)])
    return random_splits(keys, n_points, sizes), settings


def partition_families(
    sym: SymmetryGroup,
    total: int,
    seeds: Sequence[int],
    union_fraction: float = ORBIT_UNION_FRACTION,
) -> tuple[Split, list[dict]]:
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
      ``(splits, settings)``: a batched split ``(B, n_points)`` and one JSON-ready
      setting dict per entry, each with a ``"family"`` and a ``"seed"`` (None where
      the split is deterministic).

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
    orbit_splits, orbit_settings = orbit_union_family(
        sym, counts["orbit_union"], seeds, union_fraction
    )
    parts = [
        random_family(n_points, counts["random"], seeds),
        degenerate_family(sym, counts["degenerate"]),
        *(
            perturbed_family(sym, move, counts[move], seeds)
            for move in ("points", "pairs", "fixed")
        ),
        (orbit_splits, orbit_settings),
        matched_random_family(
            n_points,
            jax.tree.map(lambda x: x[: counts["random_matched"]], orbit_splits),
            seeds,
        ),
    ]
    splits = concatenate([s for s, _ in parts])
    settings = [d for _, ds in parts for d in ds]
    check_splits(splits)
    return splits, settings


def check_splits(splits: Split) -> None:
    """Raise unless every split is disjoint and has non-empty train and test sets."""
    train, test = np.asarray(splits.train), np.asarray(splits.test)
    bad = np.nonzero((train & test).any(1) | ~train.any(1) | ~test.any(1))[0]
    if bad.size:
        raise InvalidArgument("partitions", f"splits {bad.tolist()} are empty or overlap")


# --- the confusion table ----------------------------------------------------------------------


# The predictions tested: each maps a partition's diagnostics to "RFM generalises".
PREDICTIONS = {
    # Finding 3.1: generalisation needs the symmetry of the data broken.
    "h_trivial": ("H trivial", "H non-trivial"),
    # A refinement (:func:`fixed_test_fraction`): no test point is fixed by H.
    "no_fixed_test": ("H fixes no test point", "H fixes a test point"),
}


def predict(diagnostics: dict) -> dict[str, bool]:
    """Whether each of :data:`PREDICTIONS` says the partition generalises."""
    return {
        "h_trivial": diagnostics["stabilizer_order"] == 1,
        "no_fixed_test": diagnostics["fixed_test_fraction"] == 0,
    }


def confusion(predicted, generalises) -> dict:
    """Cross-tabulate a prediction ("generalises") against what RFM did.

    Args:
      predicted: ``(B,)`` bool, the prediction says the run generalises (for Finding 3.1:
        the stabiliser is trivial).
      generalises: ``(B,)`` bool, final test accuracy reached the threshold.

    Returns:
      Counts ``generalises_as_predicted``, ``fails_against_prediction`` (predicted to
      generalise), ``generalises_against_prediction``, ``fails_as_predicted`` (predicted
      to fail), their ``total``, and ``prediction_accuracy`` (the fraction predicted
      right; None for an empty batch).
    """
    predicted = np.asarray(predicted, bool)
    generalises = np.asarray(generalises, bool)
    counts = {
        "generalises_as_predicted": int((predicted & generalises).sum()),
        "fails_against_prediction": int((predicted & ~generalises).sum()),
        "generalises_against_prediction": int((~predicted & generalises).sum()),
        "fails_as_predicted": int((~predicted & ~generalises).sum()),
    }
    total = predicted.size
    right = counts["generalises_as_predicted"] + counts["fails_as_predicted"]
    return {**counts, "total": total, "prediction_accuracy": right / total if total else None}


def confusion_rows(table: dict, labels: tuple[str, str] = PREDICTIONS["h_trivial"]) -> list[dict]:
    """The 2 x 2 table of :func:`confusion` as rows for :func:`grokrfm.sweep.format_table`;
    ``labels`` name the rows "predicted to generalise" and "predicted to fail"."""
    return [
        {
            "prediction": labels[0],
            "generalises": table["generalises_as_predicted"],
            "fails": table["fails_against_prediction"],
        },
        {
            "prediction": labels[1],
            "generalises": table["generalises_against_prediction"],
            "fails": table["fails_as_predicted"],
        },
    ]


# --- per-partition records -------------------------------------------------------------------


def partition_diagnostics(sym: SymmetryGroup, splits: Split) -> list[dict]:
    """What Finding 3.1 looks at in each split of a batch, before any RFM run.

    Returns:
      One dict per split: ``train_fraction``, ``stabilizer_order``,
      ``stabilizer_generators`` (names; empty when the stabiliser is trivial),
      ``fixed_test_fraction`` (:func:`fixed_test_fraction`) and
      ``unseen_label_fraction``.
    """
    stabilizing = stabilizing_masks(sym, splits)
    orders = stabilizing.sum(axis=-1)
    fixed = fixed_test_fraction(sym, splits, stabilizing)
    unseen = unseen_label_fraction(sym.task.labels, splits)
    train, test = np.asarray(splits.train), np.asarray(splits.test)
    return [
        {
            "train_fraction": float(train[i].sum() / sym.task.n_points),
            "stabilizer_order": int(orders[i]),
            "stabilizer_generators": (
                stabilizer_names(sym, train[i], test[i]) if orders[i] > 1 else []
            ),
            "fixed_test_fraction": float(fixed[i]),
            "unseen_label_fraction": float(unseen[i]),
        }
        for i in range(train.shape[0])
    ]


def outcome(record: dict, diagnostics: dict, threshold: float) -> dict:
    """A run record (:func:`grokrfm.sweep.run_records`) joined with its partition's
    diagnostics, its final accuracies, whether it generalised (final test accuracy >=
    ``threshold``) and what each of :data:`PREDICTIONS` said (``"predicted"``)."""
    final_test = record["test_acc"][-1]
    return {
        "family": record["setting"]["family"],
        **record,
        **diagnostics,
        "final_test_acc": final_test,
        "final_train_acc": record["train_acc"][-1],
        "generalises": bool(final_test >= threshold),
        "predicted": predict(diagnostics),
    }


def confusion_of(records: Sequence[dict], prediction: str = "h_trivial") -> dict:
    """:func:`confusion` of :func:`outcome` records for one of :data:`PREDICTIONS`."""
    return confusion(
        [r["predicted"][prediction] for r in records], [r["generalises"] for r in records]
    )


def family_rows(records: Sequence[dict]) -> list[dict]:
    """Per family (in :data:`FAMILIES` order) of :func:`outcome` records: how many, their
    training fractions, stabiliser orders, how many generalised, and how often each
    prediction was right."""
    rows = []
    for family in FAMILIES:
        runs = [r for r in records if r["family"] == family]
        if not runs:
            continue
        fractions = [r["train_fraction"] for r in runs]
        orders = sorted({r["stabilizer_order"] for r in runs})
        table, refined = confusion_of(runs), confusion_of(runs, "no_fixed_test")
        rows.append(
            {
                "family": family,
                "partitions": len(runs),
                "train_fraction_min": min(fractions),
                "train_fraction_max": max(fractions),
                "stabilizer_orders": orders,
                "h_trivial": sum(r["stabilizer_order"] == 1 for r in runs),
                "h_fixes_test": sum(r["fixed_test_fraction"] > 0 for r in runs),
                "generalises": sum(r["generalises"] for r in runs),
                "test_acc_mean": float(np.mean([r["final_test_acc"] for r in runs])),
                "prediction_accuracy": table["prediction_accuracy"],
                "refined_prediction_accuracy": refined["prediction_accuracy"],
            }
        )
    return rows


def mispredicted(records: Sequence[dict], prediction: str = "h_trivial") -> list[dict]:
    """The :func:`outcome` records where a prediction is wrong, each reduced to its index
    in ``records`` and the fields that explain it."""
    keys = (
        "family",
        "setting",
        "seed",
        "train_fraction",
        "stabilizer_order",
        "stabilizer_generators",
        "fixed_test_fraction",
        "unseen_label_fraction",
        "final_test_acc",
        "final_train_acc",
    )
    return [
        {"index": i, **{k: r[k] for k in keys}}
        for i, r in enumerate(records)
        if r["generalises"] != r["predicted"][prediction]
    ]


# --- partitions of any finite group, diagnosed in its computed symmetry groups ------------
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


def _smallest_rotation(lp: SymmetryGroup) -> int | None:
    """A block-keeping non-identity element of smallest order (None for a trivial group)."""
    best, best_order = None, None
    for e in range(lp.order):
        if e == lp.identity or lp.is_reflection(e):
            continue
        k, x = 1, e
        while x != lp.identity:
            x, k = lp.compose(e, x), k + 1
        if best_order is None or k < best_order:
            best, best_order = e, k
    return best


def group_families(
    task: Task,
    lp: SymmetryGroup,
    fraction: float,
    seeds: Sequence[int],
    families: Sequence[str] = GROUP_FAMILIES,
    random_fractions: Sequence[float] = (),
    move_fraction: float = 0.1,
) -> tuple[Split, list[dict]]:
    """Partitions of a task on any group, one batch, with one setting dict per split.

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
    fraction = partition.check_fraction(fraction)
    n_train = partition.train_count(task.n_points, fraction)
    seeds = [int(s) for s in seeds]
    parts: list[Split] = []
    settings: list[dict] = []

    def add(split: Split, setting: dict, seed) -> None:
        parts.append(Split(jnp.asarray(split.train), jnp.asarray(split.test)))
        settings.append({**setting, "seed": seed})

    if "random" in families:
        for r in (fraction, *random_fractions):
            size = partition.train_count(task.n_points, r)
            for s in seeds:
                split = partition.random_split(_key(s, "random"), task.n_points, size)
                add(split, {"family": "random", "fraction": float(r)}, s)
    swaps = [e for e in range(lp.order) if lp.is_reflection(e)]
    swaps = [e for e in swaps if lp.fixed_points([e]).any()]
    moved_points = max(1, int(round(move_fraction * task.n_points)))
    if swaps:
        base = partition.degenerate_split(lp, [swaps[0]])
        if "reflection_fixed" in families:
            for e in _evenly(swaps, min(len(seeds), len(swaps))):
                split = partition.degenerate_split(lp, [e])
                add(split, {"family": "reflection_fixed", "symmetry": lp.names[e]}, None)
        if "reflection_points" in families:
            for s in seeds:
                split = partition.move_train_to_test(jax.random.PRNGKey(s), base, moved_points)
                setting = {"family": "reflection_points", "symmetry": lp.names[swaps[0]]}
                add(split, {**setting, "moved": moved_points}, s)
        if "reflection_pairs" in families:
            labels = lp.orbits([swaps[0]])
            pairs = max(1, moved_points // 2)
            for s in seeds:
                key = jax.random.PRNGKey(s)
                split = partition.move_orbits_to_test(key, base, jnp.asarray(labels), pairs)
                setting = {"family": "reflection_pairs", "symmetry": lp.names[swaps[0]]}
                add(split, {**setting, "moved": pairs}, s)
    rotation = _smallest_rotation(lp)
    if "rotation_orbits" in families and rotation is not None:
        labels = lp.orbits([rotation])
        for s in seeds:
            split = orbit_union_split(_key(s, "orbit_union"), labels, n_train)
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
                split = partition.move_train_to_test(jax.random.PRNGKey(s), base, m)
                add(split, {"family": "aut_points", "symmetry": names[0], "moved": m}, s)
        if "aut_orbits" in families:
            labels = cs.grid_orbits(task, perms[0][None])
            for s in seeds:
                split = orbit_union_split(_key(s, "orbit_union"), labels, n_train)
                add(split, {"family": "aut_orbits", "symmetry": names[0]}, s)
    if not parts:
        raise InvalidArgument("families", f"none of {list(families)} applies to {task.name}")
    return stack(parts), settings


def group_diagnostics(
    task: Task, groups: dict[str, SymmetryGroup | None], splits: Split
) -> list[dict]:
    """Per split: the training fraction, the unseen-label fraction and, for each named
    symmetry group (None: not enumerated), the stabiliser's order and the fraction of
    test points a non-identity stabiliser element fixes."""
    train = np.asarray(splits.train)
    out = [
        {"train_fraction": float(t.mean()), "unseen_label_fraction": float(u)}
        for t, u in zip(train, unseen_label_fraction(task.labels, splits), strict=True)
    ]
    for name, sym in groups.items():
        if sym is None:
            for d in out:
                d[f"stabilizer_order_{name}"] = None
                d[f"fixed_test_fraction_{name}"] = None
            continue
        # The (batch, |G|, n_points) intermediate stays below ~32 MB.
        batch = max(1, int(2**25 // (sym.order * sym.task.n_points)))
        masks = stabilizing_masks(sym, splits, batch)
        fixed = fixed_test_fraction(sym, splits, masks)
        for d, m, f in zip(out, masks, fixed, strict=True):
            d[f"stabilizer_order_{name}"] = int(m.sum())
            d[f"fixed_test_fraction_{name}"] = float(f)
    return out
