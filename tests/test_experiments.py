"""Entry points end to end at toy sizes: files written, bad input refused up front."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import grokrfm
from benchmarks import rfm_bench
from experiments import symmetry_breaking

ROOT = Path(__file__).resolve().parents[1]


def test_symmetry_breaking_writes_results_and_figure(tmp_path):
    out = tmp_path / "sb"
    symmetry_breaking.main(
        ["--p", "7", "--iters", "3", "--moved", "0", "2", "--seeds", "2", "--out", str(out)]
    )
    data = json.loads((out / "results.json").read_text())
    assert set(data) >= {"config", "environment", "runs", "summary"}
    assert data["environment"]["x64"] is True and data["environment"]["jax"]
    assert data["config"]["reflections"] == ["sr^0"]
    runs = data["runs"]
    assert [(r["setting"]["moved"], r["seed"]) for r in runs] == [(0, 0), (2, 0), (2, 1)]
    assert [r["stabilizer_order"] for r in runs] == [2, 1, 1]  # random moves break {id, s}
    for r in runs:
        assert r["n_train"] + r["n_test"] == 49
        assert r["n_test"] == 7 + r["setting"]["moved"]
        for key in ("train_acc", "test_acc", "train_mse", "test_mse"):
            assert len(r[key]) == 3
    assert (out / "test_accuracy.png").stat().st_size > 1000
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_save_every_writes_every_runs_arrays_beside_the_results(tmp_path):
    out = tmp_path / "sb"
    argv = ["--p", "7", "--iters", "4", "--moved", "0", "2", "--seeds", "2"]
    data = symmetry_breaking.main([*argv, "--save-every", "2", "--out", str(out)])
    assert data["config"]["save_every"] == 2 and data["arrays"] == "runs.npz"
    runs = grokrfm.load_runs(out / data["arrays"])
    assert runs.result.M_history.shape == (3, 3, 14, 14)  # 3 runs; M_0, M_2, M_4
    np.testing.assert_array_equal(runs.result.M_history[:, -1], runs.result.M)
    final = [r["test_acc"][-1] for r in data["runs"]]
    assert np.asarray(runs.result.metrics.test_acc)[:, -1].tolist() == final
    labels = np.asarray(runs.task.labels)
    test = np.asarray(runs.partitions.test_idx[1])[np.asarray(runs.partitions.test_valid[1])]
    scores = np.asarray(runs.predict())[1, test]
    assert np.mean(np.argmax(scores, axis=-1) == labels[test]) == pytest.approx(final[1])


@pytest.mark.parametrize("move,n_test", [("pairs", 7 + 2 * 2), ("fixed", 7 - 2)])
def test_pair_and_fixed_point_moves(move, n_test, tmp_path):
    data = symmetry_breaking.main(
        [
            "--p",
            "7",
            "--iters",
            "2",
            "--moved",
            "2",
            "--seeds",
            "1",
            "--move",
            move,
            "--out",
            str(tmp_path),
        ]
    )
    assert data["config"]["move"] == move
    assert data["runs"][0]["n_test"] == n_test
    # Pair moves keep {id, s}; fixed points moved into training do too (s fixes them).
    assert data["runs"][0]["stabilizer_order"] == 2


def test_product_group_and_several_reflections(tmp_path):
    out = tmp_path / "prod"
    data = symmetry_breaking.main(
        [
            "--group",
            "3",
            "5",
            "--reflections",
            "0,0",
            "1,2",
            "--iters",
            "2",
            "--moved",
            "1",
            "--seeds",
            "1",
            "--out",
            str(out),
        ]
    )
    assert data["config"]["group"] == "Z_3 x Z_5"
    assert data["config"]["reflections"] == ["sr^(0,0)", "sr^(1,2)"]
    # Each reflection of x+y fixes n = 15 points; for odd n no point is fixed by two.
    assert data["runs"][0]["n_test"] == 30 + 1


@pytest.mark.parametrize(
    "argv,argument",
    [
        (["--op", "x*y", "--p", "12"], "p"),
        (["--p", "1"], "p"),
        (["--op", "x^y"], "op"),
        (["--kernel", "cauchy"], "kernel"),
        (["--reflections", "7"], "reflections"),
        (["--op", "x*y", "--p", "7", "--reflections", "0"], "reflections"),
        (["--moved", "100"], "moved"),
        (["--moved", "-1"], "moved"),
        (["--move", "pairs", "--moved", "22"], "moved"),
        (["--move", "fixed", "--moved", "8"], "moved"),
        (["--bandwidth", "-1"], "bandwidth"),
        (["--iters", "0"], "iters"),
        (["--seeds", "0"], "seeds"),
        (["--memory-budget", "0"], "memory_budget"),
        (["--memory-budget", "0.000001"], "memory_budget"),
    ],
)
def test_bad_arguments_fail_before_compute(argv, argument, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        symmetry_breaking.main(["--p", "7", "--out", str(tmp_path / "x"), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {argument}: ")
    assert not (tmp_path / "x").exists()


def test_cli_prints_errors_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.symmetry_breaking", "--op", "x/y", "--p", "15"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: p: x*y and x/y need a prime modulus, got 15"


def test_gpu_check_dry_run_on_cpu(tmp_path):
    """The prepared accelerator script cannot run on a GPU here; keep it from rotting.

    Only the float32 worker runs: the float64 one is the same code, and the float64 path
    of everything it calls is what the rest of the suite tests.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", "--quick", "--dtypes", "float32"]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [r["dtype"] for r in data["runs"]] == ["float32"]
    for r in data["runs"]:
        assert r["p61_batch"]["runs"] == 4 and r["p61_batch"]["solve_failures"] == 0
        assert r["p61_batch"]["test_acc_moved0"] == 0.0
        assert max(v for k, v in r["checks"].items() if k.startswith("agop")) < (
            1e-10 if r["dtype"] == "float64" else 1e-4
        )


