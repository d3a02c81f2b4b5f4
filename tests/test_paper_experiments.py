"""The paper's experiment modules end to end at toy sizes, and the summary over them.

One module-scoped fixture runs every module once (a few RFM iterations on grids of
36-256 points) into one results folder; the tests then read what each wrote, and the
summary test summarises that same folder.
"""

import json

import pytest

from experiments import (
    dihedral_subgroups,
    fig1,
    fixed_points,
    other_groups,
    pairs_never_help,
    summary,
    table1,
)
from grokrfm import cli, experiment, symmetry, tasks
from grokrfm.errors import InvalidArgument

TINY = ["--quick", "--iters", "2", "--seeds", "2"]
# module, its folder name, and the arguments that shrink it to seconds.
RUNS = {
    "fig1": (fig1, ["--p", "7", "--counts", "0", "2", "--only", "gaussian"]),
    "pairs_never_help": (pairs_never_help, ["--p", "7", "--counts", "0", "2", "--only", "div"]),
    "fixed_points": (fixed_points, ["--p", "7", "--counts", "0", "2", "--only", "add"]),
    # --only add keeps the two rows on the product group (x+y); x*y and x/y are only planned.
    "other_groups": (other_groups, ["--group", "2", "3", "--counts", "0", "1", "--only", "add"]),
    "dihedral_subgroups": (
        dihedral_subgroups,
        ["--p", "16", "--counts", "0", "--only", "subgroup_r8", "subgroup_r2"],
    ),
}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """``(root, {name: payload})`` after running every module into ``root/<name>``."""
    root = tmp_path_factory.mktemp("results")
    payloads = {
        name: module.main([*TINY, *argv, "--out", str(root / name)])
        for name, (module, argv) in RUNS.items()
    }
    return root, payloads


def runs_by(payload, *keys):
    """``{(setting values...): [run, ...]}`` over the payload's runs."""
    out = {}
    for r in payload["runs"]:
        out.setdefault(tuple(r["setting"][k] for k in keys), []).append(r)
    return out


def test_every_module_writes_results_and_a_figure(ran):
    root, payloads = ran
    figures = {
        "fig1": "fig1.png",
        "pairs_never_help": "pairs.png",
        "fixed_points": "fixed_points.png",
        "other_groups": "other_groups.png",
        "dihedral_subgroups": "dihedral_subgroups.png",
    }
    for name, figure in figures.items():
        out = root / name
        saved = json.loads((out / "results.json").read_text())
        assert saved["experiment"] == name == payloads[name]["experiment"]
        assert saved["config"]["quick"] is True and saved["config"]["paper_sized"] is False
        assert saved["config"]["iterations"] == 2 and saved["config"]["seeds"] == [0, 1]
        assert saved["date"] and saved["environment"]["x64"] is True
        # One comparison entry per (row, count), each backed by the runs it summarises.
        assert len(saved["paper_comparison"]) == len(saved["summary"])
        assert sum(e["seeds"] for e in saved["paper_comparison"]) == len(saved["runs"])
        for r in saved["runs"]:
            assert len(r["test_acc"]) == 2 and r["train_acc"][-1] == 1.0  # exact interpolation
        assert (out / figure).stat().st_size > 1000
        assert not list(out.glob(".*"))  # no temporary files left behind


def test_fig1_random_points_against_reflected_pairs(ran):
    payload = ran[1]["fig1"]
    assert [s["sweep"] for s in payload["sweeps"]] == [
        "gaussian_add7_sr0_points",
        "gaussian_add7_sr0_pairs",
    ]
    by = runs_by(payload, "move", "moved")
    assert {k: len(v) for k, v in by.items()} == {
        ("points", 0): 1,
        ("points", 2): 2,
        ("pairs", 0): 1,
        ("pairs", 2): 2,
    }
    # x+y mod 7 holds out the 7 points (a, a); a pair adds two test points, a point one.
    assert [r["n_test"] for r in by["points", 2]] == [9, 9]
    assert [r["n_test"] for r in by["pairs", 2]] == [11, 11]
    # s alone stabilises the degenerate partition (p odd); a random point breaks it, a
    # reflected pair does not.
    assert [r["stabilizer_order"] for r in by["points", 0]] == [2]
    assert [r["stabilizer_order"] for r in by["points", 2]] == [1, 1]
    assert [r["stabilizer_order"] for r in by["pairs", 2]] == [2, 2]
    paper = {
        (e["sweep"].split("_")[-1], e["moved"]): e["paper"] for e in payload["paper_comparison"]
    }
    # A quick run compares only the paper's size-independent claims.
    assert paper == {
        ("points", 0): 0.0,
        ("points", 2): None,
        ("pairs", 0): 0.0,
        ("pairs", 2): "~0%",
    }


