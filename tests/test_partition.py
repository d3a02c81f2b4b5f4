"""Partitions (arXiv 2604.00316, §3.1; docs/science.md §4): random and degenerate splits, moves,
padded form.

Fixed points are recomputed here from the paper's formulas (b = a + k for x+y, b = a k
for x*y), and every set identity is checked with plain numpy on the masks.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokrfm import partition
from grokrfm.errors import InvalidArgument
from grokrfm.partition import Split
from grokrfm.symmetry import symmetry_group
from grokrfm.tasks import make_task


def _np(split):
    return np.asarray(split.train), np.asarray(split.test)


def _assert_partition_of_grid(train, test, n_points):
    assert train.shape == test.shape == (n_points,)
    assert train.dtype == test.dtype == np.bool_
    assert not (train & test).any()
    assert (train | test).all()


def _fixed_x_plus_y(p, k):
    """Fixed points of sr^k for x+y mod p: b = a + k."""
    mask = np.zeros(p * p, bool)
    for a in range(p):
        mask[a * p + (a + k) % p] = True
    return mask


@pytest.fixture(scope="module")
def sym7():
    return symmetry_group(make_task("x+y", p=7))


@pytest.fixture(scope="module")
def base7(sym7):
    """Degenerate split for x+y mod 7 and s: 42 train points, 7 test points."""
    return partition.degenerate_split(sym7, [sym7.reflection(0)])


# --- random splits ------------------------------------------------------------------


# One grid size (49) throughout this file: every new shape is an XLA compile.
@pytest.mark.parametrize("n_points,n_train", [(49, 20), (49, 1), (49, 48)])
def test_random_split_sizes(getkey, n_points, n_train):
    train, test = _np(partition.random_split(getkey(), n_points, n_train))
    _assert_partition_of_grid(train, test, n_points)
    assert train.sum() == n_train
    assert test.sum() == n_points - n_train


def test_random_split_depends_on_key(getkey):
    splits = [_np(partition.random_split(getkey(), 49, 20))[0] for _ in range(4)]
    for s, t in itertools.combinations(splits, 2):
        assert (s != t).any()
    # same key, same split
    key = getkey()
    a = np.asarray(partition.random_split(key, 49, 20).train)
    b = np.asarray(partition.random_split(key, 49, 20).train)
    np.testing.assert_array_equal(a, b)


def test_train_count_rounds():
    assert partition.train_count(3721, 0.5) in (1860, 1861)
    assert partition.train_count(100, 0.3) == 30
    assert partition.train_count(49, 0.2) == 10  # 9.8
    assert partition.train_count(49, 0.9) == 44  # 44.1


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, 0.0, 1.0])
def test_train_count_rejects_fraction(fraction):
    with pytest.raises(InvalidArgument) as info:
        partition.train_count(3721, fraction)
    assert info.value.argument == "fraction"


@pytest.mark.parametrize("n_points,fraction", [(3, 0.1), (3, 0.9), (10, 0.01)])
def test_train_count_rejects_empty_sets(n_points, fraction):
    with pytest.raises(InvalidArgument) as info:
        partition.train_count(n_points, fraction)
    assert info.value.argument == "fraction"


# --- degenerate splits --------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 2, 6])
def test_degenerate_split_one_reflection(sym7, k):
    train, test = _np(partition.degenerate_split(sym7, [sym7.reflection(k)]))
    _assert_partition_of_grid(train, test, 49)
    np.testing.assert_array_equal(test, _fixed_x_plus_y(7, k))
    assert test.sum() == 7


def test_degenerate_split_several_reflections_is_union(sym7):
    elements = [sym7.reflection(1), sym7.reflection(3), sym7.reflection(4)]
    train, test = _np(partition.degenerate_split(sym7, elements))
    expected = _fixed_x_plus_y(7, 1) | _fixed_x_plus_y(7, 3) | _fixed_x_plus_y(7, 4)
    _assert_partition_of_grid(train, test, 49)
    np.testing.assert_array_equal(test, expected)
    assert test.sum() == 21  # disjoint lines b = a + k


def test_degenerate_split_multiplicative():
    """x*y mod 7 with sr^3: fixed points b = 3a (residues), stored at index residue - 1."""
    sym = symmetry_group(make_task("x*y", p=7))
    train, test = _np(partition.degenerate_split(sym, [sym.reflection(3)]))
    expected = np.zeros(36, bool)
    for ra in range(1, 7):
        expected[(ra - 1) * 6 + (ra * 3 % 7 - 1)] = True
    np.testing.assert_array_equal(test, expected)
    _assert_partition_of_grid(train, test, 36)


def test_degenerate_split_train_is_reflection_invariant(sym7):
    """The paper's point: train pairs up under sr^k (x -> (b - k, a + k))."""
    k = 2
    train, _ = _np(partition.degenerate_split(sym7, [sym7.reflection(k)]))
    image = np.array(
        [((b - k) % 7) * 7 + (a + k) % 7 for a, b in itertools.product(range(7), repeat=2)]
    )
    np.testing.assert_array_equal(train[image], train)


