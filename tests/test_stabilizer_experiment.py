"""Finding 3.1 diagnostics (grokrfm.diagnosis) against brute force at tiny p, and the
stabiliser experiment end to end.

Brute force here means explicit loops over group elements and grid points: a set S is
invariant under g when every point x has ``S[x] == S[g x]``.
"""

import json

import jax
import numpy as np
import pytest

from experiments import stabilizer as stabilizer_experiment
from grokrfm import families, partition, symmetry, tasks
from grokrfm.analysis import stabilizer
from grokrfm.errors import InvalidArgument

FAMILIES_WITH_SYMMETRY = ("pairs", "fixed", "orbit_union")
SMALL = [("x+y", 5), ("x+y", 6), ("x*y", 7), ("x/y", 7), ("x-y", 8)]


def _sym(op, p):
    return symmetry.symmetry_group(tasks.make_task(op, p=p))


def _invariant(sym, mask, element) -> bool:
    perm = sym.grid_perms[element]
    return all(mask[x] == mask[perm[x]] for x in range(mask.shape[0]))


def _brute_stabilizer(sym, train, test) -> list[int]:
    return [g for g in range(sym.order) if _invariant(sym, train, g) and _invariant(sym, test, g)]


@pytest.mark.parametrize("op,p", SMALL)
def test_orbit_unions_are_invariant_under_their_subgroup(op, p):
    sym = _sym(op, p)
    rng = np.random.default_rng(0)
    n_train = sym.task.n_points // 2
    for trial in range(4):
        generators = symmetry.random_subgroup(rng, sym)
        subgroup = sym.generate(generators)
        labels = sym.orbits(generators)
        split = partition.orbit_union_split(jax.random.PRNGKey(trial), labels, n_train)
        train, test = np.asarray(split.train), np.asarray(split.test)
        assert not (train & test).any() and (train | test).all()
        # Whole orbits are taken until n_train is reached: overshoot below one orbit.
        largest_orbit = np.bincount(labels).max()
        assert n_train <= train.sum() < n_train + largest_orbit
        for g in subgroup:
            assert _invariant(sym, train, g), (generators, sym.names[g])
        stab = _brute_stabilizer(sym, train, test)
        assert set(subgroup) <= set(stab)
        orders = stabilizer.stabilizer_orders(sym, partition.stack([split, split]))
        assert orders.tolist() == [len(stab)] * 2


def test_random_subgroups_avoid_label_classes_and_repeats():
    sym = _sym("x+y", 7)
    # Any subgroup of Dih(Z_7) with a rotation holds all rotations: its orbits are the
    # label classes {a + b = c}. Only the reflection subgroups {id, sr^k} remain.
    assert symmetry.orbits_are_label_classes(sym, [sym.rotation(1)])
    assert not symmetry.orbits_are_label_classes(sym, [sym.reflection(3)])
    rng = np.random.default_rng(1)
    drawn = set()
    for _ in range(7):
        generators = symmetry.random_subgroup(rng, sym, avoid=drawn)
        subgroup = sym.generate(generators)
        assert len(subgroup) == 2 and sym.is_reflection(subgroup[1])
        assert subgroup not in drawn
        drawn.add(subgroup)
    # All seven are drawn: the next one has to repeat.
    assert sym.generate(symmetry.random_subgroup(rng, sym, avoid=drawn)) in drawn


