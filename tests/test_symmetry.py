"""Dih(A) acting on the grid: the action of docs/science.md §2 (arXiv 2604.00316, §3, App. A), group
laws, Pi(g), orbits.

Expected actions are written out with explicit modular arithmetic per operation (the
paper's table); element index k of Z_p^* is the residue k + 1; product-group elements
are mixed-radix indices (last factor fastest) and act componentwise.
"""

import itertools
import math

import numpy as np
import pytest

from grokrfm import symmetry
from grokrfm.errors import InvalidArgument
from grokrfm.symmetry import symmetry_group
from grokrfm.tasks import make_task

TASKS = [
    ("x+y", 7),
    ("x+y", 8),
    ("x-y", 7),
    ("x-y", 8),
    ("x*y", 7),
    ("x*y", 11),
    ("x/y", 7),
    ("x/y", 11),
    ("x+y", (3, 5)),
    ("x+y", (2, 2)),
    ("x-y", (3, 5)),
]


def _make(op, mod):
    if isinstance(mod, tuple):
        return make_task(op, group=list(mod))
    return make_task(op, p=mod)


def _order(op, mod) -> int:
    if isinstance(mod, tuple):
        return math.prod(mod)
    return mod if op in ("x+y", "x-y") else mod - 1


def _digits(i, factors):
    out = []
    for f in reversed(factors):
        i, d = divmod(i, f)
        out.append(d)
    return list(reversed(out))


def _undigits(digits, factors):
    i = 0
    for d, f in zip(digits, factors, strict=True):
        i = i * f + d % f
    return i


def _image(op, mod, refl, k, a, b):
    """The paper's table: image of grid point (a, b) under r^k or sr^k, as indices."""
    if isinstance(mod, tuple):
        parts = [
            _image(op, f, refl, kk, aa, bb)
            for f, kk, aa, bb in zip(
                mod, _digits(k, mod), _digits(a, mod), _digits(b, mod), strict=True
            )
        ]
        return _undigits([x for x, _ in parts], mod), _undigits([y for _, y in parts], mod)
    p = mod
    if op == "x+y":
        return ((b - k) % p, (a + k) % p) if refl else ((a + k) % p, (b - k) % p)
    if op == "x-y":
        return ((-b - k) % p, (-a - k) % p) if refl else ((a + k) % p, (b + k) % p)
    ra, rb, rk = a + 1, b + 1, k + 1
    if op == "x*y":
        kinv = pow(rk, -1, p)
        img = (rb * kinv % p, ra * rk % p) if refl else (ra * rk % p, rb * kinv % p)
    else:
        img = (pow(rb * rk, -1, p), pow(ra * rk, -1, p)) if refl else (ra * rk % p, rb * rk % p)
    return img[0] - 1, img[1] - 1


def _label(op, mod, a, b):
    if isinstance(mod, tuple):
        sign = 1 if op == "x+y" else -1
        da, db = _digits(a, mod), _digits(b, mod)
        return _undigits([x + sign * y for x, y in zip(da, db, strict=True)], mod)
    p = mod
    if op == "x+y":
        return (a + b) % p
    if op == "x-y":
        return (a - b) % p
    if op == "x*y":
        return (a + 1) * (b + 1) % p - 1
    return (a + 1) * pow(b + 1, -1, p) % p - 1


def _elem_inverse(op, mod, k):
    """Index of k^-1 in A."""
    if isinstance(mod, tuple):
        return _undigits([-d for d in _digits(k, mod)], mod)
    if op in ("x+y", "x-y"):
        return -k % mod
    return pow(k + 1, -1, mod) - 1


def _elem_product(op, mod, j, k):
    """Index of j . k in A."""
    if isinstance(mod, tuple):
        dj, dk = _digits(j, mod), _digits(k, mod)
        return _undigits([x + y for x, y in zip(dj, dk, strict=True)], mod)
    if op in ("x+y", "x-y"):
        return (j + k) % mod
    return (j + 1) * (k + 1) % mod - 1


