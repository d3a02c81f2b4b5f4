"""Orbit (reflected-pair) moves and the stabiliser of a partition, against brute force."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokrfm import partition, symmetry, tasks
from grokrfm.errors import InvalidArgument


def brute_stabilizer(sym, train, test):
    """Elements g with g(train) == train and g(test) == test, as Python sets."""
    train_set = set(np.nonzero(np.asarray(train))[0].tolist())
    test_set = set(np.nonzero(np.asarray(test))[0].tolist())
    keep = []
    for e, perm in enumerate(sym.grid_perms):
        if {int(perm[x]) for x in train_set} == train_set and {
            int(perm[x]) for x in test_set
        } == test_set:
            keep.append(e)
    return tuple(keep)


def degenerate(op, p, reflections):
    task = tasks.make_task(op, p=p)
    sym = symmetry.symmetry_group(task)
    refl = [sym.reflection(k) for k in reflections]
    return task, sym, refl, partition.degenerate_split(sym, refl)


def test_degenerate_split_of_s_is_stabilised_by_exactly_id_and_s():
    task, sym, refl, split = degenerate("x+y", 11, [0])
    stab = symmetry.stabilizer(sym, split.train, split.test)
    assert stab.elements == brute_stabilizer(sym, split.train, split.test)
    assert stab.elements == (sym.identity, refl[0])
    assert stab.order == 2 and stab.names == ("sr^0",)


def test_random_moves_break_the_symmetry_and_pair_moves_do_not(getkey):
    task, sym, refl, base = degenerate("x+y", 11, [0])
    labels = sym.orbits(refl)
    one_point = partition.move_train_to_test(getkey(), base, 1)
    pairs = partition.move_orbits_to_test(getkey(), base, jnp.asarray(labels), 3)
    assert symmetry.stabilizer(sym, one_point.train, one_point.test).order == 1
    stab = symmetry.stabilizer(sym, pairs.train, pairs.test)
    assert refl[0] in stab.elements
    assert stab.elements == brute_stabilizer(sym, pairs.train, pairs.test)


def test_random_half_split_has_trivial_stabiliser(getkey):
    task = tasks.make_task("x-y", p=13)
    sym = symmetry.symmetry_group(task)
    split = partition.random_split(getkey(), task.n_points, partition.train_count(169, 0.5))
    assert symmetry.stabilizer(sym, split.train, split.test).elements == (sym.identity,)


@pytest.mark.parametrize("k,order", [(16, 4), (8, 8), (4, 16)])
def test_dihedral_subgroup_partitions_are_stabilised_by_the_subgroup(k, order):
    """x+y mod 32, test = fixed points of every reflection in <r^k, s> (arXiv 2604.00316, Fig. 3;
    docs/science.md R6)."""
    task = tasks.make_task("x+y", p=32)
    sym = symmetry.symmetry_group(task)
    subgroup = sym.generate([sym.rotation(k), sym.reflection(0)])
    assert len(subgroup) == order
    split = partition.degenerate_split(sym, [e for e in subgroup if sym.is_reflection(e)])
    stab = symmetry.stabilizer(sym, split.train, split.test)
    assert set(subgroup) <= set(stab.elements)
    assert stab.elements == brute_stabilizer(sym, split.train, split.test)
    assert set(sym.generate(stab.generators)) == set(stab.elements)


@pytest.mark.parametrize("op,p,k", [("x*y", 7, 3), ("x/y", 7, 2), ("x*y", 11, 5)])
def test_even_order_groups_match_brute_force(op, p, k):
    """For x*y and x/y (even group order) the degenerate set can have a larger stabiliser
    than {id, sr^k}; whatever it is, it must be exactly the brute-force one."""
    task, sym, refl, split = degenerate(op, p, [k])
    stab = symmetry.stabilizer(sym, split.train, split.test)
    assert stab.elements == brute_stabilizer(sym, split.train, split.test)
    assert {sym.identity, refl[0]} <= set(stab.elements)


def test_batched_stabilising_elements_match_single(getkey):
    task, sym, refl, base = degenerate("x+y", 7, [2])
    splits, _ = partition.moved_splits(base, [0, 1, 2], [0, 1])
    batched = symmetry.stabilizing_elements(sym, splits.train, splits.test)
    for b in range(batched.shape[0]):
        single = symmetry.stabilizing_elements(sym, splits.train[b], splits.test[b])
        np.testing.assert_array_equal(batched[b], single)


def test_orbit_moves_move_whole_orbits_and_vmap_over_counts(getkey):
    task, sym, refl, base = degenerate("x+y", 9, [4])
    labels = jnp.asarray(sym.orbits(refl))
    keys = jax.random.split(getkey(), 4)
    counts = jnp.array([0, 1, 2, 5], jnp.int32)
    moved = jax.vmap(partition.move_orbits_to_test, (0, None, None, 0))(keys, base, labels, counts)
    for b, m in enumerate([0, 1, 2, 5]):
        train, test = np.asarray(moved.train[b]), np.asarray(moved.test[b])
        assert not (train & test).any() and (train | test).all()
        gone = np.asarray(base.train) & ~train
        assert gone.sum() == 2 * m  # reflected pairs: fixed points are all in test
        lab = np.asarray(labels)
        # Every orbit touched is a pair and leaves whole.
        assert all(
            (lab == label).sum() == 2 and gone[lab == label].all() for label in set(lab[gone])
        )
        single = partition.move_orbits_to_test(keys[b], base, labels, m)
        np.testing.assert_array_equal(single.train, moved.train[b])


def test_orbit_move_counts_are_validated():
    task, sym, refl, base = degenerate("x+y", 5, [0])
    labels = sym.orbits(refl)
    n_pairs = (25 - 5) // 2
    assert partition.count_orbits(base, labels) == n_pairs
    splits, settings = partition.moved_splits(base, [1, n_pairs - 1], [0], "pairs", labels)
    assert np.asarray(splits.train[1]).sum() == 2  # one pair stays
    for m in (n_pairs, n_pairs + 1):  # moving every pair would leave no training point
        with pytest.raises(InvalidArgument) as err:
            partition.moved_splits(base, [m], [0], "pairs", labels)
        assert err.value.argument == "moved"
    with pytest.raises(InvalidArgument) as err:
        partition.moved_splits(base, [1], [0], "pairs")
    assert err.value.argument == "orbit_labels"
    with pytest.raises(InvalidArgument) as err:
        partition.moved_splits(base, [1], [0], "sideways")
    assert err.value.argument == "move"
