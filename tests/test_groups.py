"""Groups beyond Z_p: built-in Cayley tables against independent constructions, and the
validation of a user-supplied table.

Each built-in table is recomputed here from first principles (permutation composition,
quaternion arithmetic, matrices for D_m), never with the library's tables.
"""

import itertools

import numpy as np
import pytest

from grokrfm import tasks
from grokrfm.errors import InvalidArgument


def _perm_table(perms):
    index = {p: k for k, p in enumerate(perms)}
    return np.array([[index[tuple(s[i] for i in t)] for t in perms] for s in perms])


def test_symmetric_and_alternating_groups_compose_permutations():
    s4 = tasks.symmetric_group(4)
    perms = list(itertools.permutations(range(4)))
    np.testing.assert_array_equal(s4.table, _perm_table(perms))
    a4 = tasks.alternating_group(4)
    assert a4.order == 12 and a4.identity == 0
    # A_4 = the even permutations: exactly the squares' subgroup closure; check parity.
    even = [p for p in perms if np.linalg.det(np.eye(4)[list(p)]) > 0]
    np.testing.assert_array_equal(a4.table, _perm_table(even))
    assert tasks.symmetric_group(3).order == 6 and not tasks.is_abelian(s4)


def test_dihedral_group_matches_matrices():
    m = 5
    d = tasks.dihedral_group(m)

    def matrix(k):  # r^i s^j as a 2x2 integer-valued orthogonal matrix
        i, j = k % m, k // m
        c, s = np.cos(2 * np.pi * i / m), np.sin(2 * np.pi * i / m)
        rot = np.array([[c, -s], [s, c]])
        return rot @ np.diag([1, -1]) if j else rot

    mats = [matrix(k) for k in range(2 * m)]
    for a, b in itertools.product(range(2 * m), repeat=2):
        assert np.allclose(mats[d.table[a, b]], mats[a] @ mats[b])


