"""grokrfm.features: representations, the representation score, circulant deviation, AGOP
alignment and orbit predictions, each against an independent numpy computation; then the
feature experiments end to end at toy sizes."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokrfm import partition, symmetry, tasks
from grokrfm.analysis import orbits, representation, structure
from grokrfm.errors import InvalidArgument

TASKS = [("x+y", 7), ("x-y", 6), ("x*y", 7), ("x/y", 11), ("x+y", (2, 3)), ("x-y", (3, 2))]
IDS = [f"{op}-{mod}" for op, mod in TASKS]


def _make(op, mod):
    if isinstance(mod, tuple):
        return tasks.make_task(op, group=list(mod))
    return tasks.make_task(op, p=mod)


@pytest.fixture(scope="module")
def groups():
    cache = {}

    def get(op, mod):
        if (op, mod) not in cache:
            cache[(op, mod)] = symmetry.symmetry_group(_make(op, mod))
        return cache[(op, mod)]

    return get


def _sym_pi(sym, g):
    pi = sym.permutation_matrix(g)
    return (pi + pi.T) / 2


def _random_symmetric(rng, d):
    a = rng.normal(size=(d, d))
    return a + a.T


# --- representations --------------------------------------------------------------------


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_representation_is_a_homomorphism_consistent_with_the_grid(groups, op, mod):
    sym = groups(op, mod)
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
def test_centring_commutes_with_every_pi_and_is_all_the_gaussian_kernel_sees(groups, op, mod):
    sym = groups(op, mod)
    n = sym.task.n
    P = representation.centring_projector(n)
    np.testing.assert_allclose(P @ P, P, atol=1e-14)
    for pi in symmetry.representation(sym):
        np.testing.assert_allclose(P @ pi, pi @ P, atol=1e-14)
    M = _random_symmetric(np.random.default_rng(0), 2 * n)
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
        B = P @ _sym_pi(sym, g) @ P
        out["cosine"].append(cos(Mt, B))
        out["plus"].append(cos(Mt, P + B))
        out["minus"].append(0.0 if g == sym.identity else cos(Mt, P - B))
        U = np.zeros_like(B) if g == sym.identity else off_p(B)
        out["score"].append(cos(off_p(Mt), U))
    out["identity_share"] = cos(Mt, P) ** 2
    return out


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_scores_match_the_definition_on_random_matrices(groups, op, mod):
    sym = groups(op, mod)
    basis = representation.score_basis(sym)
    M = _random_symmetric(np.random.default_rng(1), 2 * sym.task.n)
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
def test_score_ranks_the_encoded_element_first(groups, op, mod, a, b):
    sym = groups(op, mod)
    n = sym.task.n
    basis = representation.score_basis(sym)
    rep, names = symmetry.element_classes(sym)
    rng = np.random.default_rng(2)
    # A reflection and a rotation that is not an involution where there is one.
    rotations = [g for g in range(1, n) if rep[g] == g and sym.inverses[g] != g]
    for g in [n + 1, *rotations[:1]]:
        M = a * np.eye(2 * n) + b * _sym_pi(sym, g)
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
    s = representation.representation_scores(jnp.asarray(np.eye(2 * n) - _sym_pi(sym, refl)), basis)
    np.testing.assert_allclose(s.cosine_minus[refl], 1.0, atol=1e-12)


def test_score_of_the_identity_matrix_is_zero_and_scores_vmap(groups):
    sym = groups("x+y", 7)
    basis = representation.score_basis(sym)
    s = representation.representation_scores(jnp.eye(14), basis)
    np.testing.assert_array_equal(s.score, np.zeros(14))
    np.testing.assert_allclose(s.identity_share, 1.0)
    rng = np.random.default_rng(3)
    batch = np.stack([_random_symmetric(rng, 14) for _ in range(3)])
    batched = representation.batch_scores(jnp.asarray(batch), basis)
    for i in range(3):
        one = representation.representation_scores(jnp.asarray(batch[i]), basis)
        for x, y in zip(batched, one, strict=True):
            np.testing.assert_allclose(x[i], y, atol=1e-13)


def _numpy_energy(sym, M, elements, beyond=False):
    n = sym.task.n
    P = np.kron(np.eye(2), np.eye(n) - np.ones((n, n)) / n)
    Mt = P @ M @ P
    basis = [P @ _sym_pi(sym, h) @ P for h in elements]
    if beyond:
        Mt = Mt - np.sum(Mt * P) / np.sum(P * P) * P
        basis = [B - np.sum(B * P) / np.sum(P * P) * P for B in basis]
    A = np.stack([B.ravel() for B in basis], axis=1)
    coef, *_ = np.linalg.lstsq(A, Mt.ravel(), rcond=None)
    proj = A @ coef
    return proj @ proj / (Mt.ravel() @ Mt.ravel())


@pytest.mark.parametrize("op,mod", TASKS[:4], ids=IDS[:4])
def test_energy_fraction_is_one_in_the_span_zero_orthogonal_and_matches_lstsq(groups, op, mod):
    sym = groups(op, mod)
    n = sym.task.n
    basis = representation.score_basis(sym)
    rng = np.random.default_rng(4)
    elements = sym.generate([n + 1, 2 % n])  # a dihedral subgroup containing r^2
    mask = symmetry.subgroup_mask(sym, [n + 1, 2 % n])
    assert sorted(np.nonzero(mask)[0].tolist()) == list(elements)
    inside = sum(rng.normal() * _sym_pi(sym, h) for h in elements) + 0.5 * np.eye(2 * n)
    frac = representation.energy_fraction(jnp.asarray(inside), basis, jnp.asarray(mask))
    np.testing.assert_allclose(frac, 1.0, atol=1e-12)
    # Orthogonal to the span: a random matrix minus its projection (numpy least squares).
    P = representation.centring_projector(n)
    A = np.stack([(P @ _sym_pi(sym, h) @ P).ravel() for h in elements], axis=1)
    R = P @ _random_symmetric(rng, 2 * n) @ P
    coef, *_ = np.linalg.lstsq(A, R.ravel(), rcond=None)
    outside = R - (A @ coef).reshape(R.shape)
    assert representation.energy_fraction(jnp.asarray(outside), basis, jnp.asarray(mask)) < 1e-12
    M = _random_symmetric(rng, 2 * n)
    for beyond in (False, True):
        got = representation.energy_fraction(jnp.asarray(M), basis, jnp.asarray(mask), beyond)
        np.testing.assert_allclose(got, _numpy_energy(sym, M, elements, beyond), atol=1e-12)
    one = jnp.asarray(symmetry.subgroup_mask(sym, []))
    assert representation.energy_fraction(jnp.eye(2 * n), basis, one, beyond_identity=True) == 0.0
    np.testing.assert_allclose(representation.energy_fraction(jnp.eye(2 * n), basis, one), 1.0)


# --- cyclic order and circulant deviation ---------------------------------------------


def _numpy_deviation(A, hankel):
    """PAPER.md section 6 with explicit rolls."""
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


def test_cyclic_order_of_products_and_non_cyclic_groups():
    assert structure.smallest_generator(tasks.product_group([5, 7])) == "(1,1)"
    np.testing.assert_array_equal(structure.cyclic_order(tasks.cyclic_group(6)), np.arange(6))
    with pytest.raises(InvalidArgument, match="^group: Z_3 x Z_3 is not cyclic"):
        structure.cyclic_order(tasks.product_group([3, 3]))


@pytest.mark.parametrize("op,mod", TASKS, ids=IDS)
def test_every_matrix_in_the_span_of_the_representation_is_block_circulant(groups, op, mod):
    sym = groups(op, mod)
    forms = structure.block_forms(sym.task)
    assert forms.off_diagonal_hankel == sym.task.divide
    rng = np.random.default_rng(6)
    M = sum(rng.normal() * _sym_pi(sym, g) for g in range(sym.order))
    dev = structure.block_circulant_deviation(jnp.asarray(M), forms)
    assert float(dev.combined) < 1e-28 and float(dev.off_diagonal) < 1e-28
    wrong = forms._replace(off_diagonal_hankel=not forms.off_diagonal_hankel)
    if sym.task.n > 2:
        assert float(structure.block_circulant_deviation(jnp.asarray(M), wrong).off_diagonal) > 1e-6


def test_agop_alignment_ends_at_one():
    rng = np.random.default_rng(7)
    history = np.stack([np.eye(6)] + [_random_symmetric(rng, 6) for _ in range(4)])
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


# --- orbit predictions --------------------------------------------------------------------


def _brute_force_orbits(sym, train, test, correct, elements):
    orbit = set()
    for x in np.nonzero(train)[0]:
        for h in elements:
            orbit.add(int(sym.grid_perms[h][x]))
    predicted = {y for y in orbit if test[y] and not train[y]}
    right = {y for y in np.nonzero(test & correct)[0]}
    both = predicted & right
    precision = len(both) / len(predicted) if predicted else np.nan
    recall = len(both) / len(right) if right else np.nan
    return predicted, precision, recall


@pytest.mark.parametrize("op,mod", [("x-y", 8), ("x+y", (3, 2))])
def test_orbit_prediction_matches_brute_force_vmapped_over_reflections(groups, op, mod):
    sym = groups(op, mod)
    n, N = sym.task.n, sym.task.n_points
    rng = np.random.default_rng(8)
    train = rng.random(N) < 0.5
    test = ~train & (rng.random(N) < 0.9)  # some points in neither set
    correct = rng.random(N) < 0.4
    subgroups = [[n + k] for k in range(n)] + [[n, 1 % n]]
    masks = np.stack([symmetry.subgroup_mask(sym, s) for s in subgroups])
    run = jax.vmap(orbits.orbit_prediction, (None, None, None, None, 0))
    got = run(*map(jnp.asarray, (train, test, correct, sym.grid_perms, masks)))
    for i, s in enumerate(subgroups):
        predicted, precision, recall = _brute_force_orbits(
            sym, train, test, correct, sym.generate(s)
        )
        assert set(np.nonzero(np.asarray(got.predicted[i]))[0].tolist()) == predicted
        np.testing.assert_allclose(got.precision[i], precision)
        np.testing.assert_allclose(got.recall[i], recall)
        assert int(got.n_predicted[i]) == len(predicted)


# --- bad arguments ------------------------------------------------------------------------


def test_bad_arguments_name_the_argument(groups):
    sym = groups("x+y", 7)
    basis = representation.score_basis(sym)
    with pytest.raises(InvalidArgument, match="^M: "):
        representation.representation_scores(jnp.eye(12), basis)
    with pytest.raises(InvalidArgument, match="^subgroup: "):
        representation.energy_fraction(jnp.eye(14), basis, jnp.ones(13, bool))
    with pytest.raises(InvalidArgument, match="^block: "):
        structure.circulant_deviation(jnp.ones((3, 4)))
    with pytest.raises(InvalidArgument, match="^block: "):
        structure.agop_alignment(jnp.ones((2, 4, 4)), "upper")
    with pytest.raises(InvalidArgument, match="^history: "):
        structure.agop_alignment(jnp.ones((4, 4)))
    with pytest.raises(InvalidArgument, match="^top: "):
        representation.ranked(sym, representation.representation_scores(jnp.eye(14), basis), top=0)
    with pytest.raises(InvalidArgument, match="^subgroup: "):
        orbits.orbit_prediction(
            *(jnp.zeros(49, bool),) * 3, jnp.asarray(sym.grid_perms), jnp.ones(3, bool)
        )
    with pytest.raises(InvalidArgument, match="^reflections: "):
        partition.degenerate_splits(sym, [])
    with pytest.raises(InvalidArgument, match="^fraction: "):
        partition.fraction_splits(sym.task.n_points, 1.5, [0])


# --- experiments end to end -----------------------------------------------------------


# One task per module keeps the compilations (and the minute on two busy cores) down.
TINY = {
    "features_degenerate": ["--p", "5", "--ops", "x+y", "--no-product"],
    "orbit_predictions": ["--p", "5", "--ops", "x+y", "--no-product", "--ridges", "1e-8"],
    "features_subgroups": ["--p", "16"],
    "features_random": ["--ops", "--curves-p", "7", "--fraction", "0.7", "--seeds", "2"],
}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    import importlib

    root = tmp_path_factory.mktemp("features")
    out = {}
    for name, argv in TINY.items():
        module = importlib.import_module(f"experiments.{name}")
        out[name] = module.main([*argv, "--iters", "3", "--out", str(root / name)])
    return root, out


def test_experiments_write_results_and_figures(ran):
    root, payloads = ran
    for name, payload in payloads.items():
        saved = json.loads((root / name / "results.json").read_text())
        assert saved["experiment"] == name
        assert saved["paper_comparison"], name
        for entry in saved["paper_comparison"]:
            assert {"quantity", "setting", "paper", "measured_mean", "seeds"} <= set(entry)
        for figure in payload["figures"]:
            assert (root / name / figure.split("/")[-1]).stat().st_size > 1000


def test_features_degenerate_finds_the_building_reflection(ran):
    _, payloads = ran
    payload = payloads["features_degenerate"]
    singles = [r for r in payload["runs"] if r["setting"]["kind"] == "one"]
    assert len(singles) == 5
    for r in singles:
        f = r["features"]
        assert f["top_is_expected"], (r["setting"], f["top"])
        assert f["top_name"] == r["setting"]["held_out"][0]
        assert r["train_acc"][-1] == 1.0 and r["test_acc"][-1] == 0.0
        assert len(f["curves"]["score"]) == 4  # M_0 ... M_3
        assert f["curves"]["score"][0] == 0.0  # M_0 = I encodes nothing
    shares = [e["measured_mean"] for e in payload["paper_comparison"] if "share" in e["quantity"]]
    assert shares == [1.0]
    # x+y mod 5, Fix(s) + Fix(sr^1): the stabiliser is {id, sr^3} ((p + 1) / 2 = 3).
    two = [r for r in payload["runs"] if r["setting"]["kind"] == "two"][0]
    assert two["features"]["stabilizer"] == ["r^0", "sr^3"]


def test_orbit_predictions_records_precision_recall_and_the_transfer(ran):
    _, payloads = ran
    payload = payloads["orbit_predictions"]
    orbit_runs = [r for r in payload["runs"] if r["setting"]["part"] == "orbits"]
    assert len(orbit_runs) == 5 + 1
    for r in orbit_runs + [r for r in payload["runs"] if r["setting"]["part"] == "transfer"]:
        # The grid predictor rebuilt from alpha and alpha_M is the run's own last one.
        np.testing.assert_allclose(r["test_acc_from_predictions"], r["test_acc"][-1])
        if r["setting"]["M0"] == "I":
            assert r["n_predicted"] == 0
        else:
            assert r["n_both"] <= min(r["n_predicted"], r["n_correct_test"])
    transfer = [r for r in payload["runs"] if r["setting"]["part"] == "transfer"]
    assert len(transfer) == 5
    (row,) = [s for s in payload["summary"] if s["part"] == "transfer"]
    assert row["ridge"] == 1e-8 and row["same_reflection_test_acc"] == 0.0
    # With M0 from sr^m != s the test points Fix(s) are all predicted (sr^m moves them).
    assert all(r["n_predicted"] == 5 for r in transfer if r["setting"]["M0"] != "sr^0")


def test_features_subgroups_and_random(ran):
    _, payloads = ran
    sub = payloads["features_subgroups"]
    assert [s["order"] for s in sub["summary"]] == [2, 4, 8, 16]
    assert all(s["test_acc"] == 0.0 for s in sub["summary"])
    assert all(s["stabilizer_order"] >= s["order"] for s in sub["summary"])
    assert sub["summary"][0]["top_k_in_subgroup"] == 1  # <s>: M encodes s
    rnd = payloads["features_random"]
    (row,) = rnd["summary"]
    assert row["task"] == "x+y mod 7" and row["seeds"] == 2 and row["curves"]
    for r in rnd["runs"]:
        curves = r["features"]["curves"]
        assert np.isnan(curves["circulant_deviation"][0])  # M_0 = I: zero off-diagonal block
        assert curves["agop_alignment"][-1] == pytest.approx(1.0)
        assert 0 <= r["features"]["circulant_deviation"] < 1
        assert set(r["features"]["change_before_onset"]) == {
            "circulant_deviation",
            "agop_alignment",
            "agop_alignment_off_diagonal",
        }


@pytest.mark.parametrize(
    "name,argv,argument",
    [
        ("features_degenerate", ["--ops", "x^y"], "op"),
        ("features_degenerate", ["--top", "0"], "top"),
        ("features_subgroups", ["--p", "12"], "p"),
        ("orbit_predictions", ["--ops", "x*y"], "ops"),
        ("orbit_predictions", ["--product-reflection", "9,9"], "product_reflection"),
        ("features_random", ["--fraction", "1.5"], "fraction"),
    ],
)
def test_experiments_refuse_bad_arguments_before_compute(name, argv, argument, capsys, tmp_path):
    import importlib

    module = importlib.import_module(f"experiments.{name}")
    with pytest.raises(SystemExit) as exit_info:
        module.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {argument}: ")
    assert not (tmp_path / "results.json").exists()


def test_partition_and_itertools_helpers_agree():
    # degenerate_splits is the batched form of partition.degenerate_split
    sym = symmetry.symmetry_group(tasks.make_task("x-y", p=5))
    sets = [[5], [6, 7]]
    batched = partition.degenerate_splits(sym, sets)
    for i, s in enumerate(sets):
        single = partition.degenerate_split(sym, s)
        np.testing.assert_array_equal(batched.train[i], single.train)
