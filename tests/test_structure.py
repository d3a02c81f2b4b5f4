"""grokrfm.analysis.structure: the cyclic order, circulant deviation and AGOP alignment,
each against an independent numpy computation."""

import jax.numpy as jnp
import numpy as np
import pytest
from feature_helpers import IDS, TASKS, group, random_symmetric, sym_pi

from grokrfm import tasks
from grokrfm.analysis import structure
from grokrfm.errors import InvalidArgument


def _numpy_deviation(A, hankel):
    """docs/science.md P1 (arXiv 2407.20199, §3) with explicit rolls."""
    n = A.shape[0]
    rows = [np.roll(A[i], i if hankel else -i) for i in range(n)]
    return np.var(np.stack(rows), axis=0).sum() / np.sum(A * A)


def test_circulant_deviation_zero_for_circulant_and_hankel_positive_otherwise():
    rng = np.random.default_rng(5)
    n = 9
    c = rng.normal(size=n)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    circulant, hankel = c[(j - i) % n], c[(i + j) % n]
    assert float(structure.circulant_deviation(jnp.asarray(circulant))) < 1e-28
    assert float(structure.circulant_deviation(jnp.asarray(hankel), hankel=True)) < 1e-28
    assert float(structure.circulant_deviation(jnp.asarray(hankel))) > 1e-3
    A = rng.normal(size=(n, n))
    for h in (False, True):
        d = structure.circulant_deviation(jnp.asarray(A), hankel=h)
        np.testing.assert_allclose(d, _numpy_deviation(A, h), rtol=1e-12)
        np.testing.assert_allclose(structure.circulant_deviation(jnp.asarray(7.5 * A), h), d)
    batch = jnp.asarray(np.stack([A, circulant]))
    np.testing.assert_allclose(structure.circulant_deviation(batch)[1], 0.0, atol=1e-14)
    assert np.isnan(structure.circulant_deviation(jnp.zeros((n, n))))


@pytest.mark.parametrize("p,generator", [(7, "3"), (11, "2"), (13, "2"), (23, "5")])
def test_discrete_log_order_makes_multiplication_tables_circulant(p, generator):
    group = tasks.multiplicative_group(p)
    assert structure.smallest_generator(group) == generator
    order = structure.cyclic_order(group)
    residues = np.array([int(group.element_names[e]) for e in order])
    np.testing.assert_array_equal(residues, [pow(int(generator), k, p) for k in range(p - 1)])
    f = np.random.default_rng(p).normal(size=p - 1)
    inv = group.inverse
    quotient = f[group.table[:, inv]]  # A[a, b] = f(a b^-1): circulant in log order
    product = f[group.table]  # A[a, b] = f(a b): Hankel in log order
    reorder = np.ix_(order, order)
    assert float(structure.circulant_deviation(jnp.asarray(quotient[reorder]))) < 1e-28
    assert float(structure.circulant_deviation(jnp.asarray(product[reorder]), True)) < 1e-28
    assert float(structure.circulant_deviation(jnp.asarray(quotient))) > 1e-3


def test_cyclic_order_of_products_and_non_cyclic_group():
    assert structure.smallest_generator(tasks.product_group([5, 7])) == "(1,1)"
    np.testing.assert_array_equal(structure.cyclic_order(tasks.cyclic_group(6)), np.arange(6))
    with pytest.raises(InvalidArgument, match="^group: Z_3 x Z_3 is not cyclic"):
        structure.cyclic_order(tasks.product_group([3, 3]))


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_every_matrix_in_the_span_of_the_representation_is_block_circulant(op, mod):
    sym = group(op, mod)
    forms = structure.block_forms(sym.task)
    assert forms.off_diagonal_hankel == sym.task.divide
    rng = np.random.default_rng(6)
    M = sum(rng.normal() * sym_pi(sym, g) for g in range(sym.order))
    dev = structure.block_circulant_deviation(jnp.asarray(M), forms)
    assert float(dev.combined) < 1e-28 and float(dev.off_diagonal) < 1e-28
    wrong = forms._replace(off_diagonal_hankel=not forms.off_diagonal_hankel)
    if sym.task.n > 2:
        assert float(structure.block_circulant_deviation(jnp.asarray(M), wrong).off_diagonal) > 1e-6


def test_agop_alignment_ends_at_one():
    rng = np.random.default_rng(7)
    history = np.stack([np.eye(6)] + [random_symmetric(rng, 6) for _ in range(4)])
    full = structure.agop_alignment(jnp.asarray(history))
    want = [
        np.sum(m * history[-1]) / np.linalg.norm(m) / np.linalg.norm(history[-1]) for m in history
    ]
    np.testing.assert_allclose(full, want, atol=1e-14)
    np.testing.assert_allclose(full[-1], 1.0)
    off = structure.agop_alignment(jnp.asarray(history), "off_diagonal")
    assert off[0] == 0.0 and abs(off[-1] - 1) < 1e-14
    batched = structure.agop_alignment(jnp.asarray(np.stack([history, history])))
    np.testing.assert_allclose(batched[1], full)


# --- bad arguments ------------------------------------------------------------------------


def test_bad_arguments_name_the_argument():
    with pytest.raises(InvalidArgument, match="^block: "):
        structure.circulant_deviation(jnp.ones((3, 4)))
    with pytest.raises(InvalidArgument, match="^block: "):
        structure.agop_alignment(jnp.ones((2, 4, 4)), "upper")
    with pytest.raises(InvalidArgument, match="^history: "):
        structure.agop_alignment(jnp.ones((4, 4)))


def test_an_order_must_be_integer_indices():
    forms = structure.block_forms(group("x+y", 7).task)
    M = jnp.eye(14)
    assert float(structure.block_circulant_deviation(M, forms).combined) < 1e-28
    with pytest.raises(AssertionError, match="assert_type"):
        structure.block_circulant_deviation(M, forms._replace(order=forms.order.astype(float)))
    with pytest.raises(AssertionError, match="assert_rank"):
        structure.block_circulant_deviation(M, forms._replace(order=forms.order[None]))