def test_fig1_paper_rows_planned_as_the_paper_ran_them():
    """Plan (validate, no compute) the paper-sized rows: sizes, kernels, Table 1 values."""
    args = fig1.parse_args([])
    sweeps = experiment.plan(fig1.rows(False), cli.options_from_args(args))
    assert [(s.config.kernel, s.move, s.task.name) for s in sweeps] == [
        ("gaussian", "points", "x+y mod 61"),
        ("gaussian", "pairs", "x+y mod 61"),
        ("quadratic", "points", "x+y mod 61"),
        ("quadratic", "pairs", "x+y mod 61"),
    ]
    assert [s.config.solve_retries for s in sweeps] == [0, 0, 3, 3]
    assert [s.config.iterations for s in sweeps] == [60] * 4
    assert sweeps[0].counts == (0, 1, 2, 5, 10, 20, 50, 100, 200)
    assert sweeps[1].counts == (0, 1, 2, 5, 10, 20, 50)
    assert sweeps[0].paper[1][0] == 0.98 and sweeps[2].paper[200][0] == 0.91
    # The same rows at another p keep the claims but drop the numbers measured at p = 61.
    other = cli.options_from_args(fig1.parse_args(["--p", "41"]))
    assert 1 not in experiment.plan(fig1.rows(False), other)[0].paper


def test_table1_paper_rows_planned_as_the_paper_ran_them():
    """Table 1's rows: folder names, sizes, counts and the paper's values, one source."""
    sweeps = experiment.plan(table1.rows(False), cli.options_from_args(table1.parse_args([])))
    assert [(s.name, s.task.name, s.setting["held_out"], s.counts) for s in sweeps] == [
        ("gaussian_add_s", "x+y mod 61", "s", (0, 1)),
        ("quadratic_add_s", "x+y mod 61", "s", (0, 100, 200)),
        ("gaussian_mul_sr35", "x*y mod 61", "sr^35", (0, 1, 10, 20)),
        ("quadratic_mul_sr35", "x*y mod 61", "sr^35", (0, 100, 200)),
    ]
    assert [s.config.iterations for s in sweeps] == [60] * 4
    assert [s.config.solve_retries for s in sweeps] == [0, 3, 0, 3]
    paper = [{m: value for m, (value, _) in s.paper.items()} for s in sweeps]
    assert paper == [
        {0: 0.0, 1: 0.98},
        {0: 0.0, 100: 0.62, 200: 0.91},  # the table's cells; the notebook's in paper_data
        {0: 0.0, 10: 0.13, 20: 0.98},  # m = 1 is ours: the paper reports no value for it
        {0: 0.0, 100: 0.65, 200: 0.97},
    ]
    # fig1's random-move rows compare with the very same values.
    fig1_sweeps = experiment.plan(fig1.rows(False), cli.options_from_args(fig1.parse_args([])))
    assert fig1_sweeps[0].paper[1] == sweeps[0].paper[1]
    # The quick rows keep their folders and counts (only p and sr^7 scale down).
    quick = cli.options_from_args(table1.parse_args(["--quick"]))
    assert [(s.name, s.counts) for s in experiment.plan(table1.rows(True), quick)] == [
        ("gaussian_add_s", (0, 1)),
        ("quadratic_add_s", (0, 15, 30)),
        ("gaussian_mul_sr7", (0, 1, 3)),
        ("quadratic_mul_sr7", (0, 15, 30)),
    ]