def _expected_perm(op, mod, e):
    """Grid permutation of element e (r^k is k, sr^k is n + k) from the paper's table."""
    n = _order(op, mod)
    refl, k = divmod(e, n)
    perm = np.empty(n * n, int)
    for g in range(n * n):
        a, b = divmod(g, n)
        x, y = _image(op, mod, bool(refl), k, a, b)
        perm[g] = x * n + y
    return perm


def _primitive_root(p):
    """Smallest generator of Z_p^*, by brute force."""
    for g in range(2, p):
        if len({pow(g, i, p) for i in range(p - 1)}) == p - 1:
            return g
    raise AssertionError(p)


IDS = [f"{op} {mod}" for op, mod in TASKS]


@pytest.fixture(scope="module")
def groups():
    """Symmetry groups are pure numpy and cheap, but built once per spec anyway."""
    cache = {}

    def get(op, mod):
        if (op, mod) not in cache:
            cache[op, mod] = symmetry_group(_make(op, mod))
        return cache[op, mod]

    return get


# --- the action ---------------------------------------------------------------------


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_order_permutations_and_label_invariance(groups, op, mod):
    sym = groups(op, mod)
    n = _order(op, mod)
    assert sym.order == 2 * n
    assert sym.grid_perms.shape == (2 * n, n * n)
    labels = np.array([_label(op, mod, *divmod(g, n)) for g in range(n * n)])
    np.testing.assert_array_equal(sym.task.labels, labels)
    for e in range(2 * n):
        perm = sym.grid_perms[e]
        np.testing.assert_array_equal(np.sort(perm), np.arange(n * n))
        np.testing.assert_array_equal(labels[perm], labels)


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_action_matches_paper_table(groups, op, mod):
    sym = groups(op, mod)
    n = _order(op, mod)
    for e in range(2 * n):
        np.testing.assert_array_equal(
            sym.grid_perms[e], _expected_perm(op, mod, e), err_msg=sym.names[e]
        )


def test_action_spot_values_x_times_y_mod_7():
    """r^3 (a=2, b=6) -> (2*3, 6/3) = (6, 2); sr^3 (2, 6) -> (6/3, 2*3) = (2, 6)."""
    sym = symmetry_group(make_task("x*y", p=7))
    n = 6
    g = (2 - 1) * n + (6 - 1)
    assert sym.grid_perms[sym.rotation(3), g] == (6 - 1) * n + (2 - 1)
    assert sym.grid_perms[sym.reflection(3), g] == g  # b = a k: a fixed point


def test_element_indexing_and_names():
    """r^k is element k, sr^k is n + k, both named with A's element names."""
    sym = symmetry_group(make_task("x*y", p=7))
    assert sym.rotation(3) == 2
    assert sym.reflection(3) == 6 + 2
    assert sym.names[sym.reflection(3)] == "sr^3"
    assert sym.names[sym.rotation(1)] == "r^1"
    assert sym.identity == 0
    assert sym.is_reflection(8) and not sym.is_reflection(5)
    prod = symmetry_group(make_task("x+y", group=[5, 11]))
    assert prod.reflection("3,2") == 55 + 3 * 11 + 2
    assert prod.names[55 + 3 * 11 + 2] == "sr^(3,2)"


