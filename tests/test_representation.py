"""grokrfm.analysis.representation: Pi(g), the centring, the representation score and the
energy fractions, each against an independent numpy computation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from feature_helpers import IDS, TASKS, group, random_symmetric, sym_pi

from grokrfm import symmetry
from grokrfm.analysis import representation
from grokrfm.errors import InvalidArgument

# --- representations --------------------------------------------------------------------


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_representation_is_a_homomorphism_consistent_with_the_grid(op, mod):
    sym = group(op, mod)
    pi = symmetry.representation(sym)
    assert pi.shape == (sym.order, 2 * sym.task.n, 2 * sym.task.n)
    np.testing.assert_array_equal(
        pi, np.stack([sym.permutation_matrix(g) for g in range(sym.order)])
    )
    table = np.array([[sym.compose(g, h) for h in range(sym.order)] for g in range(sym.order)])
    # Pi(g h) = Pi(g) Pi(h) for every pair, in one batched product.
    np.testing.assert_array_equal(pi[table], pi[:, None] @ pi[None, :])
    inv = sym.inverses
    np.testing.assert_array_equal(pi[inv], np.swapaxes(pi, 1, 2))
    # The grid action through the one-hot encoding: x_{g p} = Pi(g) x_p, and labels kept.
    X = sym.task.inputs()
    for g in range(sym.order):
        np.testing.assert_array_equal(X[sym.grid_perms[g]], X @ pi[g].T)
        np.testing.assert_array_equal(sym.task.labels[sym.grid_perms[g]], sym.task.labels)


@pytest.mark.parametrize("op,mod", TASKS[:4], ids=IDS[:4])
def test_centring_commutes_with_every_pi_and_is_all_the_gaussian_kernel_sees(op, mod):
    sym = group(op, mod)
    n = sym.task.n
    P = representation.centring_projector(n)
    np.testing.assert_allclose(P @ P, P, atol=1e-14)
    for pi in symmetry.representation(sym):
        np.testing.assert_allclose(P @ pi, pi @ P, atol=1e-14)
    M = random_symmetric(np.random.default_rng(0), 2 * n)
    X = sym.task.inputs()
    diff = X[:, None, :] - X[None, ::7, :]
    full = np.einsum("abi,ij,abj->ab", diff, M, diff)
    np.testing.assert_allclose(np.einsum("abi,ij,abj->ab", diff, P @ M @ P, diff), full, atol=1e-10)


# --- representation score ---------------------------------------------------------------


def _numpy_scores(sym, M):
    """The module docstring's definitions, written out with numpy."""
    n = sym.task.n
    P = np.kron(np.eye(2), np.eye(n) - np.ones((n, n)) / n)
    Mt = P @ M @ P

    def cos(a, b):
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        return 0.0 if na * nb == 0 else float(np.sum(a * b) / (na * nb))

    def off_p(a):
        return a - np.sum(a * P) / np.sum(P * P) * P

    out = {"score": [], "cosine": [], "plus": [], "minus": []}
    for g in range(sym.order):
        B = P @ sym_pi(sym, g) @ P
        out["cosine"].append(cos(Mt, B))
        out["plus"].append(cos(Mt, P + B))
        out["minus"].append(0.0 if g == sym.identity else cos(Mt, P - B))
        U = np.zeros_like(B) if g == sym.identity else off_p(B)
        out["score"].append(cos(off_p(Mt), U))
    out["identity_share"] = cos(Mt, P) ** 2
    return out


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_scores_match_the_definition_on_random_matrices(op, mod):
    sym = group(op, mod)
    basis = representation.score_basis(sym)
    M = random_symmetric(np.random.default_rng(1), 2 * sym.task.n)
    got = representation.representation_scores(jnp.asarray(M), basis)
    want = _numpy_scores(sym, M)
    np.testing.assert_allclose(got.score, want["score"], atol=1e-12)
    np.testing.assert_allclose(got.cosine, want["cosine"], atol=1e-12)
    np.testing.assert_allclose(got.cosine_plus, want["plus"], atol=1e-12)
    np.testing.assert_allclose(got.cosine_minus, want["minus"], atol=1e-12)
    np.testing.assert_allclose(got.identity_share, want["identity_share"], atol=1e-12)
    share = want["identity_share"] + np.square(want["score"]) * (1 - want["identity_share"])
    np.testing.assert_allclose(got.pair_share, share, atol=1e-12)


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
@pytest.mark.parametrize("a,b", [(1.0, -1.0), (2.0, 0.7), (0.3, -2.0)])
def test_score_ranks_the_encoded_element_first(op, mod, a, b):
    sym = group(op, mod)
    n = sym.task.n
    basis = representation.score_basis(sym)
    rep, names = symmetry.element_classes(sym)
    rng = np.random.default_rng(2)
    # A reflection and a rotation that is not an involution where there is one.
    rotations = [g for g in range(1, n) if rep[g] == g and sym.inverses[g] != g]
    for g in [n + 1, *rotations[:1]]:
        M = a * np.eye(2 * n) + b * sym_pi(sym, g)
        # Block-constant rows and columns are invisible to the score (P removes them).
        u, v = np.r_[np.ones(n), np.zeros(n)], rng.normal(size=2 * n)
        M = M + np.outer(u, v) + np.outer(v, u)
        s = representation.representation_scores(jnp.asarray(M), basis)
        best = representation.ranked(sym, s, top=2)
        assert best[0]["element"] == rep[g] and best[0]["name"] == names[g]
        assert np.sign(best[0]["score"]) == np.sign(b)
        np.testing.assert_allclose(abs(best[0]["score"]), 1.0, atol=1e-12)
        np.testing.assert_allclose(best[0]["pair_share"], 1.0, atol=1e-12)
        assert abs(best[1]["score"]) < 1 - 1e-6
        assert representation.rank_of(sym, s, g) == 1
        report = representation.matrix_report(sym, s, expected=g)
        assert report["top_is_expected"] and report["expected_name"] == names[g]
    # I - S(sr^k) is matched by the I - Pi variant with cosine 1.
    refl = n + 2
    s = representation.representation_scores(jnp.asarray(np.eye(2 * n) - sym_pi(sym, refl)), basis)
    np.testing.assert_allclose(s.cosine_minus[refl], 1.0, atol=1e-12)


