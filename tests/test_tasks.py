"""Tasks: Cayley tables, grid order, encodings, element parsing and argument checks.

Every expected value is recomputed here with plain modular arithmetic (arXiv 2604.00316, §2;
docs/science.md §1), never with the library's own group tables.
"""

import itertools

import numpy as np
import pytest

from grokrfm.errors import InvalidArgument
from grokrfm.tasks import make_task


def _label(op: str, p: int, a: int, b: int) -> int:
    """Label index of grid point (a, b), from residues (Z_p^* residue r is index r - 1)."""
    if op == "x+y":
        return (a + b) % p
    if op == "x-y":
        return (a - b) % p
    ra, rb = a + 1, b + 1
    if op == "x*y":
        return ra * rb % p - 1
    return ra * pow(rb, -1, p) % p - 1


def _digits(i: int, factors) -> tuple[int, ...]:
    """Mixed-radix digits of index i, last factor fastest."""
    out = []
    for f in reversed(factors):
        i, d = divmod(i, f)
        out.append(d)
    assert i == 0
    return tuple(reversed(out))


def _undigits(digits, factors) -> int:
    i = 0
    for d, f in zip(digits, factors, strict=True):
        i = i * f + d % f
    return i


SCALAR_CASES = [("x+y", p) for p in (2, 5, 12)] + [("x-y", p) for p in (2, 5, 12)]
SCALAR_CASES += [(op, p) for op in ("x*y", "x/y") for p in (5, 7, 13)]


@pytest.mark.parametrize("op,p", SCALAR_CASES)
def test_table_matches_modular_arithmetic(op, p):
    task = make_task(op, p=p)
    n = p if op in ("x+y", "x-y") else p - 1
    assert task.n == n
    assert task.n_points == n * n
    expected = np.array([[_label(op, p, a, b) for b in range(n)] for a in range(n)])
    np.testing.assert_array_equal(task.table, expected)


@pytest.mark.parametrize("op,p", SCALAR_CASES)
def test_labels_and_pairs_follow_grid_order(op, p):
    """Grid point g is (a, b) with g = a * n + b, everywhere downstream relies on it."""
    task = make_task(op, p=p)
    n = task.n
    pairs = task.pairs
    labels = task.labels
    assert pairs.shape == (n * n, 2)
    assert labels.shape == (n * n,)
    for a, b in itertools.product(range(n), range(n)):
        g = a * n + b
        assert tuple(pairs[g]) == (a, b)
        assert labels[g] == _label(op, p, a, b)


def test_division_is_a_times_inverse_of_b():
    """x/y mod 7: spot values written out by hand (3/2 = 3 * 4 = 12 = 5; 1/3 = 5)."""
    task = make_task("x/y", p=7)
    # residues -> indices: subtract 1
    assert task.table[3 - 1, 2 - 1] == 5 - 1
    assert task.table[1 - 1, 3 - 1] == 5 - 1
    assert task.table[6 - 1, 6 - 1] == 1 - 1
    # x*y mod 7: 3 * 5 = 15 = 1
    assert make_task("x*y", p=7).table[3 - 1, 5 - 1] == 0


PRODUCT_CASES = [("x+y", (5, 11)), ("x+y", (2, 3, 4)), ("x-y", (3, 3)), ("x-y", (2, 3, 4))]


@pytest.mark.parametrize("op,factors", PRODUCT_CASES)
def test_product_group_order_names_and_table(op, factors):
    task = make_task(op, group=list(factors))
    n = int(np.prod(factors))
    assert task.n == n
    names = task.group.element_names
    assert len(names) == n
    for i in range(n):
        assert names[i] == "(" + ",".join(str(d) for d in _digits(i, factors)) + ")"
    sign = 1 if op == "x+y" else -1
    expected = np.zeros((n, n), int)
    for a, b in itertools.product(range(n), range(n)):
        da, db = _digits(a, factors), _digits(b, factors)
        expected[a, b] = _undigits([x + sign * y for x, y in zip(da, db, strict=True)], factors)
    np.testing.assert_array_equal(task.table, expected)


def test_product_mixed_radix_last_factor_fastest():
    """Z_5 x Z_11: index 1 is (0,1), index 11 is (1,0), index 3*11+2 is (3,2)."""
    names = make_task("x+y", group=[5, 11]).group.element_names
    assert names[0] == "(0,0)"
    assert names[1] == "(0,1)"
    assert names[11] == "(1,0)"
    assert names[3 * 11 + 2] == "(3,2)"
    assert names[54] == "(4,10)"