@pytest.mark.parametrize("op,p", [("x+y", 6), ("x*y", 7)])
def test_families_diagnostics_match_brute_force(op, p):
    sym = _sym(op, p)
    seeds = [0, 1]
    splits, settings = families.partition_families(sym, 24, seeds)
    train, test = np.asarray(splits.train), np.asarray(splits.test)
    assert train.shape == (len(settings), sym.task.n_points)
    counts = families.allocate(24)
    for family in families.FAMILIES:
        got = sum(s["family"] == family for s in settings)
        assert got == counts[family] or (family == "degenerate" and 0 < got <= counts[family])
    diagnostics = stabilizer.partition_diagnostics(sym, splits)
    labels = sym.task.labels
    for i, (s, d) in enumerate(zip(settings, diagnostics, strict=True)):
        assert not (train[i] & test[i]).any() and (train[i] | test[i]).all()
        assert train[i].any() and test[i].any()
        stab = _brute_stabilizer(sym, train[i], test[i])
        assert d["stabilizer_order"] == len(stab)
        assert d["train_fraction"] == train[i].sum() / sym.task.n_points
        seen = set(labels[train[i]].tolist())
        unseen = np.mean([labels[x] not in seen for x in np.nonzero(test[i])[0]])
        assert d["unseen_label_fraction"] == pytest.approx(unseen)
        fixed = [
            any(sym.grid_perms[g][x] == x for g in stab if g != sym.identity)
            for x in np.nonzero(test[i])[0]
        ]
        assert d["fixed_test_fraction"] == pytest.approx(np.mean(fixed))
        if s["family"] == "orbit_union":
            assert d["stabilizer_order"] >= s["subgroup_order"] >= 2
            assert d["unseen_label_fraction"] < 1
        if s["family"] in ("degenerate", "pairs", "fixed") and len(s["reflections"]) == 1:
            # sr^k fixes its held-out points and swaps pairs wholly in one set, so H
            # contains it. (Several reflections need not: sr^a moves sr^b's fixed points
            # to those of another reflection.)
            assert s["reflections"][0] in {sym.names[g] for g in stab}
        if s["family"] == "degenerate" and len(s["reflections"]) == 1:
            assert test[i].sum() == sym.task.n
        if s["family"] in ("pairs", "fixed", "points"):
            assert s["moved"] >= 1
    orbit = [i for i, s in enumerate(settings) if s["family"] == "orbit_union"]
    matched = [i for i, s in enumerate(settings) if s["family"] == "random_matched"]
    np.testing.assert_array_equal(train[matched].sum(1), train[orbit].sum(1))
    # The construction is deterministic.
    again, settings_again = families.partition_families(sym, 24, seeds)
    assert settings_again == settings
    np.testing.assert_array_equal(np.asarray(again.train), train)


@pytest.mark.parametrize("op", ["x*y", "x/y"])
def test_degenerate_stabilizers_for_even_order(op):
    """By hand: sr^k fixes b = a k (x*y) or a b = k^-1 (x/y). r^j keeps that set iff
    j^2 = 1, sr^j iff j^2 = k^2, so H = {id, r^-1, sr^k, sr^-k} (residues mod p)."""
    p = 11
    rows = stabilizer.degenerate_stabilizers(_sym(op, p))
    assert [r["reflection"] for r in rows] == [f"sr^{k}" for k in range(1, p)]
    for k, row in enumerate(rows, start=1):
        expected = {"r^1", f"r^{p - 1}", f"sr^{k}", f"sr^{p - k}"}
        assert row["order"] == 4 and set(row["elements"]) == expected


def test_degenerate_stabilizers_for_odd_order():
    rows = stabilizer.degenerate_stabilizers(_sym("x+y", 7))
    assert [r["elements"] for r in rows] == [["r^0", f"sr^{k}"] for k in range(7)]
    assert all(r["generators"] == [f"sr^{k}"] for k, r in enumerate(rows))


def test_confusion_counts():
    predicted = [True, True, True, False, False]
    generalises = [True, True, False, False, True]
    table = stabilizer.confusion(predicted, generalises)
    assert table == {
        "generalises_as_predicted": 2,
        "fails_against_prediction": 1,
        "generalises_against_prediction": 1,
        "fails_as_predicted": 1,
        "total": 5,
        "prediction_accuracy": 3 / 5,
    }
    rows = stabilizer.confusion_rows(table)
    assert [(r["prediction"], r["generalises"], r["fails"]) for r in rows] == [
        ("H trivial", 2, 1),
        ("H non-trivial", 1, 1),
    ]


