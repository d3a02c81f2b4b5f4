"""Nothing can silently corrupt a result: failed solves, bad arguments, unusable output
folders, oversized tasks, files and summaries (one test per defect; chunk integrity is in
tests/test_sweep.py, ``make bench-gpu`` failing in tests/test_gpu_check.py)."""

import importlib
import json
import os
import stat

import numpy as np
import pytest

import grokrfm as gr
from grokrfm import partition, report, results, rfm, symmetry, tasks
from grokrfm.errors import InvalidArgument

MODULES = {
    "dihedral_subgroups": ("iters", "p", "seeds"),
    "emergence": ("iters", "p", "seeds"),
    "features_degenerate": ("iters", "p", "seeds"),
    "features_random": ("iters", "p", "seeds"),
    "features_subgroups": ("iters", "p", "seeds"),
    "fig1": ("iters", "p", "seeds"),
    "fixed_points": ("iters", "p", "seeds"),
    "groups_random": ("iters", "seeds", "epochs"),
    "groups_summary": ("iters", "seeds"),
    "network_grokking": ("p", "seeds", "epochs"),
    "network_trap": ("iters", "p", "seeds", "epochs"),
    "orbit_predictions": ("iters", "p", "seeds"),
    "other_groups": ("iters", "p", "seeds"),
    "pairs_never_help": ("iters", "p", "seeds"),
    "stabilizer": ("iters", "p", "seeds"),
    "symmetry_breaking": ("iters", "p", "seeds"),
    "table1": ("iters", "p", "seeds"),
}
CASES = [(m, f) for m, flags in MODULES.items() for f in flags]


