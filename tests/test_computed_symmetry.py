"""The computed symmetry groups against brute force over every pair of permutations
(n <= 4), against known automorphism-group orders, and against Dih(A) of docs/science.md
§2 (arXiv 2604.00316, §3, App. A) for Z_p and Z_p^*."""

import itertools

import numpy as np
import pytest

from grokrfm import computed_symmetry as cs
from grokrfm import symmetry, tasks


def _brute_force(task):
    """Every block-keeping or block-swapping coordinate permutation, classified by
    checking ``gamma(T[x]) = T[g x]`` point by point in plain Python."""
    n = task.n
    t = task.table
    preserving, autotopic = set(), set()
    for alpha, beta in itertools.product(itertools.permutations(range(n)), repeat=2):
        for swap in (False, True):
            gamma, ok = {}, True
            for a, b in itertools.product(range(n), repeat=2):
                image = t[beta[b], alpha[a]] if swap else t[alpha[a], beta[b]]
                if gamma.setdefault(int(t[a, b]), int(image)) != image:
                    ok = False
                    break
            if not ok or len(set(gamma.values())) != n:
                continue
            shift = (n, 0) if swap else (0, n)
            perm = tuple(x + shift[0] for x in alpha) + tuple(x + shift[1] for x in beta)
            autotopic.add(perm)
            if all(k == v for k, v in gamma.items()):
                preserving.add(perm)
    return preserving, autotopic


def _as_set(perms):
    return {tuple(int(x) for x in p) for p in perms}


@pytest.mark.parametrize(
    "task",
    [tasks.make_task("x+y", p=4), tasks.make_task("x-y", group=(2, 2)),
     tasks.make_task("x*y", p=5), tasks.group_task(tasks.cyclic_group(3), divide=True)],
    ids=["Z4", "Z2xZ2-div", "Z5*", "Z3-div"],
)  # fmt: skip
def test_matches_brute_force_over_all_permutation_pairs(task):
    preserving, autotopic = _brute_force(task)
    assert _as_set(cs.label_preserving_perms(task)) == preserving
    group = cs.autotopism_group(task, swap=True)
    assert group.order == len(autotopic)
    assert _as_set(cs.to_symmetry_group(group).coordinate_perms) == autotopic
    keep = cs.autotopism_group(task, swap=False)
    assert keep.order == sum(p[0] < task.n for p in autotopic)


@pytest.mark.parametrize(
    "name,aut",
    [("S3", 6), ("Q8", 24), ("Z2^3", 168), ("A4", 24), ("D4", 8), ("S4", 24),
     ("Z3xZ3", 48), ("Z2xZ4", 8), ("Z7", 6)],
)  # fmt: skip
def test_automorphism_group_orders(name, aut):
    g = tasks.named_group(name)
    auts = cs.automorphisms(g)
    assert len(auts) == aut
    t = g.table
    assert (auts[:, t] == t[auts[:, :, None], auts[:, None, :]]).all()
    inner = {tuple(cs.inner_automorphism(g, x)) for x in range(g.order)}
    assert inner <= _as_set(auts)  # conjugations are automorphisms
    group = cs.autotopism_group(tasks.group_task(g), swap=True)
    assert group.order == 2 * g.order**2 * aut and group.swaps


@pytest.mark.parametrize("p", [5, 7, 29])
@pytest.mark.parametrize("op", ["x+y", "x-y", "x*y", "x/y"])
def test_label_preserving_group_is_the_dihedral_group(op, p):
    task = tasks.make_task(op, p=p)
    dihedral = symmetry.symmetry_group(task)
    perms = cs.label_preserving_perms(task)
    assert cs.same_elements(perms, dihedral.coordinate_perms)
    computed = cs.label_preserving_group(task)
    np.testing.assert_array_equal(computed.grid_perms, dihedral.grid_perms)
    assert computed.names == dihedral.names


@pytest.mark.parametrize("name", ["S3", "D4", "Q8", "A4"])
@pytest.mark.parametrize("divide", [False, True])
def test_non_abelian_groups_lose_the_swap(name, divide):
    task = tasks.group_task(name, divide=divide)
    sym = cs.label_preserving_group(task)
    assert sym.order == task.n and not any(sym.is_reflection(g) for g in range(sym.order))
    # Every element is (a, b) -> (a k, k^-1 b) (or (a k, b k)): fixed-point-free but e.
    info = cs.structure(sym)
    assert info["elements_with_fixed_points"] == 1 and info["swapping_elements"] == 0
    assert tasks.is_abelian(task.group) is False
    assert cs.autotopism_group(task).swaps  # a relabelling swap still exists


def test_pi_is_a_homomorphism_on_an_enumerated_autotopism_group():
    task = tasks.group_task("S3")
    sym = cs.to_symmetry_group(cs.autotopism_group(task, swap=True))
    assert sym.order == 432 and sym.coordinate_perms[sym.identity].tolist() == list(range(12))
    rng = np.random.default_rng(0)
    pi = symmetry.representation(sym)
    x = task.inputs()
    for g, h in rng.integers(0, sym.order, (20, 2)):
        np.testing.assert_array_equal(pi[sym.compose(g, h)], pi[g] @ pi[h])
        # Pi(g) x_p = x_{g p}
        np.testing.assert_array_equal(x @ pi[g].T, x[sym.grid_perms[g]])
    gamma, ok = cs.label_maps(task, sym.coordinate_perms)
    assert ok.all()


def test_grid_orbits_match_enumerated_orbits_and_the_stabiliser():
    task = tasks.group_task("Q8")
    auts = cs.automorphisms(task.group)
    gens = np.stack([cs.automorphism_perm(task, auts[k]) for k in (1, 5)])
    sub = cs.subgroup(task, gens)
    np.testing.assert_array_equal(cs.grid_orbits(task, gens), sub.orbits(range(sub.order)))
    # a union of orbits is stabilised by the whole subgroup
    labels = cs.grid_orbits(task, gens)
    train = np.isin(labels, np.unique(labels)[::2])
    stab = symmetry.stabilizer(sub, train, ~train)
    assert stab.order == sub.order
