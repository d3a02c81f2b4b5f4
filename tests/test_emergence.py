"""experiments.emergence: its command line, and the experiment end to end at a toy size."""

import numpy as np
import pytest

from experiments import emergence


@pytest.mark.parametrize(
    "argv,argument",
    [
        (["--p", "0"], "p"),
        (["--op", "x^y"], "op"),
        (["--iters", "0"], "iters"),
        (["--seeds", "0"], "seeds"),
        (["--fractions", "0.5", "0"], "fractions"),
        (["--fractions", "0.5", "0.5"], "fractions"),
        (["--fractions", "0.01"], "fractions"),  # no training point of 25
        (["--bandwidth", "0"], "bandwidth"),
        (["--memory-budget", "0"], "memory_budget"),
    ],
)
def test_bad_arguments_fail_before_compute(argv, argument, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        emergence.main(["--p", "5", "--out", str(tmp_path / "x"), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {argument}: ") and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_emergence_end_to_end(tmp_path):
    """Fractions are sorted; the alignment of the largest fraction with itself is 1; the
    rows summarise the runs."""
    argv = ["--p", "7", "--iters", "2", "--seeds", "2", "--fractions", "0.8", "0.4"]
    payload = emergence.main([*argv, "--out", str(tmp_path)])
    assert payload["config"]["fractions"] == [0.4, 0.8]
    runs = payload["runs"]
    assert [(r["setting"]["fraction"], r["seed"]) for r in runs] == [
        (0.4, 0),
        (0.4, 1),
        (0.8, 0),
        (0.8, 1),
    ]
    for r in runs:
        assert len(r["alignment_curve"]) == 3  # M_0, M_1, M_2
        if r["setting"]["fraction"] == 0.8:
            assert r["alignment"] == pytest.approx(1.0)
    for row in payload["summary"]:
        same = [r for r in runs if r["setting"]["fraction"] == row["fraction"]]
        assert row["test_acc_mean"] == pytest.approx(np.mean([r["test_acc"][-1] for r in same]))
        assert row["n_train"] == round(row["fraction"] * 49)
    jump = payload["jump_fraction"]
    reached = [row["fraction"] for row in payload["summary"] if row["test_acc_mean"] >= 0.9]
    assert jump == (min(reached) if reached else None)
    assert (tmp_path / "emergence.png").exists()