def test_an_override_that_breaks_a_row_names_the_override():
    """sr^35 is no element of Z_31^* (order 30): the error names --p, which table1 has,
    not the rows' reflections, which it does not."""
    options = cli.options_from_args(table1.parse_args(["--p", "31"]))
    with pytest.raises(InvalidArgument, match="'35' is not an element of Z_31") as err:
        experiment.plan(table1.rows(False), options)
    assert err.value.argument == "p"
    # As declared, a row that does not fit its own group is the library's error.
    bad = experiment.Row("x*y", 31, "gaussian", ("35",), "points", (0, 1))
    with pytest.raises(InvalidArgument) as err:
        experiment.plan([bad], cli.options_from_args(table1.parse_args([])))
    assert err.value.argument == "reflections"


def test_dihedral_subgroups_p_is_sized():
    assert cli.sized(dihedral_subgroups.parse_args([]), "p") == 32
    assert cli.sized(dihedral_subgroups.parse_args(["--quick"]), "p") == 24
    assert cli.sized(dihedral_subgroups.parse_args(["--quick", "--p", "16"]), "p") == 16


def test_pairs_never_help_records_extremes(ran):
    payload = ran[1]["pairs_never_help"]
    (row,) = payload["sweeps"]
    assert (row["task"], row["reflections"], row["move"]) == ("x/y mod 7", ["sr^5"], "pairs")
    assert row["runs"] == 3 and row["min_train_acc"] == 1.0
    # The extremes are the runs' own, recomputed here from their curves.
    runs = [r for r in payload["runs"] if r["setting"]["sweep"] == row["sweep"]]
    assert row["max_test_acc"] == max(r["test_acc"][-1] for r in runs)
    assert row["max_test_acc_any_iteration"] == max(max(r["test_acc"]) for r in runs)
    assert row["min_train_acc"] == min(r["train_acc"][-1] for r in runs)
    by = runs_by(payload, "moved")
    # Z_7^* has order 6: 6 fixed points, and two pairs add four more.
    assert [r["n_test"] for r in by[2,]] == [10, 10]
    # Even order: the fixed points of sr^5 are kept by more than {id, sr^5}.
    assert by[0,][0]["stabilizer_order"] == 4
    assert all(r["stabilizer_order"] >= 2 for r in by[2,])


def test_fixed_points_moved_into_training(ran):
    payload = ran[1]["fixed_points"]
    by = runs_by(payload, "moved")
    assert [r["n_test"] for r in by[2,]] == [5, 5] and by[0,][0]["n_test"] == 7
    # s fixes every point it moves, so the partition keeps {id, s}.
    assert [r["stabilizer_order"] for r in payload["runs"]] == [2, 2, 2]
    assert [e["paper"] for e in payload["paper_comparison"]] == [0.0, "~0%"]


def test_other_groups_product_rows(ran):
    payload = ran[1]["other_groups"]
    assert [(s["task"], s["reflections"], s["move"]) for s in payload["sweeps"]] == [
        ("x+y on Z_2 x Z_3", ["sr^(1,2)"], "points"),
        ("x+y on Z_2 x Z_3", ["sr^(1,2)"], "pairs"),
    ]
    by = runs_by(payload, "move", "moved")
    assert [r["n_test"] for r in by["points", 1]] == [7, 7]
    assert [r["n_test"] for r in by["pairs", 1]] == [8, 8]
    # Z_2 x Z_3 is cyclic of even order 6: sr^(1,2) and r^(1,0) compose to a second
    # reflection with the same fixed points, so the degenerate partition keeps 4 elements.
    assert by["points", 0][0]["stabilizer_order"] == 4
    claims = {
        (e["sweep"].split("_")[-1], e["moved"]): e["paper"] for e in payload["paper_comparison"]
    }
    assert claims["points", 1] == "generalises" and claims["pairs", 1] == "~0%"