# --- group laws ---------------------------------------------------------------------


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_compose_matches_grid_permutations(groups, op, mod):
    """compose(g, h) applies h first: its grid permutation is perm_g[perm_h]."""
    sym = groups(op, mod)
    n = _order(op, mod)
    perms = [_expected_perm(op, mod, e) for e in range(2 * n)]
    for g, h in itertools.product(range(2 * n), repeat=2):
        gh = sym.compose(g, h)
        assert 0 <= gh < 2 * n
        np.testing.assert_array_equal(sym.grid_perms[gh], perms[g][perms[h]])


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_identity_inverse_and_involutions(groups, op, mod):
    sym = groups(op, mod)
    n = _order(op, mod)
    e0 = sym.identity
    np.testing.assert_array_equal(sym.grid_perms[e0], np.arange(n * n))
    for g in range(2 * n):
        assert sym.compose(e0, g) == g
        assert sym.compose(g, e0) == g
        ginv = sym.inverse(g)
        assert sym.compose(g, ginv) == e0
        assert sym.compose(ginv, g) == e0
        # the inverse permutation of the grid action
        np.testing.assert_array_equal(sym.grid_perms[ginv][sym.grid_perms[g]], np.arange(n * n))
    for k in range(n):
        s = n + k
        assert sym.compose(s, s) == e0
        assert sym.inverse(s) == s
        assert sym.inverse(k) == _elem_inverse(op, mod, k)


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_rotations_multiply_like_a_and_s_r_s_is_r_inverse(groups, op, mod):
    sym = groups(op, mod)
    n = _order(op, mod)
    s = n + sym.identity  # sr^identity
    for j, k in itertools.product(range(n), repeat=2):
        assert sym.compose(j, k) == _elem_product(op, mod, j, k)
    for k in range(n):
        assert sym.compose(s, sym.compose(k, s)) == _elem_inverse(op, mod, k)


@pytest.mark.parametrize("op,mod", [("x+y", 5), ("x/y", 7), ("x+y", (2, 2))])
def test_associativity_all_triples(groups, op, mod):
    sym = groups(op, mod)
    n2 = 2 * _order(op, mod)
    table = np.array([[sym.compose(g, h) for h in range(n2)] for g in range(n2)])
    for g, h, k in itertools.product(range(n2), repeat=3):
        assert table[table[g, h], k] == table[g, table[h, k]]


# --- fixed points -------------------------------------------------------------------


def _brute_fixed(op, mod, e):
    return _expected_perm(op, mod, e) == np.arange(_order(op, mod) ** 2)


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_fixed_points_match_brute_force(groups, op, mod):
    sym = groups(op, mod)
    n = _order(op, mod)
    for e in range(2 * n):
        np.testing.assert_array_equal(sym.fixed_points([e]), _brute_fixed(op, mod, e))
    # union over several elements
    chosen = [n, n + 1, 1]
    expected = np.logical_or.reduce([_brute_fixed(op, mod, e) for e in chosen])
    np.testing.assert_array_equal(sym.fixed_points(chosen), expected)
    assert not sym.fixed_points([]).any()


@pytest.mark.parametrize("op,mod", [(op, m) for op, m in TASKS if not isinstance(m, tuple)])
def test_reflection_fixed_points_follow_paper_column(groups, op, mod):
    """docs/science.md §2 (arXiv 2604.00316, §3, App. A), last column: b = a+k, b = -a-k, b = ak, b
    = (ak)^-1."""
    sym = groups(op, mod)
    n = _order(op, mod)
    p = mod
    for k in range(n):
        expected = np.zeros(n * n, bool)
        for a in range(n):
            if op == "x+y":
                b = (a + k) % p
            elif op == "x-y":
                b = (-a - k) % p
            elif op == "x*y":
                b = (a + 1) * (k + 1) % p - 1
            else:
                b = pow((a + 1) * (k + 1), -1, p) - 1
            expected[a * n + b] = True
        np.testing.assert_array_equal(sym.fixed_points([n + k]), expected)


@pytest.mark.parametrize("p", [5, 7, 13])
def test_x_plus_y_odd_p_each_point_fixed_by_exactly_one_reflection(p):
    sym = symmetry_group(make_task("x+y", p=p))
    counts = np.zeros(p * p, int)
    for k in range(p):
        fixed = sym.fixed_points([p + k])
        assert fixed.sum() == p
        for g in np.flatnonzero(fixed):
            a, b = divmod(int(g), p)
            assert b == (a + k) % p
        counts += fixed
    np.testing.assert_array_equal(counts, np.ones(p * p, int))