@pytest.mark.parametrize("op,p", [("x+y", 5), ("x-y", 12), ("x*y", 7), ("x/y", 13)])
def test_inputs_are_two_one_hots(op, p):
    task = make_task(op, p=p)
    n = task.n
    x = task.inputs()
    assert x.shape == (n * n, 2 * n)
    assert x.dtype == np.float64
    assert set(np.unique(x).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(x.sum(axis=1), np.full(n * n, 2.0))
    for g in range(n * n):
        a, b = divmod(g, n)
        assert x[g, a] == 1.0
        assert x[g, n + b] == 1.0
    assert task.inputs(np.float32).dtype == np.float32


@pytest.mark.parametrize("op,p", [("x+y", 5), ("x-y", 12), ("x*y", 7), ("x/y", 13)])
def test_targets_are_one_hot_labels(op, p):
    task = make_task(op, p=p)
    n = task.n
    y = task.targets()
    assert y.shape == (n * n, n)
    expected = np.zeros((n * n, n))
    for g in range(n * n):
        a, b = divmod(g, n)
        expected[g, _label(op, p, a, b)] = 1.0
    np.testing.assert_array_equal(y, expected)


def test_product_targets_one_hot():
    task = make_task("x+y", group=[2, 3])
    y = task.targets()
    expected = np.zeros((36, 6))
    for a, b in itertools.product(range(6), range(6)):
        da, db = _digits(a, (2, 3)), _digits(b, (2, 3))
        expected[a * 6 + b, _undigits([da[0] + db[0], da[1] + db[1]], (2, 3))] = 1.0
    np.testing.assert_array_equal(y, expected)


# --- element parsing ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["35", 35, " 35 ", "(35)", np.int64(35)])
def test_element_multiplicative_residue_to_index(value):
    """Z_61^* stores residue r at index r - 1."""
    assert make_task("x*y", p=61).group.element(value) == 34


@pytest.mark.parametrize("value", ["3,2", (3, 2), "(3,2)", "( 3, 2 )", [3, 2]])
def test_element_product_spellings(value):
    assert make_task("x+y", group=[5, 11]).group.element(value) == 3 * 11 + 2


def test_element_additive_is_identity_map():
    group = make_task("x+y", p=7).group
    assert [group.element(k) for k in range(7)] == list(range(7))
    assert [group.element(str(k)) for k in range(7)] == list(range(7))


@pytest.mark.parametrize(
    "spec,value",
    [
        (("x*y", 61, None), 0),
        (("x*y", 61, None), 61),
        (("x*y", 61, None), "62"),
        (("x*y", 61, None), "abc"),
        (("x*y", 61, None), (3, 2)),
        (("x+y", 7, None), 7),
        (("x+y", 7, None), -1),
        (("x+y", 7, None), "3,2"),
        (("x+y", None, (5, 11)), (5, 2)),
        (("x+y", None, (5, 11)), (3, 11)),
        (("x+y", None, (5, 11)), "3"),
        (("x+y", None, (5, 11)), (3, 2, 1)),
        (("x+y", None, (5, 11)), 3),
    ],
)
def test_non_element_raises_with_argument_name(spec, value):
    op, p, group = spec
    g = make_task(op, p=p, group=None if group is None else list(group)).group
    with pytest.raises(InvalidArgument) as info:
        g.element(value, argument="reflections")
    assert info.value.argument == "reflections"
    with pytest.raises(InvalidArgument) as info:
        g.element(value)
    assert info.value.argument == "element"


def test_non_integer_number_is_not_an_element():
    group = make_task("x+y", p=7).group
    with pytest.raises(InvalidArgument) as info:
        group.element(2.5, argument="k")
    assert info.value.argument == "k"


# --- validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"op": "x^y", "p": 5}, "op"),
        ({"op": "x+y+z", "p": 5}, "op"),
        ({"op": "x+y", "p": 1}, "p"),
        ({"op": "x+y", "p": 0}, "p"),
        ({"op": "x-y", "p": -3}, "p"),
        ({"op": "x*y", "p": 1}, "p"),
        ({"op": "x*y", "p": 2}, "p"),
        ({"op": "x*y", "p": 9}, "p"),
        ({"op": "x/y", "p": 12}, "p"),
        ({"op": "x/y", "p": 1}, "p"),
        ({"op": "x+y", "p": 5.0}, "p"),
        ({"op": "x+y", "p": 5, "group": [5, 11]}, "p"),
        ({"op": "x+y"}, "p"),
        ({"op": "x*y", "group": [5, 11]}, "op"),
        ({"op": "x/y", "group": [3, 3]}, "op"),
        ({"op": "x+y", "group": [5, 1]}, "group"),
        ({"op": "x-y", "group": [0, 3]}, "group"),
        ({"op": "x+y", "group": []}, "group"),
    ],
)
def test_make_task_validation(kwargs, argument):
    with pytest.raises(InvalidArgument) as info:
        make_task(**kwargs)
    assert info.value.argument == argument
    assert str(info.value).startswith(f"{argument}: ")


def test_non_integer_group_factor_rejected():
    with pytest.raises(InvalidArgument) as info:
        make_task("x+y", group=[2.5, 3])
    assert info.value.argument == "group"


def test_invalid_argument_is_a_value_error():
    """CLI entry points catch InvalidArgument; callers catching ValueError still work."""
    with pytest.raises(ValueError, match=r"^op: "):
        make_task("x%y", p=5)


@pytest.mark.parametrize("p", [3, 5, 61])
def test_valid_small_primes_accepted_for_multiplication(p):
    task = make_task("x*y", p=p)
    assert task.n == p - 1
    assert task.name == f"x*y mod {p}"