def test_score_of_the_identity_matrix_is_zero_and_scores_vmap():
    sym = group("x+y", 7)
    basis = representation.score_basis(sym)
    s = representation.representation_scores(jnp.eye(14), basis)
    np.testing.assert_array_equal(s.score, np.zeros(14))
    np.testing.assert_allclose(s.identity_share, 1.0)
    rng = np.random.default_rng(3)
    batch = np.stack([random_symmetric(rng, 14) for _ in range(3)])
    batched = representation.batch_scores(jnp.asarray(batch), basis)
    for i in range(3):
        one = representation.representation_scores(jnp.asarray(batch[i]), basis)
        for x, y in zip(batched, one, strict=True):
            np.testing.assert_allclose(x[i], y, atol=1e-13)


def _numpy_energy(sym, M, elements, beyond=False):
    n = sym.task.n
    P = np.kron(np.eye(2), np.eye(n) - np.ones((n, n)) / n)
    Mt = P @ M @ P
    basis = [P @ sym_pi(sym, h) @ P for h in elements]
    if beyond:
        Mt = Mt - np.sum(Mt * P) / np.sum(P * P) * P
        basis = [B - np.sum(B * P) / np.sum(P * P) * P for B in basis]
    A = np.stack([B.ravel() for B in basis], axis=1)
    coef, *_ = np.linalg.lstsq(A, Mt.ravel(), rcond=None)
    proj = A @ coef
    return proj @ proj / (Mt.ravel() @ Mt.ravel())


@pytest.mark.parametrize("op,mod", TASKS[:4], ids=IDS[:4])
def test_energy_fraction_is_one_in_the_span_zero_orthogonal_and_matches_lstsq(op, mod):
    sym = group(op, mod)
    n = sym.task.n
    basis = representation.score_basis(sym)
    rng = np.random.default_rng(4)
    elements = sym.generate([n + 1, 2 % n])  # a dihedral subgroup containing r^2
    mask = symmetry.subgroup_mask(sym, [n + 1, 2 % n])
    assert sorted(np.nonzero(mask)[0].tolist()) == list(elements)
    inside = sum(rng.normal() * sym_pi(sym, h) for h in elements) + 0.5 * np.eye(2 * n)
    frac = representation.energy_fraction(jnp.asarray(inside), basis, jnp.asarray(mask))
    np.testing.assert_allclose(frac, 1.0, atol=1e-12)
    # Orthogonal to the span: a random matrix minus its projection (numpy least squares).
    P = representation.centring_projector(n)
    A = np.stack([(P @ sym_pi(sym, h) @ P).ravel() for h in elements], axis=1)
    R = P @ random_symmetric(rng, 2 * n) @ P
    coef, *_ = np.linalg.lstsq(A, R.ravel(), rcond=None)
    outside = R - (A @ coef).reshape(R.shape)
    assert representation.energy_fraction(jnp.asarray(outside), basis, jnp.asarray(mask)) < 1e-12
    M = random_symmetric(rng, 2 * n)
    for beyond in (False, True):
        got = representation.energy_fraction(jnp.asarray(M), basis, jnp.asarray(mask), beyond)
        np.testing.assert_allclose(got, _numpy_energy(sym, M, elements, beyond), atol=1e-12)
    one = jnp.asarray(symmetry.subgroup_mask(sym, []))
    assert representation.energy_fraction(jnp.eye(2 * n), basis, one, beyond_identity=True) == 0.0
    np.testing.assert_allclose(representation.energy_fraction(jnp.eye(2 * n), basis, one), 1.0)


# --- bad arguments ------------------------------------------------------------------------


def test_bad_arguments_name_the_argument():
    sym = group("x+y", 7)
    basis = representation.score_basis(sym)
    with pytest.raises(InvalidArgument, match="^M: "):
        representation.representation_scores(jnp.eye(12), basis)
    with pytest.raises(InvalidArgument, match="^subgroup: "):
        representation.energy_fraction(jnp.eye(14), basis, jnp.ones(13, bool))
    with pytest.raises(InvalidArgument, match="^top: "):
        representation.ranked(sym, representation.representation_scores(jnp.eye(14), basis), top=0)


def test_misused_arrays_fail_at_the_boundary():
    sym = group("x+y", 7)
    basis = representation.score_basis(sym)
    # A 0/1 pattern is not a feature matrix; weights are not a subgroup's membership.
    with pytest.raises(AssertionError, match="assert_type"):
        representation.representation_scores(jnp.eye(14, dtype=jnp.int32), basis)
    weights = jnp.asarray(symmetry.subgroup_mask(sym, [8]), jnp.float64)
    with pytest.raises(AssertionError, match="assert_type"):
        representation.energy_fraction(jnp.eye(14), basis, weights)
    # A batch of histories is not one run's curve.
    history = representation.batch_scores(jnp.stack([jnp.eye(14)] * 6).reshape(2, 3, 14, 14), basis)
    with pytest.raises(AssertionError, match="assert_rank"):
        representation.score_curves(sym, history, 8)
    one = jax.tree.map(lambda x: x[0], history)
    assert len(representation.score_curves(sym, one, 8)["score"]) == 3