@pytest.mark.parametrize("p", [2, 4, 8, 12])
def test_x_plus_y_even_p_fixed_point_counts_match_brute_force(p):
    """Even p: count, per point, the reflections (b-k, a+k) == (a, b) by brute force."""
    sym = symmetry_group(make_task("x+y", p=p))
    brute = np.zeros(p * p, int)
    for k, a, b in itertools.product(range(p), repeat=3):
        brute[a * p + b] += ((b - k) % p, (a + k) % p) == (a, b)
    lib = sum(sym.fixed_points([p + k]).astype(int) for k in range(p))
    np.testing.assert_array_equal(lib, brute)
    for k in range(p):
        brute_k = [
            ((b - k) % p, (a + k) % p) == (a, b) for a, b in itertools.product(range(p), repeat=2)
        ]
        np.testing.assert_array_equal(sym.fixed_points([p + k]), brute_k)


@pytest.mark.parametrize("mod", [7, 8, (3, 5), (2, 2)])
def test_x_plus_y_nontrivial_rotations_fix_nothing(mod):
    sym = symmetry_group(_make("x+y", mod))
    n = _order("x+y", mod)
    assert sym.fixed_points([sym.identity]).all()
    for k in range(1, n):
        assert not sym.fixed_points([k]).any()


# --- permutation matrices -----------------------------------------------------------


@pytest.mark.parametrize(
    "op,mod", [("x+y", 5), ("x-y", 4), ("x*y", 7), ("x/y", 7), ("x+y", (2, 2))]
)
def test_permutation_matrix_acts_on_inputs(groups, op, mod):
    sym = groups(op, mod)
    n = _order(op, mod)
    x = sym.task.inputs()
    mats = [sym.permutation_matrix(e) for e in range(2 * n)]
    for e, pi in enumerate(mats):
        assert pi.shape == (2 * n, 2 * n)
        assert set(np.unique(pi).tolist()) == {0.0, 1.0}
        np.testing.assert_array_equal(pi.sum(axis=0), np.ones(2 * n))
        np.testing.assert_array_equal(pi.sum(axis=1), np.ones(2 * n))
        # Pi x_p = x_{g p}, with g p from the paper's table
        np.testing.assert_array_equal(x[_expected_perm(op, mod, e)], x @ pi.T)
        # rotations stay within the two one-hot blocks, reflections swap them
        off_diag = pi[:n, n:].sum() + pi[n:, :n].sum()
        assert off_diag == (2 * n if e >= n else 0)
    for g, h in itertools.product(range(2 * n), repeat=2):
        np.testing.assert_array_equal(mats[sym.compose(g, h)], mats[g] @ mats[h])


# --- generated subgroups ------------------------------------------------------------


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_generate_one_reflection_and_whole_group(groups, op, mod):
    sym = groups(op, mod)
    n = _order(op, mod)
    assert sym.generate([]) == (sym.identity,)
    for k in range(n):
        assert sym.generate([n + k]) == (sym.identity, n + k)
    assert sym.generate(range(2 * n)) == tuple(range(2 * n))


@pytest.mark.parametrize("p", [5, 8, 12])
def test_generate_cyclic_rotation_orders(p):
    """In Z_p, r^k generates p / gcd(k, p) rotations: the multiples of gcd(k, p)."""
    sym = symmetry_group(make_task("x+y", p=p))
    for k in range(p):
        d = math.gcd(k, p)
        assert sym.generate([k]) == tuple(range(0, p, d))
    assert len(sym.generate([1])) == p
    assert sym.generate([1, p + 0]) == tuple(range(2 * p))


