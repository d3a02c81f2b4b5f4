"""``make bench-gpu`` can fail: out-of-tolerance checks and failed workers exit non-zero."""

import subprocess

import pytest

from benchmarks import gpu_check


def row(dtype="float64", agop=1e-15, batch=0.0, moved0=0.0, moved1=1.0, fails=0):
    timing = {"test_acc_moved0": moved0, "test_acc_moved1": moved1, "solve_failures": fails}
    return {
        "dtype": dtype,
        "checks": {"agop_gaussian_relerr": agop, "batch_vs_single_M_relerr": batch},
        "p61_batch": timing,
        "p97_single": {"solve_failures": 0},
    }


def test_a_good_row_passes():
    assert gpu_check.failures(row(), quick=False) == []
    assert gpu_check.failures(row("float32", agop=1e-5, batch=1e-3), quick=False) == []


@pytest.mark.parametrize(
    "bad,text",
    [
        (dict(agop=1e-6), "AGOP"),
        (dict(batch=1e-3), "batch vs single"),
        (dict(moved0=0.2), "degenerate"),
        (dict(moved1=0.5), "one moved point"),
        (dict(fails=2), "failed solves"),
        (dict(agop=float("nan")), "AGOP"),
    ],
)
def test_each_out_of_tolerance_check_is_a_failure(bad, text):
    found = gpu_check.failures(row(**bad), quick=False)
    assert len(found) == 1 and text in found[0]


def test_paper_size_accuracy_checks_are_skipped_in_a_dry_run():
    assert gpu_check.failures(row(moved1=0.0), quick=True) == []


def test_a_failed_worker_exits_non_zero(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, stdout="", stderr="Traceback: boom")

    monkeypatch.setattr(gpu_check.subprocess, "run", broken)
    with pytest.raises(SystemExit) as exit_info:
        gpu_check.main(["--quick", "--dtypes", "float32", "--out", str(tmp_path)])
    assert exit_info.value.code == 1
    assert "float32: worker failed" in capsys.readouterr().out