def test_benchmark_runs_at_toy_size(tmp_path):
    payload = rfm_bench.main(
        [
            "--p",
            "5",
            "--repeats",
            "1",
            "--headline-p",
            "7",
            "--iters",
            "2",
            "--batch-p",
            "5",
            "--batch-sizes",
            "1",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    rows = payload["iteration_vs_cholesky"]
    assert [(r["p"], r["split"]) for r in rows] == [(5, "degenerate"), (5, "random50")]
    # p = 5: the degenerate split trains on 25 - 5 points, the random half on 12.
    assert [r["n_train"] for r in rows] == [20, 12]
    assert all(r["ratio"] == r["iteration_s"] / r["cholesky_s"] for r in rows)
    f64, f32 = payload["headline"]
    assert (f64["dtype"], f32["dtype"]) == ("float64", "float32")
    assert f64["final_train_acc"] == 1.0
    assert f64["peak_rss_mb"] >= f64["rss_before_run_mb"] > 50  # jaxlib alone is larger
    # float32 follows float64 over two iterations at p = 7 (about 9% apart in M), not exactly.
    assert 0 < payload["headline_dtypes"]["M_relative_difference"] < 0.5
    assert [r["B"] for r in payload["batch_scaling"]] == [1, 3]
    assert payload["batch_scaling"][0]["compilations_for_all_sizes"] == 2
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert set(saved) >= {"iteration_vs_cholesky", "headline", "batch_scaling"}


def test_killed_sweep_resumes_from_saved_chunks(tmp_path):
    """SIGKILL midway: the rerun loads every finished chunk and computes only the rest."""
    out = tmp_path / "sb"
    cmd = [sys.executable, "-u", "-m", "experiments.symmetry_breaking", "--p", "7"]
    cmd += ["--iters", "3", "--moved", "0", "1", "2", "--seeds", "3", "--chunk-runs", "1"]
    cmd += ["--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("chunk 2/7") and "done" in line:
            proc.kill()
            break
    proc.wait()
    saved = {p.name for p in (out / "chunks").glob("*.json")}
    assert len(saved) >= 2 and not (out / "results.json").exists()

    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    lines = [ln for ln in rerun.stdout.splitlines() if ln.startswith("chunk ")]
    assert len(lines) == 7
    assert sum("loaded" in ln for ln in lines) == len(saved)
    assert sum("done" in ln for ln in lines) == 7 - len(saved)
    data = json.loads((out / "results.json").read_text())
    assert len(data["runs"]) == 7
    assert {p.name for p in (out / "chunks").glob("*.json")} >= saved


def test_table1_quick_rows_filtered_by_only(tmp_path, capsys):
    from experiments import table1

    argv = ["--quick", "--p", "11", "--iters", "3", "--seeds", "2", "--out", str(tmp_path)]
    data = table1.main([*argv, "--only", "gaussian_add"])
    entries = data["paper_comparison"]
    assert [e["quantity"] for e in entries] == [
        "test acc, m = 0 points to test",
        "test acc, m = 1 points to test",
    ]
    assert [e["setting"] for e in entries] == ["gaussian x+y mod 11, s"] * 2
    assert [s["sweep"] for s in data["sweeps"]] == ["gaussian_add_s"]
    assert (tmp_path / "gaussian_add_s" / "chunks").is_dir()
    assert entries[0]["measured_mean"] == 0.0 and entries[0]["train_acc_mean"] == 1.0
    assert [r["stabilizer_order"] for r in data["runs"]] == [2, 1, 1]
    assert (tmp_path / "table1.png").stat().st_size > 1000
    with pytest.raises(SystemExit) as err:
        table1.main([*argv, "--only", "nothing-matches"])
    assert err.value.code == 2 and "error: only:" in capsys.readouterr().err