def test_fixed_test_fraction_separates_swapped_lines_from_fixed_ones():
    """x+y mod 7: holding out the fixed lines of sr^0 and sr^2 leaves H = {id, sr^1},
    which swaps the two lines and fixes only training points; holding out one line
    leaves H = {id, sr^0}, which fixes every test point."""
    sym = _sym("x+y", 7)
    splits = partition.stack(
        [
            partition.degenerate_split(sym, [sym.reflection(0), sym.reflection(2)]),
            partition.degenerate_split(sym, [sym.reflection(0)]),
        ]
    )
    stabilizing = symmetry.stabilizing_elements(sym, splits.train, splits.test)
    assert [[sym.names[e] for e in np.nonzero(row)[0]] for row in stabilizing] == [
        ["r^0", "sr^1"],
        ["r^0", "sr^0"],
    ]
    np.testing.assert_array_equal(
        stabilizer.fixed_test_fraction(sym, splits, stabilizing), [0.0, 1.0]
    )
    predictions = [stabilizer.predict(d) for d in stabilizer.partition_diagnostics(sym, splits)]
    assert predictions == [
        {"h_trivial": False, "no_fixed_test": True},
        {"h_trivial": False, "no_fixed_test": False},
    ]


def test_allocate_adds_up():
    for total in (families.MIN_PARTITIONS, 20, 60, 301):
        counts = families.allocate(total)
        assert sum(counts.values()) == total and min(counts.values()) >= 1
        assert counts["orbit_union"] == counts["random_matched"]


def test_experiment_end_to_end(tmp_path):
    out = tmp_path / "stab"
    argv = ["--p", "5", "--iters", "3", "--partitions", "20", "--report-p", "7"]
    payload = stabilizer_experiment.main(
        [*argv, "--threshold", "0.4", "--union-fraction", "0.6", "--out", str(out)]
    )
    data = json.loads((out / "results.json").read_text())
    assert data["experiment"] == "stabilizer"
    config = data["config"]
    assert config["quick"] is False and config["threshold"] == 0.4
    assert config["union_fraction"] == 0.6
    assert config["task"] == "x+y mod 5" and config["iterations"] == 3
    runs = data["runs"]
    assert len(runs) == sum(config["family_counts"].values()) == 20
    assert {r["family"] for r in runs} == set(families.FAMILIES)
    unions = [r["n_train"] for r in runs if r["family"] == "orbit_union"]
    assert unions == [r["n_train"] for r in runs if r["family"] == "random_matched"]
    assert min(unions) >= 0.6 * 25
    for r in runs:
        assert r["n_train"] + r["n_test"] == 25
        assert r["train_fraction"] == r["n_train"] / 25
        assert len(r["test_acc"]) == 3
        assert r["final_test_acc"] == r["test_acc"][-1]
        assert r["generalises"] == (r["final_test_acc"] >= 0.4)
        assert r["predicted"]["h_trivial"] == (r["stabilizer_order"] == 1)
        assert r["predicted"]["no_fixed_test"] == (r["fixed_test_fraction"] == 0)
        assert (r["stabilizer_order"] > 1) == bool(r["stabilizer_generators"])
    for prediction in stabilizer.PREDICTIONS:
        table = data["confusion"][prediction]["all"]
        cells = (
            "generalises_as_predicted",
            "fails_against_prediction",
            "generalises_against_prediction",
            "fails_as_predicted",
        )
        assert sum(table[c] for c in cells) == table["total"] == 20
        high = data["confusion"][prediction]["high_fraction"]
        assert high["total"] == sum(
            r["train_fraction"] >= stabilizer_experiment.HIGH_FRACTION for r in runs
        )
        wrong = [r for r in runs if r["generalises"] != r["predicted"][prediction]]
        assert [w["index"] for w in data["mispredicted"][prediction]] == [
            runs.index(r) for r in wrong
        ]
    table = data["confusion"]["h_trivial"]["all"]
    symmetric = sum(r["stabilizer_order"] > 1 for r in runs)
    assert table["generalises_against_prediction"] + table["fails_as_predicted"] == symmetric
    # Pair moves, fixed-point moves and orbit unions keep a symmetry by construction.
    assert symmetric >= sum(config["family_counts"][f] for f in FAMILIES_WITH_SYMMETRY)
    assert [row["family"] for row in data["summary"]] == list(families.FAMILIES)
    assert sum(row["partitions"] for row in data["summary"]) == 20
    report = data["degenerate_stabilizers"]
    assert set(report) == {"x*y", "x/y"}
    assert [r["order"] for r in report["x*y"]] == [4] * 6
    assert (out / "confusion.png").stat().st_size > 1000
    assert payload["confusion"] == data["confusion"]