def test_quaternion_group_matches_quaternion_arithmetic():
    q8 = tasks.quaternion_group()

    def quat(x):  # 2u + s -> (-1)^s times unit u as a 4-vector
        v = np.zeros(4)
        v[x // 2] = -1.0 if x % 2 else 1.0
        return v

    def mul(p, q):
        a1, b1, c1, d1 = p
        a2, b2, c2, d2 = q
        return np.array(
            [
                a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2,
                a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
                a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2,
                a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2,
            ]
        )

    for x, y in itertools.product(range(8), repeat=2):
        np.testing.assert_array_equal(quat(q8.table[x, y]), mul(quat(x), quat(y)))
    assert q8.element("-i") == 3


@pytest.mark.parametrize(
    "name,order,abelian",
    [("Z3xZ3", 9, True), ("Z2^3", 8, True), ("Z_2 x Z_4", 8, True), ("D4", 8, False),
     ("S3", 6, False), ("Q8", 8, False), ("A4", 12, False), ("Z7", 7, True)],
)  # fmt: skip
def test_named_groups(name, order, abelian):
    g = tasks.named_group(name)
    assert g.order == order and tasks.is_abelian(g) == abelian


def test_group_task_divides_on_the_right():
    task = tasks.group_task("S3", divide=True)
    g = task.group
    a, b = np.divmod(np.arange(36), 6)
    np.testing.assert_array_equal(task.labels, g.table[a, g.inverse[b]])
    assert task.name == "x/y on S_3" and task.inputs().shape == (36, 12)


def test_user_table_is_validated():
    z3 = [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    g = tasks.group_from_table(z3, "mine", ["e", "a", "b"])
    assert g.identity == 0 and g.inverse.tolist() == [0, 2, 1]
    with pytest.raises(InvalidArgument, match="table: not closed"):
        tasks.group_from_table([[0, 1], [1, 2]])
    with pytest.raises(InvalidArgument, match="table: no identity"):
        tasks.group_from_table([[1, 1], [1, 1]])
    # A Latin square with identity 0 and inverses that is not associative (order 5).
    loop = [[0, 1, 2, 3, 4], [1, 0, 3, 4, 2], [2, 4, 0, 1, 3], [3, 2, 4, 0, 1], [4, 3, 1, 2, 0]]
    with pytest.raises(InvalidArgument, match=r"table: not associative: \(\d\.\d\)\.\d"):
        tasks.group_from_table(loop)
    no_inverse = [[0, 1, 2], [1, 1, 1], [2, 1, 2]]
    with pytest.raises(InvalidArgument, match="table: element 1 has no two-sided inverse"):
        tasks.group_from_table(no_inverse)
    with pytest.raises(InvalidArgument, match="table: must be a square"):
        tasks.group_from_table([[0, 1, 2]])
    with pytest.raises(InvalidArgument, match="element_names"):
        tasks.group_from_table(z3, element_names=["e", "e", "b"])
    with pytest.raises(InvalidArgument, match="group: unknown group"):
        tasks.named_group("T9")


def test_groups_summary_smoke(tmp_path):
    """The summary experiment end to end on S_3 (tiny): families, stabilisers, JSON."""
    import json

    from experiments import groups_summary

    groups_summary.main(["--groups", "S3", "--seeds", "1", "--iters", "2", "--out", str(tmp_path)])
    payload = json.loads((tmp_path / "results.json").read_text())
    assert all(r["same_elements"] and r["same_action"] for r in payload["dihedral"])
    info = payload["symmetry"][0]
    assert (info["lp_order"], info["aut_order"], info["atp_order"]) == (6, 6, 432)
    families = {r["family"] for r in payload["summary"]}
    # S_3 is non-abelian: no label-preserving swap, so no reflection families.
    assert families == {"random", "rotation_orbits", "aut_fixed", "aut_points", "aut_orbits"}
    fixed = [r for r in payload["runs"] if r["setting"]["family"] == "aut_fixed"]
    # fixed points of a label-permuting phi: lp (fixed-point-free) fixes no test point,
    # the autotopism stabiliser fixes all of them
    assert all(r["diagnostics"]["fixed_test_fraction_lp"] == 0.0 for r in fixed)
    assert all(r["diagnostics"]["fixed_test_fraction_atp"] == 1.0 for r in fixed)


def test_groups_random_with_networks_leaves_rfm_unchanged(tmp_path):
    """``--networks`` trains the network on the very same splits and adds its accuracy;
    the RFM side of every run is identical to a run without it."""
    import json

    from experiments import groups_random

    argv = ["--groups", "S3", "--fractions", "0.5", "0.9", "--seeds", "1", "--iters", "2"]
    groups_random.main([*argv, "--out", str(tmp_path / "rfm")])
    net = ["--networks", "--epochs", "2", "--width", "8", "--out", str(tmp_path / "net")]
    groups_random.main([*argv, *net])
    plain, both = (
        json.loads((tmp_path / name / "results.json").read_text()) for name in ("rfm", "net")
    )
    assert [r["test_acc"] for r in plain["runs"]] == [r["test_acc"] for r in both["runs"]]
    assert all("network" not in r for r in plain["runs"])
    # Each network accuracy is a whole number of test points of its split.
    for run in both["runs"]:
        correct = run["network"]["test_acc"] * run["n_test"]
        assert correct == pytest.approx(round(correct), abs=1e-6)
    assert both["config"]["network"]["width"] == 8
    for row in both["summary"]:
        accs = [
            r["network"]["test_acc"]
            for r in both["runs"]
            if r["setting"]["fraction"] == row["fraction"]
        ]
        assert row["network_test_acc_mean"] == pytest.approx(np.mean(accs))
        # The most frequent top element, ties to the lowest seed (not to set order).
        tops = [
            r["features"]["top"]
            for r in both["runs"]
            if r["setting"]["fraction"] == row["fraction"]
        ]
        assert row["top"] == max(tops, key=tops.count)


def test_element_orders_count_known_groups():
    """Order statistics that identify each group: Q8 has one involution and six elements
    of order 4, D4 five involutions and two of order 4, Z6 phi(d) elements of order d."""

    def counts(group):
        values, freq = np.unique(tasks.element_orders(group), return_counts=True)
        return dict(zip(values.tolist(), freq.tolist(), strict=True))

    assert counts(tasks.quaternion_group()) == {1: 1, 2: 1, 4: 6}
    assert counts(tasks.dihedral_group(4)) == {1: 1, 2: 5, 4: 2}
    assert counts(tasks.cyclic_group(6)) == {1: 1, 2: 1, 3: 2, 6: 2}
    assert counts(tasks.alternating_group(4)) == {1: 1, 2: 3, 3: 8}


@pytest.mark.parametrize(
    "module,argv,argument",
    [
        ("groups_random", ["--groups", "S3", "T9"], "groups"),
        ("groups_random", ["--fractions", "0.5", "0"], "fractions"),
        ("groups_random", ["--fractions", "0.5", "0.5"], "fractions"),
        ("groups_random", ["--fractions", "0.01"], "fractions"),  # 0 of S3's 36 points
        ("groups_random", ["--seeds", "0"], "seeds"),
        ("groups_random", ["--iters", "0"], "iters"),
        ("groups_random", ["--networks", "--epochs", "0"], "epochs"),
        ("groups_random", ["--networks", "--width", "0"], "width"),
        ("groups_summary", ["--groups", "S3", "T9"], "groups"),
        ("groups_summary", ["--fraction", "1"], "fraction"),
        ("groups_summary", ["--seeds", "0"], "seeds"),
        ("groups_summary", ["--iters", "0"], "iters"),
        ("groups_summary", ["--bandwidth", "-1"], "bandwidth"),
    ],
)
def test_bad_arguments_fail_before_compute(module, argv, argument, capsys, tmp_path):
    import importlib

    main = importlib.import_module(f"experiments.{module}").main
    with pytest.raises(SystemExit) as exit_info:
        main(["--groups", "S3", "--out", str(tmp_path / "x"), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {argument}: ") and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_groups_random_top_ties_go_to_the_lowest_seed():
    """The summary's top element is the most frequent; between equally frequent ones the
    lowest seed's, whatever the string hashing of the process."""
    from experiments import groups_random

    def run(seed, top):
        return {
            "setting": {"group": "G", "fraction": 0.5},
            "seed": seed,
            "n_train": 5,
            "n_test": 5,
            "train_acc": [1.0],
            "test_acc": [0.5],
            "solve_ok": [True],
            "features": {"top": top, "lp_energy_beyond_identity": 0.1 * seed},
        }

    for tops, expected in ((["b", "a"], "b"), (["a", "b"], "a"), (["a", "b", "b"], "b")):
        runs = [run(seed, top) for seed, top in enumerate(tops)]
        (row,) = groups_random.summary_rows(runs, with_network=False)
        assert row["top"] == expected
        assert row["lp_energy"] == pytest.approx(0.1 * np.mean(range(len(tops))))