def strict_json(path):
    """Parse a results file as a strict parser would (bare NaN or Infinity rejected)."""

    def reject(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(path.read_text(), parse_constant=reject)


def exits_with(module, argv, capsys):
    with pytest.raises(SystemExit) as info:
        importlib.import_module(f"experiments.{module}").main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err.strip()


# --- 1. a failed solve is missing, not a made-up accuracy -----------------------------


def test_a_failed_solve_records_missing_values_from_its_iteration_on(tmp_path):
    # Quadratic x+y mod 13 at ridge 0 with no retries: the factorisation fails at
    # iteration 8; argmax of NaN used to read as "accuracy 0.077" for train and test.
    symmetry_breaking = importlib.import_module("experiments.symmetry_breaking")
    argv = ["--p", "13", "--kernel", "quadratic", "--moved", "0", "--iters", "12"]
    symmetry_breaking.main([*argv, "--out", str(tmp_path)])
    payload = strict_json(tmp_path / "results.json")
    (run,) = payload["runs"]
    first = run["solve_ok"].index(False)
    assert 0 < first < 12
    for curve in ("train_acc", "test_acc", "train_mse", "test_mse"):
        assert all(v is not None for v in run[curve][:first])
        assert all(v is None for v in run[curve][first:])
    (row,) = payload["summary"]
    assert row["failed_runs"] == 1 and row["test_acc_mean"] is None
    assert row["solve_failures"] == 1


def test_a_finite_but_inaccurate_solve_is_a_failure(monkeypatch):
    task = tasks.make_task("x+y", p=7)  # a new task: nothing compiled for it yet
    sym = symmetry.symmetry_group(task)
    splits, _ = partition.moved_splits(partition.degenerate_split(sym, [7]), [1], [0])
    good, _ = gr.run_splits(task, rfm.RFMConfig(iterations=3), splits)
    residual = np.asarray(good.metrics.residual)
    assert np.asarray(good.metrics.solve_ok).all() and (residual < 1e-11).all()
    # The same runs with a limit below what the solve achieves: every iteration fails.
    monkeypatch.setitem(rfm.RESIDUAL_LIMIT, "float64", 1e-300)
    bad, _ = gr.run_splits(tasks.make_task("x+y", p=7), rfm.RFMConfig(iterations=3), splits)
    assert not np.asarray(bad.metrics.solve_ok).any()
    assert np.isnan(np.asarray(bad.metrics.test_acc)).all()
    np.testing.assert_array_equal(np.asarray(bad.metrics.residual), residual)


def test_the_residual_is_the_solves_own(getkey):
    task = tasks.make_task("x-y", p=5)
    split = partition.random_split(getkey(), task.n_points, 13)
    result, parts = gr.run_splits(task, rfm.RFMConfig(iterations=1), partition.stack([split]))
    idx = np.asarray(parts.train_idx[0])
    X = task.inputs()[idx]
    d2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    K = np.exp(-d2 / (2 * 2.5**2))
    Y = np.eye(task.n)[task.labels[idx]]
    alpha = np.linalg.solve(K, Y)
    want = np.linalg.norm(K @ alpha - Y) / np.linalg.norm(Y)
    assert float(result.metrics.residual[0, 0]) < 1e-10 and want < 1e-10


# --- 3. zeros are validated, not replaced by defaults ----------------------------------


@pytest.mark.parametrize("module,flag", CASES, ids=[f"{m}-{f}" for m, f in CASES])
def test_zero_is_refused_naming_the_flag(module, flag, tmp_path, capsys):
    # --quick keeps a run short should the zero ever be accepted again.
    quick = [] if module == "symmetry_breaking" else ["--quick"]  # the demo is small already
    err = exits_with(module, [*quick, f"--{flag}", "0", "--out", str(tmp_path)], capsys)
    assert err.startswith("error: ") and "\n" not in err
    assert flag in err.split(":")[1]
    assert not (tmp_path / "results.json").exists()


def test_table1_names_its_own_flag(tmp_path, capsys):
    err = exits_with("table1", ["--p", "31", "--out", str(tmp_path)], capsys)
    assert err.startswith("error: p: ") and "reflections" not in err


# --- 4. a move never empties a set ------------------------------------------------------


@pytest.mark.parametrize("move,moved", [("points", "110"), ("fixed", "11"), ("pairs", "55")])
def test_moving_a_whole_set_is_refused_before_compute(move, moved, tmp_path, capsys):
    argv = ["--p", "11", "--move", move, "--moved", moved, "--out", str(tmp_path)]
    err = exits_with("symmetry_breaking", argv, capsys)
    assert err.startswith("error: moved: ") and "at least one must stay" in err


def test_duplicated_counts_or_seeds_are_refused():
    base = partition.degenerate_split(symmetry.symmetry_group(tasks.make_task("x+y", p=7)), [7])
    for moved, seeds, flag in (([1, 1], [0, 1], "moved"), ([1], [0, 0], "seeds")):
        with pytest.raises(InvalidArgument) as info:
            partition.moved_splits(base, moved, seeds)
        assert info.value.argument == flag
    records = [{"setting": {"moved": 1}, "seed": 0, "test_acc": [1.0], "train_acc": [1.0]}] * 2
    with pytest.raises(ValueError, match="appears twice"):
        report.summarize(records)


# --- 5. an unusable --out is refused before compute -------------------------------------


def test_an_unusable_out_is_refused_before_compute(tmp_path, capsys):
    existing = tmp_path / "a_file"
    existing.write_text("x")
    for out, text in ((existing, "is not a folder"), ("/proc/forbidden/x", "cannot write")):
        with pytest.raises(SystemExit) as info:
            importlib.import_module("experiments.fig1").main(["--quick", "--out", str(out)])
        assert info.value.code == 2
        assert text in capsys.readouterr().err
    # A usable folder is checked without being left behind by the check.
    fig1 = importlib.import_module("experiments.fig1")
    args = fig1.parse_args(["--quick", "--out", str(tmp_path / "new" / "out")])
    assert args.out == str(tmp_path / "new" / "out") and not (tmp_path / "new").exists()


# --- 6. a task too large is refused from p alone ----------------------------------------


def test_a_huge_p_is_refused_before_any_array_of_its_size(tmp_path, capsys, monkeypatch):
    built = []
    monkeypatch.setattr(symmetry, "symmetry_group", lambda task: built.append(task))
    err = exits_with("symmetry_breaking", ["--p", "1009", "--out", str(tmp_path)], capsys)
    assert err.startswith("error: p: p = 1009 needs about") and "GiB" in err
    assert built == []


# --- 7. strict JSON, readable files, durable writes ------------------------------------


def test_results_are_strict_json_readable_as_the_umask_says(tmp_path):
    old = os.umask(0o022)
    try:
        path = results.write_json(tmp_path / "r.json", {"a": float("nan"), "b": [1.0, np.inf]})
    finally:
        os.umask(old)
    assert strict_json(path) == {"a": None, "b": [1.0, None]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_results_of_another_configuration_are_kept(tmp_path, capsys):
    first = results.write_results(tmp_path, "demo", {"p": 7}, [], [])
    results.write_results(tmp_path, "demo", {"p": 7}, [], [])  # same config: replaced
    assert len(list(tmp_path.glob("results*.json"))) == 1
    results.write_results(tmp_path, "demo", {"p": 11}, [], [])
    kept = [p for p in tmp_path.glob("results.*.json")]
    assert len(kept) == 1 and strict_json(kept[0])["config"] == first["config"]
    assert strict_json(tmp_path / "results.json")["config"] == {"p": 11}


def test_results_record_the_modules_wall_time_and_the_bench_reads_it(tmp_path, monkeypatch):
    from benchmarks import rfm_bench

    written = results.write_results(tmp_path / "table1", "table1", {"quick": False}, [], [])
    assert written["process_wall_s"] > 0
    monkeypatch.chdir(tmp_path)
    rows = {r["module"]: r for r in rfm_bench.paper_times(".")}
    assert rows["table1"]["wall_s"] == written["process_wall_s"]
    assert rows["table1"]["source"] == "measured by make paper"
    assert rows["fig1"] == {"module": "fig1", "wall_s": None, "source": "not run"}
    assert rows["total"]["wall_s"] == written["process_wall_s"]


# --- 9. summaries say what happened -----------------------------------------------------


def test_summaries_use_the_sample_std_and_show_split_seeds():
    finals = [0.143, 0.143, 0.186, 0.829, 0.886]  # the Gaussian x*y mod 61 row
    records = [
        {"setting": {"moved": 10}, "seed": s, "test_acc": [v], "train_acc": [1.0],
         "n_train": 1, "n_test": 1, "solve_ok": [True]}
        for s, v in enumerate(finals)
    ]  # fmt: skip
    (row,) = report.summarize(records)
    assert row["test_acc_std"] == pytest.approx(np.std(finals, ddof=1))
    assert row["test_acc_median"] == pytest.approx(0.186)
    assert row["test_acc_final"] == finals
    assert report.split_text(row["split"]) == "2 of 5 seeds >= 80%"
    agreeing = [dict(r, test_acc=[0.9 + 0.01 * i]) for i, r in enumerate(records)]
    assert report.summarize(agreeing)[0]["split"] is None
    table = report.format_table([row], [("test_acc_mean", "test"), ("test_acc_std", "± std")])
    assert "sample standard deviation" in table
