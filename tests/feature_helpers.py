"""Shared by the analysis tests (test_representation, test_structure, test_orbits,
test_measure): small tasks, their symmetry groups (built once per session) and random
matrices."""

import functools

from grokrfm import symmetry, tasks

TASKS = [("x+y", 7), ("x-y", 6), ("x*y", 7), ("x/y", 11), ("x+y", (2, 3)), ("x-y", (3, 2))]
IDS = [f"{op}-{mod}" for op, mod in TASKS]


@functools.cache
def group(op: str, mod) -> symmetry.SymmetryGroup:
    """The symmetry group of ``op`` mod p (``mod`` an int) or on a product (a tuple)."""
    if isinstance(mod, tuple):
        return symmetry.symmetry_group(tasks.make_task(op, group=list(mod)))
    return symmetry.symmetry_group(tasks.make_task(op, p=mod))


def sym_pi(sym, g):
    """S(g) = (Pi(g) + Pi(g)^T) / 2."""
    pi = sym.permutation_matrix(g)
    return (pi + pi.T) / 2


def random_symmetric(rng, d):
    a = rng.normal(size=(d, d))
    return a + a.T
