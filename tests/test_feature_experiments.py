"""The feature experiments (features_degenerate, features_random, features_subgroups,
orbit_predictions) end to end at toy sizes, their command lines, and the settings records
their batches are built from."""

import importlib
import itertools
import json

import numpy as np
import pytest

from experiments import orbit_predictions
from grokrfm import partition, sweep, symmetry, tasks
from grokrfm.errors import InvalidArgument

# One task per module keeps the compilations (and the minute on two busy cores) down.
TINY = {
    "features_degenerate": ["--p", "5", "--ops", "x+y", "--no-product"],
    "orbit_predictions": ["--p", "5", "--ops", "x+y", "--no-product", "--ridges", "1e-8"],
    "features_subgroups": ["--p", "16"],
    "features_random": ["--ops", "--curves-p", "7", "--fraction", "0.7", "--seeds", "2"],
}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
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
    # Both solves (the published code's LU and this package's Cholesky), each 5 + 1 runs.
    assert len(orbit_runs) == 2 * (5 + 1)
    assert {r["setting"]["solve"] for r in orbit_runs} == {"paper", "cholesky"}
    assert payload["config"]["solves"]["paper"]["solver"] == "lu"
    for r in orbit_runs + [r for r in payload["runs"] if r["setting"]["part"] == "transfer"]:
        # The grid predictor rebuilt from alpha and alpha_M is the run's own last one.
        np.testing.assert_allclose(r["test_acc_from_predictions"], r["test_acc"][-1])
        if r["setting"]["M0"] == "I":
            assert r["n_predicted"] == 0
        else:
            assert r["n_both"] <= min(r["n_predicted"], r["n_correct_test"])
    transfer = [r for r in payload["runs"] if r["setting"]["part"] == "transfer"]
    assert len(transfer) == 2 * 5
    rows = [s for s in payload["summary"] if s["part"] == "transfer"]
    assert [row["solve"] for row in rows] == ["paper", "cholesky"]
    for row in rows:
        assert row["ridge"] == 1e-8 and row["same_reflection_test_acc"] == 0.0
    for row in [s for s in payload["summary"] if s["part"] == "orbits"]:
        assert row["residual_max"] is not None and row["residual_max"] >= 0
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
        # M_0 = I has a zero off-diagonal block: the deviation is undefined (missing).
        assert curves["circulant_deviation"][0] is None or np.isnan(
            curves["circulant_deviation"][0]
        )
        assert all(np.isfinite(v) for v in curves["circulant_deviation"][1:])
        assert curves["agop_alignment"][-1] == pytest.approx(1.0)
        # The summary's deviation is the last point of the curve.
        assert r["features"]["circulant_deviation"] == pytest.approx(
            curves["circulant_deviation"][-1]
        )
        assert set(r["features"]["change_before_onset"]) == {
            "circulant_deviation",
            "agop_alignment",
            "agop_alignment_off_diagonal",
        }


BAD_ARGUMENTS = [
    ("features_degenerate", ["--ops", "x^y"], "ops"),
    ("features_degenerate", ["--top", "0"], "top"),
    ("features_degenerate", ["--p", "0"], "p"),
    ("features_degenerate", ["--iters", "0"], "iters"),
    ("features_degenerate", ["--seeds", "0"], "seeds"),
    ("features_degenerate", ["--seeds", "2"], "seeds"),
    ("features_degenerate", ["--group", "1", "3"], "group"),
    ("features_degenerate", ["--no-product", "--group", "3", "5"], "group"),
    ("features_degenerate", ["--bandwidth", "0"], "bandwidth"),
    ("features_degenerate", ["--memory-budget", "0"], "memory_budget"),
    ("features_subgroups", ["--p", "12"], "p"),
    ("features_subgroups", ["--p", "0"], "p"),
    ("features_subgroups", ["--iters", "0"], "iters"),
    ("features_subgroups", ["--seeds", "0"], "seeds"),
    ("features_subgroups", ["--top", "0"], "top"),
    ("orbit_predictions", ["--ops", "x*y"], "ops"),
    ("orbit_predictions", ["--product-reflection", "9,9"], "product_reflection"),
    ("orbit_predictions", ["--transfer-k", "99"], "transfer_k"),
    ("orbit_predictions", ["--p", "0"], "p"),
    ("orbit_predictions", ["--iters", "0"], "iters"),
    ("orbit_predictions", ["--seeds", "0"], "seeds"),
    ("orbit_predictions", ["--fraction", "1.5"], "fraction"),
    ("orbit_predictions", ["--ridges", "-1"], "ridges"),
    ("orbit_predictions", ["--ridges", "0", "0"], "ridges"),
    ("features_random", ["--fraction", "1.5"], "fraction"),
    ("features_random", ["--fraction", "1e-4"], "fraction"),
    ("features_random", ["--p", "0"], "p"),
    ("features_random", ["--ops", "x^y"], "ops"),
    ("features_random", ["--curves-p", "0"], "curves_p"),
    ("features_random", ["--no-curves", "--curves-p", "7"], "curves_p"),
    ("features_random", ["--iters", "0"], "iters"),
    ("features_random", ["--seeds", "0"], "seeds"),
]


@pytest.mark.parametrize(
    "name,argv,argument", BAD_ARGUMENTS, ids=[f"{n}{' '.join(a)}" for n, a, _ in BAD_ARGUMENTS]
)
def test_experiments_refuse_bad_arguments_before_compute(
    name, argv, argument, capsys, tmp_path, monkeypatch
):
    def no_compute(*args, **kwargs):
        raise AssertionError("a run started before every argument was checked")

    monkeypatch.setattr(sweep, "run_splits", no_compute)
    module = importlib.import_module(f"experiments.{name}")
    with pytest.raises(SystemExit) as exit_info:
        module.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {argument}: ") and err.count("\n") == 1, err
    assert not (tmp_path / "results.json").exists()


def test_orbit_settings_are_the_product_of_their_axes_in_batch_order():
    ridges, seeds, starts = [0.0, 1e-8], [3, 4], range(3)
    runs = orbit_predictions.product(orbit_predictions.OrbitRuns, ridges, seeds, starts)
    want = list(itertools.product(ridges, seeds, starts))
    assert list(zip(*runs, strict=True)) == want
    assert runs.seed.dtype.kind == "i" and runs.ridge.dtype.kind == "f"
    for b, (r, s, k) in enumerate(want):
        assert orbit_predictions.first_run(runs, ridge=r, seed=s, start=k) == b
    transfer = orbit_predictions.product(orbit_predictions.TransferRuns, ridges, range(4))
    assert orbit_predictions.first_run(transfer, ridge=1e-8, start=1) == 5


def test_the_partition_builders_the_experiments_use():
    # degenerate_splits is the batched form of partition.degenerate_split
    sym = symmetry.symmetry_group(tasks.make_task("x-y", p=5))
    sets = [[5], [6, 7]]
    batched = partition.degenerate_splits(sym, sets)
    for i, s in enumerate(sets):
        single = partition.degenerate_split(sym, s)
        np.testing.assert_array_equal(batched.train[i], single.train)
    with pytest.raises(InvalidArgument, match="^reflections: "):
        partition.degenerate_splits(sym, [])
    with pytest.raises(InvalidArgument, match="^fraction: "):
        partition.fraction_splits(sym.task.n_points, 1.5, [0])