def test_degenerate_split_without_fixed_points_raises(sym7):
    with pytest.raises(InvalidArgument) as info:
        partition.degenerate_split(sym7, [sym7.rotation(1)])
    assert info.value.argument == "reflections"


# --- moves --------------------------------------------------------------------------

# The same batch shape everywhere, so the vmapped move compiles once per direction.
COUNTS = (0, 1, 2, 5, 7)

MOVES = [(partition.move_train_to_test, "train"), (partition.move_test_to_train, "test")]


@pytest.mark.parametrize("move,source", MOVES, ids=["train_to_test", "test_to_train"])
@pytest.mark.parametrize("m", [0, 1, 3, 7])
def test_move_exactly_m_points_from_source(getkey, base7, move, source, m):
    train0, test0 = _np(base7)
    train, test = _np(move(getkey(), base7, m))
    _assert_partition_of_grid(train, test, 49)
    if source == "train":
        moved = train0 & ~train
        assert not (train & ~train0).any()  # nothing entered train
        np.testing.assert_array_equal(test, test0 | moved)
    else:
        moved = test0 & ~test
        assert not (test & ~test0).any()
        np.testing.assert_array_equal(train, train0 | moved)
    assert moved.sum() == m
    if m == 0:
        np.testing.assert_array_equal(train, train0)
        np.testing.assert_array_equal(test, test0)


def test_move_all_of_source(getkey, base7):
    """Moving every test point (7) empties the test set."""
    train, test = _np(partition.move_test_to_train(getkey(), base7, 7))
    assert train.all() and not test.any()


@pytest.mark.parametrize("move,source", MOVES, ids=["train_to_test", "test_to_train"])
def test_move_vmapped_with_varying_counts_matches_single_calls(getkey, base7, move, source):
    keys = jnp.stack([getkey() for _ in COUNTS])
    counts = jnp.asarray(COUNTS, jnp.int32)
    batched = jax.vmap(move, (0, None, 0))(keys, base7, counts)
    assert batched.train.shape == (len(COUNTS), 49)
    source0 = np.asarray(getattr(base7, source))
    for i in range(len(COUNTS)):
        single = move(keys[i], base7, counts[i])
        np.testing.assert_array_equal(np.asarray(batched.train[i]), np.asarray(single.train))
        np.testing.assert_array_equal(np.asarray(batched.test[i]), np.asarray(single.test))
        after = np.asarray(getattr(batched, source)[i])
        assert (source0 & ~after).sum() == int(counts[i])


def test_move_depends_on_key(getkey, base7):
    trains = [np.asarray(partition.move_train_to_test(getkey(), base7, 5).train) for _ in range(4)]
    assert any((s != t).any() for s, t in itertools.combinations(trains, 2))


@pytest.mark.parametrize(
    "source,m",
    [("train", 43), ("train", 42), ("train", -1), ("test", 8), ("test", 7), ("test", 2.5)],
)
def test_check_move_count_rejects(base7, source, m):
    with pytest.raises(InvalidArgument) as info:
        partition.check_move_count(base7, [0, m], source)
    assert info.value.argument == "moved"