@pytest.mark.parametrize("p", [7, 11])
def test_generate_multiplicative_primitive_root(p):
    sym = symmetry_group(make_task("x*y", p=p))
    n = p - 1
    r = sym.rotation(_primitive_root(p))
    assert sym.generate([r]) == tuple(range(n))
    assert sym.generate([r, n + sym.identity]) == tuple(range(2 * n))
    # -1 has order 2 in Z_p^*
    assert sym.generate([sym.rotation(p - 1)]) == (0, p - 2)


@pytest.mark.parametrize("d,order", [(16, 4), (8, 8), (4, 16)])
def test_generate_x_plus_y_mod_32_dihedral_subgroups(d, order):
    """docs/science.md R6 (arXiv 2604.00316, Fig. 3): <r^d, s> = {r^j, sr^j : d | j}."""
    sym = symmetry_group(make_task("x+y", p=32))
    sub = sym.generate([sym.rotation(d), sym.reflection(0)])
    assert len(sub) == order
    expected = sorted([j for j in range(0, 32, d)] + [32 + j for j in range(0, 32, d)])
    assert sub == tuple(expected)


# --- orbits -------------------------------------------------------------------------


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_orbits_under_one_reflection(groups, op, mod):
    sym = groups(op, mod)
    n = _order(op, mod)
    idx = np.arange(n * n)
    for k in range(n):
        image = _expected_perm(op, mod, n + k)
        labels = sym.orbits([n + k])
        np.testing.assert_array_equal(labels, np.minimum(idx, image))
        sizes = np.bincount(labels, minlength=n * n)[labels]
        assert set(np.unique(sizes).tolist()) <= {1, 2}
        np.testing.assert_array_equal(sizes == 1, image == idx)


def _brute_orbits(op, mod, generators):
    """Canonical labels (minimum index) of orbits by breadth-first closure of images."""
    n = _order(op, mod)
    perms = [_expected_perm(op, mod, e) for e in generators]
    labels = np.full(n * n, -1)
    for start in range(n * n):
        if labels[start] >= 0:
            continue
        orbit, frontier = {start}, [start]
        while frontier:
            frontier = [int(q[x]) for x in frontier for q in perms if int(q[x]) not in orbit]
            orbit.update(frontier)
        for x in orbit:
            labels[x] = min(orbit)
    return labels


@pytest.mark.parametrize(
    "op,mod,generators",
    [
        ("x+y", 8, [4, 8 + 1]),
        ("x+y", 12, [3, 12 + 0]),
        ("x*y", 7, [6 + 1, 6 + 2]),
        ("x-y", (3, 5), [1, 15 + 4]),
        ("x/y", 11, [10 + 3]),
    ],
)
def test_orbits_of_generated_subgroups_match_brute_force(groups, op, mod, generators):
    sym = groups(op, mod)
    np.testing.assert_array_equal(sym.orbits(generators), _brute_orbits(op, mod, generators))


# --- reflection arguments -----------------------------------------------------------


def test_reflections_maps_values_in_order():
    sym = symmetry_group(make_task("x*y", p=7))
    assert symmetry.reflections(sym, [3, "5", 1]) == [6 + 2, 6 + 4, 6 + 0]
    prod = symmetry_group(make_task("x+y", group=[5, 11]))
    assert symmetry.reflections(prod, ["3,2", (0, 1)]) == [55 + 35, 55 + 1]


@pytest.mark.parametrize(
    "op,p,values",
    [("x*y", 7, []), ("x*y", 7, [0]), ("x*y", 7, [3, 7]), ("x+y", 7, [7]), ("x+y", 7, ["a"])],
)
def test_reflections_rejects_non_elements(op, p, values):
    sym = symmetry_group(make_task(op, p=p))
    with pytest.raises(InvalidArgument) as info:
        symmetry.reflections(sym, values)
    assert info.value.argument == "reflections"
    with pytest.raises(InvalidArgument) as info:
        symmetry.reflections(sym, values, argument="holdout")
    assert info.value.argument == "holdout"