def test_dihedral_subgroups_stabilisers(ran):
    payload = ran[1]["dihedral_subgroups"]
    rows = {s["subgroup"]: s for s in payload["sweeps"]}
    assert set(rows) == {"<r^8, s>", "<r^2, s>"}
    assert rows["<r^8, s>"]["reflections"] == ["sr^0", "sr^8"]
    assert rows["<r^2, s>"]["reflections"] == [f"sr^{k}" for k in range(0, 16, 2)]
    assert [rows[g]["subgroup_order"] for g in ("<r^8, s>", "<r^2, s>")] == [4, 16]
    for r in payload["runs"]:
        order = r["setting"]["subgroup_order"]
        # Test = {b - a in dZ}: half the subgroup's order in reflections, 16 points each.
        assert r["n_test"] == 16 * order // 2
        # For x+y mod 16 the stabiliser of {b - a in dZ} is <r^(d/2), s>: twice the subgroup.
        assert r["stabilizer_order"] == 2 * order


def test_subgroup_reflections_closed_from_generators():
    task = tasks.make_task("x+y", p=32)
    assert symmetry.subgroup_reflections(task, []) == (["0"], 2)
    assert symmetry.subgroup_reflections(task, [16]) == (["0", "16"], 4)
    assert symmetry.subgroup_reflections(task, [8]) == (["0", "8", "16", "24"], 8)
    values, order = symmetry.subgroup_reflections(task, [4])
    assert values == [str(k) for k in range(0, 32, 4)] and order == 16
    # r^12 generates the same rotations as r^4 in Z_32 (gcd 4).
    assert symmetry.subgroup_reflections(task, [12]) == (values, order)


@pytest.mark.parametrize(
    "module,argv,argument",
    [
        (fig1, ["--p", "7", "--counts", "0", "22"], "counts"),  # 21 pairs, 42 train points
        (fig1, ["--only", "cauchy"], "only"),
        (fig1, ["--p", "0"], "p"),
        (pairs_never_help, ["--p", "12"], "p"),
        (pairs_never_help, ["--p", "5"], "p"),  # sr^5 is no element of Z_5^* (order 4)
        (fixed_points, ["--p", "7", "--counts", "8"], "counts"),  # 7 fixed points
        (fixed_points, ["--p", "5"], "p"),  # 5 fixed points, the rows move up to 15
        (other_groups, ["--group", "2", "2"], "group"),  # (1,2) not in Z_2 x Z_2
        (dihedral_subgroups, ["--p", "12"], "p"),
        (dihedral_subgroups, ["--seeds", "0"], "seeds"),
        (table1, ["--p", "12"], "p"),  # x*y needs a prime
        (table1, ["--iters", "0"], "iters"),
        (table1, ["--bandwidth", "0"], "bandwidth"),
        (table1, ["--chunk-runs", "0"], "chunk_runs"),
    ],
)
def test_bad_arguments_fail_before_compute(module, argv, argument, capsys, tmp_path):
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--quick", *argv, "--out", str(out)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {argument}: ")
    assert not out.exists()


def test_summary_tables_every_experiment(ran, tmp_path):
    root, payloads = ran
    (root / "broken").mkdir(exist_ok=True)
    (root / "broken" / "results.json").write_text("{not json")
    text = summary.main(["--results", str(root)])
    assert (root / "SUMMARY.md").read_text() == text
    assert not list(root.glob(".*"))
    # Index: the run experiments with provenance; the others "not run"; damage reported.
    assert "| table1 | not run |" in text and "| stabilizer | not run |" in text
    commit = payloads["fig1"]["environment"]["git_commit"]
    assert f"| fig1 | run | yes | {payloads['fig1']['date']} | `{commit}` |" in text
    assert "| broken | unreadable:" in text
    # One table row per comparison entry, values in percent.
    section = text.split("## fig1")[1].split("## ")[0]
    assert section.count("| gaussian x+y mod 7, s |") == 4
    assert "| gaussian x+y mod 7, s | test acc, m = 2 pairs to test | ~0% |" in section
    # One seed: no spread to report; its median and its one value beside the mean.
    assert (
        "| gaussian x+y mod 7, s | test acc, m = 0 points to test | 0% | 0.0% | 0.0% | 0.0 "
        "| 100.0% | 1 |" in section
    )
    assert "sample standard deviation" in section
    for name in RUNS:
        assert f"## {name}" in text

    with pytest.raises(SystemExit) as exit_info:
        summary.main(["--results", str(tmp_path / "missing")])
    assert exit_info.value.code == 2