def test_check_move_count_accepts_bounds(base7):
    """0 and all but one point of the source (41 of 42 train, 6 of 7 test) are valid:
    a move never empties a set (moving all of it used to pass and then crash)."""
    assert partition.check_move_count(base7, [0, 41], "train") is None
    assert partition.check_move_count(base7, [0, 6], "test") is None
    with pytest.raises(InvalidArgument) as info:
        partition.check_move_count(base7, [7], "test", argument="n_moved")
    assert info.value.argument == "n_moved"
    assert "at least one must stay" in str(info.value)


# --- padded index form --------------------------------------------------------------


def _check_padded(idx, valid, mask):
    idx, valid = np.asarray(idx), np.asarray(valid)
    count = int(mask.sum())
    assert idx.dtype == np.int32
    np.testing.assert_array_equal(idx[:count], np.nonzero(mask)[0])
    np.testing.assert_array_equal(valid, np.arange(len(valid)) < count)
    np.testing.assert_array_equal(idx[count:], np.zeros(len(idx) - count, np.int32))


def test_to_partition_single(getkey):
    split = partition.random_split(getkey(), 49, 20)
    train, test = _np(split)
    assert partition.capacities(split) == (20, 29)
    part = partition.to_partition(split, 49, 49)
    assert part.train_idx.shape == (49,) and part.test_idx.shape == (49,)
    _check_padded(part.train_idx, part.train_valid, train)
    _check_padded(part.test_idx, part.test_valid, test)


def test_to_partitions_batch_uses_max_capacity(getkey, base7):
    """Train sizes 42..46 (test 7..3): capacities are the batch maxima, 46 and 7."""
    counts = (0, 4, 2, 1, 3)
    keys = jnp.stack([getkey() for _ in counts])
    splits = jax.vmap(partition.move_test_to_train, (0, None, 0))(
        keys, base7, jnp.asarray(counts, jnp.int32)
    )
    trains, tests = np.asarray(splits.train), np.asarray(splits.test)
    np.testing.assert_array_equal(trains.sum(1), [42 + m for m in counts])
    assert partition.capacities(splits) == (46, 7)
    parts = partition.to_partitions(splits)
    assert parts.train_idx.shape == (5, 46)
    assert parts.test_idx.shape == (5, 7)
    for i in range(5):
        _check_padded(parts.train_idx[i], parts.train_valid[i], trains[i])
        _check_padded(parts.test_idx[i], parts.test_valid[i], tests[i])


def test_capacities_keep_test_at_least_one():
    """An empty test set still gets one (invalid) slot, so shapes are never zero."""
    split = Split(jnp.ones(49, bool), jnp.zeros(49, bool))
    assert partition.capacities(split) == (49, 1)
    part = partition.to_partition(split, 49, 49)  # shapes shared with the test above
    np.testing.assert_array_equal(np.asarray(part.train_idx), np.arange(49, dtype=np.int32))
    assert np.asarray(part.train_valid).all()
    assert not np.asarray(part.test_valid).any()
    np.testing.assert_array_equal(np.asarray(part.test_idx), np.zeros(49, np.int32))


# --- partition.moved_splits -------------------------------------------------------------


@pytest.mark.parametrize("direction,source", [("points", "train"), ("fixed", "test")])
def test_moved_splits_nested_and_zero_once(base7, direction, source):
    splits, settings = partition.moved_splits(base7, [0, 1, 5], [3, 4], direction)  # batch of 5
    assert [(d["moved"], d["seed"]) for d in settings] == [(0, 3), (1, 3), (1, 4), (5, 3), (5, 4)]
    assert [d["moved"] for d in settings].count(0) == 1
    source0 = np.asarray(getattr(base7, source))
    moved = [source0 & ~np.asarray(getattr(splits, source)[i]) for i in range(len(settings))]
    for i, d in enumerate(settings):
        assert moved[i].sum() == d["moved"]
        _assert_partition_of_grid(np.asarray(splits.train[i]), np.asarray(splits.test[i]), 49)
    np.testing.assert_array_equal(np.asarray(splits.train[0]), np.asarray(base7.train))
    for seed in (3, 4):
        small = moved[settings.index({"moved": 1, "seed": seed})]
        large = moved[settings.index({"moved": 5, "seed": seed})]
        assert not (small & ~large).any()


def test_moved_splits_validates_counts(base7):
    with pytest.raises(InvalidArgument) as info:
        partition.moved_splits(base7, [1, 43], [0])
    assert info.value.argument == "moved"