@pytest.mark.parametrize(
    "argv,argument",
    [
        (["--op", "x*y", "--p", "12"], "p"),
        (["--op", "x*y", "--p", "3"], "p"),
        (["--threshold", "1.5"], "threshold"),
        (["--threshold", "0"], "threshold"),
        (["--union-fraction", "1"], "union_fraction"),
        (["--partitions", "5"], "partitions"),
        (["--partitions", "0"], "partitions"),
        (["--report-p", "12"], "report_p"),
        (["--report-p", "0"], "report_p"),
        (["--report-ops", "x^y"], "report_ops"),
        (["--seeds", "0"], "seeds"),
        (["--iters", "0"], "iters"),
        (["--chunk-runs", "0"], "chunk_runs"),
        (["--p", "0"], "p"),
        (["--group", "2", "3"], "p"),  # --p and --group together
        (["--kernel", "cubic"], "kernel"),
        (["--bandwidth", "0"], "bandwidth"),
        (["--memory-budget", "-1"], "memory_budget"),
    ],
)
def test_bad_arguments_fail_before_compute(argv, argument, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        stabilizer_experiment.main(["--p", "5", "--out", str(tmp_path / "x"), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {argument}: ")
    assert not (tmp_path / "x").exists()


def test_fraction_batch_keeps_settings_beside_their_splits():
    batch = families.fraction_batch(25, [0.2, 0.6], [3, 4])
    assert batch.settings == [
        {"fraction": 0.2, "seed": 3},
        {"fraction": 0.2, "seed": 4},
        {"fraction": 0.6, "seed": 3},
        {"fraction": 0.6, "seed": 4},
    ]
    for i, setting in enumerate(batch.settings):
        one = partition.fraction_splits(25, setting["fraction"], [setting["seed"]])
        np.testing.assert_array_equal(batch.splits.train[i], one.train[0])
        np.testing.assert_array_equal(batch.splits.test[i], one.test[0])
    labelled = batch.labelled(group="G").take(3)
    assert labelled.size == 3 and all(s["group"] == "G" for s in labelled.settings)
    assert labelled.splits.train.shape == (3, 25)
    copies = families.replicate(jax.tree.map(lambda x: x[1], batch.splits), [{"seed": 0}] * 2)
    np.testing.assert_array_equal(copies.splits.train, np.stack([batch.splits.train[1]] * 2))


@pytest.mark.parametrize(
    "fractions,n_points,message",
    [
        ([], (), "at least one"),
        ([0.5, 0.0], (), "strictly between"),
        ([0.5, 1.0], (), "strictly between"),
        ([0.3, 0.3], (), "repeated"),
        ([0.01], (25,), "leaves a set empty"),
    ],
)
def test_check_fractions_names_the_flag(fractions, n_points, message):
    with pytest.raises(InvalidArgument, match=f"^fractions: .*{message}"):
        families.check_fractions(fractions, n_points)
    assert families.check_fractions([0.6, 0.2], (25,)) == (0.2, 0.6)


def test_group_tasks_name_the_flag():
    assert [t.group.name for t in families.group_tasks(["S3", "Z3xZ3"])][0] == "S_3"
    with pytest.raises(InvalidArgument, match="^groups: unknown group"):
        families.group_tasks(["S3", "T9"])
