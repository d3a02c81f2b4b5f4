"""The reproduction report (experiments/paper_report.py, grokrfm.report's verdicts): the
verdict rules one by one, the report's numbers against hand-built results files, the
provenance check, and the committed paper results against their committed report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from markdown_helpers import split_row, table_body

from experiments import paper_report, summary
from grokrfm import report
from grokrfm.report import AMBIGUOUS, NOT_JUDGED, NOT_REPRODUCED, REPRODUCED, number

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


# --- the verdict rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "paper,values,expected",
    [
        # Rule 1: nothing to check.
        (None, [0.5, 0.6], NOT_JUDGED),
        ("block-circulant (by eye)", [0.9], NOT_JUDGED),
        # Rule 2: nothing measured.
        (0.98, [None, None], AMBIGUOUS),
        (0.0, [], AMBIGUOUS),
        # Rule 3: "~0%" means every seed at most 5%.
        (0.0, [0.0, 0.05], REPRODUCED),
        ("~0%", [0.0, 0.03, 0.01], REPRODUCED),
        (0.0, [0.5, 0.06], NOT_REPRODUCED),
        ("~0%", [0.0, 0.0, 0.2], AMBIGUOUS),  # one seed above 5%, even without a split
        # Rule 4: a value v accepts v ± 5 points; the median decides unless the seeds
        # split across the band.
        (0.98, [0.97, 0.99, 1.0], REPRODUCED),
        (0.98, [0.90, 0.95, 0.97], REPRODUCED),  # median 95% in [93%, 103%]
        (0.98, [0.90, 0.91, 0.99], NOT_REPRODUCED),  # median 91%
        (0.98, [0.5, 0.6, 0.55], NOT_REPRODUCED),
        (0.98, [0.0, 0.97, 0.98], AMBIGUOUS),  # 2 of 3 seeds >= 90%, one at 0%
        (0.13, [0.10, 0.16], REPRODUCED),
        (0.13, [0.30, 0.35], NOT_REPRODUCED),  # above the band
        # ... a range a-b% accepts a - 5 to b + 5 points ...
        ("62-70%", [0.58, 0.74], REPRODUCED),
        ("62-70%", [0.50, 0.55], NOT_REPRODUCED),
        ("~70-100%", [0.66, 1.0], REPRODUCED),
        ("80–91%", [0.1, 0.85, 0.9], AMBIGUOUS),
        # ... and "generalises" means at least 90%.
        ("generalises", [0.95, 1.0], REPRODUCED),
        ("generalises", [0.3, 0.5], NOT_REPRODUCED),
        ("generalises", [0.05, 0.95, 0.97], AMBIGUOUS),
        # Failed runs are left out.
        (0.98, [None, 0.97, 0.99], REPRODUCED),
    ],
)
def test_verdict_rules(paper, values, expected):
    assert report.verdict(paper, values).verdict == expected


def test_verdict_on_a_mean_alone():
    """An entry that records only a mean: the mean stands for the seeds, never split."""
    assert report.verdict(0.0, [0.03], per_seed=False).verdict == REPRODUCED
    assert report.verdict(0.0, [0.2], per_seed=False).verdict == NOT_REPRODUCED
    assert report.verdict(0.955, [0.93], per_seed=False).verdict == REPRODUCED
    got = report.verdict(0.955, [0.8], per_seed=False)
    assert got == (NOT_REPRODUCED, "mean 80.0% outside 90.5% to 100.5%")
    assert report.verdict(0.955, [None], per_seed=False).verdict == AMBIGUOUS


def test_verdict_reasons_say_why():
    assert report.verdict(0.0, [0.0, 0.0]).reason == "all 2 seeds at most 5.0%"
    assert report.verdict(0.0, [0.0]).reason == "the one seed at most 5.0%"
    assert report.verdict("~0%", [0.0, 0.2, 0.3]).reason == "2 of 3 seeds above 5.0%"
    got = report.verdict(0.98, [0.0, 0.97, 0.98, None])
    assert got.reason == (
        "seeds split across the band 93.0% to 103.0%: 2 of 3 seeds >= 90%; 1 failed run left out"
    )
    assert report.verdict("generalises", [0.3, 0.4]).reason == "median 35.0% outside at least 90.0%"
    assert report.verdict(None, [1.0]).reason == "the paper gives no value here"


def test_a_single_run_is_judged_as_one_draw_with_the_median_rule_beside():
    """Rule 5: Table 1's 98% at x*y m = 20 against seeds 88.8-100%: one draw inside the
    seeds' range, though the median (90%) is outside 93-103%."""
    seeds = [1.0, 0.888, 0.9, 0.888, 0.988]
    got = report.verdict(0.98, seeds, single_run=True)
    assert got.verdict == REPRODUCED
    assert got.reason == (
        "one draw: 98.0% within the seeds' range 88.8% to 100.0%; median rule: not reproduced"
        " (median 90.0% outside 93.0% to 103.0%)"
    )
    assert report.verdict(0.98, seeds).verdict == NOT_REPRODUCED  # the median rule alone
    # 97% against 82.3-90.0%: outside even widened by 5 points
    far = report.verdict(0.97, [0.9, 0.865, 0.823, 0.827, 0.85], single_run=True)
    assert far.verdict == NOT_REPRODUCED and far.reason.startswith("one draw: 97.0% outside")
    # the edge: 5 points beyond the extreme seed still counts, 5.1 does not
    assert report.verdict(0.95, [0.80, 0.90], single_run=True).verdict == REPRODUCED
    assert report.verdict(0.951, [0.80, 0.90], single_run=True).verdict == NOT_REPRODUCED
    # claims that are not a value (0, "generalises") keep rules 3 and 4
    assert report.verdict(0.0, [0.0, 0.2], single_run=True).verdict == AMBIGUOUS
    assert report.verdict("generalises", [0.3], single_run=True).verdict == NOT_REPRODUCED


def test_an_entry_the_paper_makes_no_claim_about_is_not_judged_and_says_why():
    entry = {
        "paper": None,
        "why": "a curve, no value",
        "measured_seeds": [0.1],
        "measured_mean": 0.1,
    }
    assert report.judge(entry) == (NOT_JUDGED, "a curve, no value")
    assert report.judge({**entry, "paper": 0.98, "single_run": True}).verdict == NOT_REPRODUCED


def test_paper_claims():
    assert report.paper_claim(0.0).kind == "zero"
    assert report.paper_claim("~0%").kind == "zero"
    assert report.paper_claim("0%").kind == "zero"
    assert report.paper_claim(0.98)[:3] == ("band", pytest.approx(0.93), pytest.approx(1.03))
    assert report.paper_claim("62-70%")[:3] == ("band", pytest.approx(0.57), pytest.approx(0.75))
    assert report.paper_claim("98%")[:3] == ("band", pytest.approx(0.93), pytest.approx(1.03))
    assert report.paper_claim("generalises")[:3] == ("band", 0.9, None)
    assert report.paper_claim("moves before the jump").kind == "words"
    assert report.paper_claim(None).kind == "none"


def test_rules_are_stated_once_with_their_levels():
    """The report's header quotes verdict()'s docstring; its numbers are the constants."""
    rules = report.verdict_rules()
    assert [r[:2] for r in rules] == ["1.", "2.", "3.", "4.", "5."]
    assert "widened by 5 points" in rules[4]
    assert f"at most {100 * report.ZERO_LEVEL:g}%" in rules[2]
    assert f"v ± {100 * report.TOLERANCE:g} percentage points" in rules[3]
    assert f"at least {100 * report.GENERALISES_LEVEL:g}%" in rules[3]
    assert f"at least {100 * report.SPLIT_GAP:g}" in rules[3]


def test_entry_values_use_seeds_only_when_they_are_the_mean():
    seeds = {"measured_mean": 0.5, "measured_seeds": [0.4, 0.6, None]}
    assert report.entry_values(seeds) == ([0.4, 0.6, None], True)
    # A correlation's mean beside the test accuracies' seeds (network_grokking's NFA).
    nfa = {"measured_mean": 0.95, "measured_seeds": [1.0, 1.0]}
    assert report.entry_values(nfa) == ([0.95], False)
    assert report.entry_values({"measured_mean": None}) == ([None], False)
    assert report.entry_values({"measured_mean": None, "measured_seeds": [None]}) == ([None], True)


def test_number_format():
    assert number(0.98361) == "98.4%"
    assert number(None) == "–"
    assert number(0.0523, "pp") == "5.2 pp"
    assert number(12.345, "s") == "12.3 s"
    assert number(7, "") == "7"
    assert number(0.000123456, "") == "0.0001235"
    with pytest.raises(ValueError):
        number(1.0, "kg")


# --- hand-built results folders ----------------------------------------------------------


def entry(setting, quantity, paper, seeds, note=""):
    """A paper_comparison entry as grokrfm.report.comparison writes it."""
    v = report.finite(seeds)
    mean, std = report.mean_std(seeds)
    return {
        "quantity": quantity,
        "setting": setting,
        "paper": paper,
        "measured_mean": mean,
        "measured_std": std,
        "measured_median": float(sorted(v)[len(v) // 2]) if len(v) % 2 else float(v.mean()),
        "measured_seeds": seeds,
        "split": report.split_text(report.seed_split(seeds)),
        "train_acc_mean": 1.0,
        "seeds": len(seeds),
        "failed_runs": len(seeds) - len(v),
        "note": note,
    }


def payload(experiment, comparison=(), commit=COMMIT, quick=False, wall=100.0, **extra):
    return {
        "experiment": experiment,
        "config": {"quick": quick},
        "environment": {"git_commit": commit},
        "date": "2026-01-02T03:04:05+00:00",
        "summary": [],
        "paper_comparison": list(comparison),
        "runs": [],
        "process_wall_s": wall,
        **extra,
    }


TABLE1 = [
    entry("gaussian x+y mod 61, s", "test acc, m = 0 points to test", 0.0, [0.0]),
    entry("gaussian x+y mod 61, s", "test acc, m = 1 points to test", 0.98, [0.984, 0.97, None]),
    entry("quadratic x+y mod 61, s", "test acc, m = 100 points to test", "62-70%", [0.3, 0.4]),
    entry("gaussian x*y mod 61, sr^35", "test acc, m = 10 points to test", 0.13, [0.0, 0.9]),
    entry("gaussian x*y mod 61, sr^35", "test acc, m = 20 points to test", None, [0.99, 0.98]),
]
FIG1 = [entry("gaussian x+y mod 61, s", "test acc, m = 5 pairs to test", "~0%", [0.0, 0.016])]
STABILIZER = {
    "config": {"quick": False, "threshold": 0.5, "high_fraction": 0.45},
    "confusion": {
        "h_trivial": {
            "all": {
                "generalises_as_predicted": 8,
                "fails_against_prediction": 2,
                "generalises_against_prediction": 0,
                "fails_as_predicted": 5,
                "total": 15,
                "prediction_accuracy": 13 / 15,
            },
            "high_fraction": {
                "generalises_as_predicted": 8,
                "fails_against_prediction": 0,
                "generalises_against_prediction": 1,
                "fails_as_predicted": 3,
                "total": 12,
                "prediction_accuracy": 11 / 12,
            },
        }
    },
    "degenerate_stabilizers": {"x*y": [{"order": 4}, {"order": 4}, {"order": 2}]},
}


def orbit_run(m0, counts, ok=True, ridge=0.0):
    both, predicted, correct = counts
    setting = {"task": "x+y mod 29", "part": "orbits", "solve": "paper", "ridge": ridge, "M0": m0}
    return {
        "setting": setting,
        "solve_ok": [ok],
        "n_both": both,
        "n_predicted": predicted,
        "n_correct_test": correct,
    }


ORBITS = [
    orbit_run("sr^0", (5, 5, 5)),
    orbit_run("sr^1", (5, 5, 5)),
    orbit_run("sr^2", (4, 5, 6)),
    orbit_run("sr^3", (0, 5, 6), ok=False),  # a failed solve: left out
    orbit_run("I", (0, 0, 9)),  # the baseline: no prediction
    orbit_run("sr^0", (5, 5, 5), ridge=1e-8),
    {"setting": {"task": "x+y mod 29", "part": "transfer", "M0": "sr^1"}, "n_both": 0},
]
DIHEDRAL = [
    {"task": "x+y mod 5", "same_elements": True, "same_action": True},
    {"task": "x*y mod 5", "same_elements": True, "same_action": True},
]


def parse_tables(text: str) -> dict[str, list[list[dict]]]:
    """``{section: [table, ...]}``, each table a list of ``{header: cell}`` rows."""
    sections: dict[str, list[list[dict]]] = {}
    name, lines = "", text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## "):
            name = line[3:]
        is_head = line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|---")
        if is_head:
            header = split_row(line)
            rows = [dict(zip(header, row, strict=True)) for row in table_body(lines, i)]
            sections.setdefault(name, []).append(rows)
    return sections


def write_folder(root: Path, payloads: dict) -> Path:
    for name, p in payloads.items():
        (root / name).mkdir(parents=True)
        (root / name / "results.json").write_text(json.dumps(p))
    return root


def expected_cells(e: dict) -> dict:
    """The report's cells of a comparison entry, recomputed from its JSON by hand."""
    seeds, mean, std = e["measured_seeds"], e["measured_mean"], e["measured_std"]
    return {
        "setting": e["setting"],
        "quantity": e["quantity"],
        "paper": number(e["paper"]) if isinstance(e["paper"], float) else (e["paper"] or "–"),
        "source": e["note"],
        "paper's setting": "–",
        "published code, own draws": "–",
        "beside": "–",
        "median": number(e["measured_median"]),
        "mean ± std": number(mean) + ("" if None in (mean, std) else f" ± {number(std, 'pp')}"),
        "per seed": ", ".join("failed" if v is None else number(v) for v in seeds),
        "seeds split": e["split"] or "–",
        "seeds": str(e["seeds"]) + (f" ({e['failed_runs']} failed)" if e["failed_runs"] else ""),
        "verdict": report.judge(e).verdict,
        "reason": report.judge(e).reason,
    }


def test_report_numbers_are_the_json_values(tmp_path, capsys):
    payloads = {
        "table1": payload("table1", TABLE1, wall=1234.5),
        "fig1": payload("fig1", FIG1, wall=10.25),
        "stabilizer": payload("stabilizer", **STABILIZER, wall=None),
        "orbit_predictions": payload("orbit_predictions", runs=ORBITS),
        "groups_summary": payload("groups_summary", dihedral=DIHEDRAL, summary=[{"a": 0.5}]),
        "headline": payload("symmetry_breaking", commit="feedface"),  # not in make paper
    }
    root = write_folder(tmp_path / "results", payloads)
    # fig1 ran over three runner sessions: two from its commit (one stopped), one earlier.
    sessions = [
        {"commit": COMMIT, "wall_s": 20.0, "outcome": "stopped"},
        {"commit": "0" * 40, "wall_s": 999.0, "outcome": "finished"},
        {"commit": COMMIT, "wall_s": 10.5, "outcome": "finished"},
    ]
    (root / "fig1" / paper_report.LEDGER).write_text(json.dumps({"sessions": sessions}))
    (root / "table1" / paper_report.LEDGER).write_text("{not json")  # ignored
    text = paper_report.main(["--results", str(root)])
    assert (root / "REPORT.md").read_text() == text
    assert not list(root.glob(".*"))  # the atomic write left no temporary file
    assert str(tmp_path) not in text  # nothing depends on where it was generated
    found, ledgers = paper_report.read_results(root), paper_report.read_ledgers(root)
    assert list(ledgers) == ["fig1"]
    assert paper_report.render(found, ledgers) == text
    tables = parse_tables(text)

    # Every comparison's cells, recomputed from the JSON, in the JSON's order.
    for name in ("table1", "fig1"):
        (rows,) = tables[name]
        assert rows == [expected_cells(e) for e in payloads[name]["paper_comparison"]]
    verdicts = [r["verdict"] for r in tables["table1"][0]]
    assert verdicts == [REPRODUCED, REPRODUCED, NOT_REPRODUCED, AMBIGUOUS, NOT_JUDGED]
    assert tables["table1"][0][1]["seeds"] == "3 (1 failed)"

    # Finding 3.1 from the confusion tables, judged by the same rules; "a non-trivial
    # stabiliser always traps" is not the paper's claim ("fails only on invariant
    # partitions"), so those rows are shown and not judged.
    claims, confusion = tables["stabilizer"]
    assert [(c["measured"], c["verdict"]) for c in claims] == [
        ("0 of 5", NOT_JUDGED),
        ("8 of 10", AMBIGUOUS),
        ("1 of 4", NOT_JUDGED),
        ("8 of 8", REPRODUCED),
    ]
    assert claims[0]["reason"].startswith("Finding 3.1 says RFM fails only on invariant")
    assert confusion[0]["predicted right"] == number(13 / 15)
    assert "- degenerate partitions of x*y: stabiliser orders 2 (1 reflections), 4 (2" in text
    # Finding 4.1 run by run, per setting; the baseline, failed solves and transfer left out.
    (claims,) = tables["orbit_predictions"]
    assert [(c["claim"], c["measured"], c["verdict"]) for c in claims] == [
        ("x+y mod 29, solve paper, ridge 0: runs with T = C exactly", "2 of 3", AMBIGUOUS),
        ("x+y mod 29, solve paper, ridge 1e-08: runs with T = C exactly", "1 of 1", REPRODUCED),
    ]
    # The computed symmetry groups, then the summary rows of a module without comparisons.
    claims, dihedral, rows = tables["groups_summary"]
    assert (claims[0]["measured"], claims[0]["verdict"]) == ("2 of 2", REPRODUCED)
    assert dihedral[1] == {"task": "x*y mod 5", "same_elements": "True", "same_action": "True"}
    assert rows == [{"a": number(0.5, "")}]

    # The index: provenance and wall time per module, the total over those present.
    index = {r["module"]: r for r in tables["Index"][0]}
    assert list(index) == list(paper_report.MODULES)
    assert index["table1"]["commit"] == f"`{COMMIT}`" and index["table1"]["quick"] == "no"
    assert index["table1"]["wall time"] == "1234.5 s" and index["stabilizer"]["wall time"] == "–"
    assert (
        index["table1"]["verdicts"] == "2 reproduced, 1 not reproduced, 1 ambiguous, 1 not judged"
    )
    assert index["emergence"]["status"] == "not run"
    total = number(1234.5 + 10.25 + 100.0 + 100.0, "s")
    assert f"Total wall time {total} over 5 of 16 modules" in text
    assert "1 present without a recorded wall time" in text
    # Compute: fig1's ledger sessions of its commit, the others' last process.
    assert index["fig1"]["compute"] == "30.5 s (2 runner sessions, 1 stopped)"
    assert index["table1"]["compute"] == "1234.5 s (last process)"
    assert index["stabilizer"]["compute"] == "–"
    assert f"Total compute {number(1234.5 + 30.5 + 100.0 + 100.0, 's')}: for each" in text
    assert "Other result folders here, not part of `make paper` (not checked): headline." in text
    assert f"**Provenance check: passed.** All 5 results present carry commit `{COMMIT}`" in text
    assert "**Verdicts:** 6 reproduced, 1 not reproduced, 3 ambiguous, 3 not judged (13" in text
    for rule in report.verdict_rules():
        assert rule in text
    capsys.readouterr()


def test_mixed_dirty_and_quick_results_are_flagged(tmp_path):
    payloads = {
        "table1": payload("table1", TABLE1),
        "fig1": payload("fig1", FIG1),
        "fixed_points": payload("fixed_points", commit="abc"),
        "other_groups": payload("other_groups", commit=COMMIT + "+dirty"),
        "emergence": payload("emergence", quick=True),
    }
    root = write_folder(tmp_path, payloads)
    (root / "stabilizer").mkdir()
    (root / "stabilizer" / "results.json").write_text("{not json")
    check = report.provenance_check({n: p for n, p in payloads.items()})
    assert not check["ok"]
    assert dict(check["offenders"]) == {
        "fixed_points": f"commit abc, not {COMMIT}",
        "other_groups": f"modified working tree (+dirty); commit {COMMIT}+dirty, not {COMMIT}",
        "emergence": "--quick run",
    }
    text = paper_report.render(paper_report.read_results(root))
    line = next(x for x in text.splitlines() if x.startswith("**Provenance check"))
    assert line.startswith("**Provenance check: FAILED.**")
    for name in ("fixed_points", "other_groups", "emergence"):
        assert f"{name} ({dict(check['offenders'])[name]})" in line
    assert "stabilizer (unreadable results.json)" in line
    assert "| stabilizer | paper | unreadable:" in text
    # One clean commit: passed; a file without a commit or quick flag is an offender.
    assert report.provenance_check({"a": payloads["table1"], "b": payloads["fig1"]})["ok"]
    bare = {"a": {"config": {}, "environment": {}}}
    assert report.provenance_check(bare)["offenders"] == [
        ("a", "no commit recorded; quick not recorded")
    ]


def test_summary_writes_the_report_beside_summary(tmp_path, capsys):
    root = write_folder(tmp_path, {"fig1": payload("fig1", FIG1)})
    summary.main(["--results", str(root)])
    assert (root / "SUMMARY.md").exists()
    assert (root / "REPORT.md").read_text() == paper_report.render(paper_report.read_results(root))
    assert "wrote" in capsys.readouterr().out


def test_bad_results_folder_names_the_flag(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        paper_report.main(["--results", str(tmp_path / "missing")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: results: ")


def test_modules_are_those_of_make_paper():
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    listed = {}
    for var in ("PAPER_EXPERIMENTS", "BEYOND_EXPERIMENTS"):
        match = re.search(rf"^{var}\s*:=\s*(.*)$", makefile, re.M)
        assert match, f"Makefile defines no {var}"
        listed[var] = tuple(match[1].split())
    assert paper_report.PAPER_MODULES == listed["PAPER_EXPERIMENTS"]
    assert paper_report.BEYOND_MODULES == listed["BEYOND_EXPERIMENTS"]


# --- the committed paper results ---------------------------------------------------------


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """A git command in ``repo`` (skips the test where git cannot run)."""
    try:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"git is unavailable: {err}")


def tracked_results(repo: Path) -> tuple[list[str], list[str]]:
    """The ``results/<name>/results.json`` files git tracks in ``repo``, and every file it
    tracks under results/ (skips outside a git checkout)."""
    proc = git(repo, "ls-files", "results")
    if proc.returncode != 0:
        pytest.skip(f"not a git checkout: {proc.stderr.strip()}")
    files = proc.stdout.split()
    return [f for f in files if re.fullmatch(r"results/[^/]+/results\.json", f)], files


def check_committed(repo: Path, found: list[str], tracked: list[str], scratch: Path) -> None:
    """Assert that the committed results files ``found`` come from one clean paper-sized
    commit, that the committed report is what the generator makes of them now, and that
    what it calls reproduced holds in the JSON by the same rules."""
    payloads = {Path(f).parent.name: json.loads((repo / f).read_text()) for f in found}
    # (a) One commit, clean, paper-sized.
    check = report.provenance_check(payloads)
    assert check["ok"], f"committed results: {check['offenders']}"
    # (b) The committed report is what the generator makes of these files now.
    assert "results/REPORT.md" in tracked, "results/REPORT.md is not committed"
    for f in found:
        folder = scratch / Path(f).parent.name
        folder.mkdir(parents=True)
        shutil.copy(repo / f, folder / "results.json")
        ledger = Path(f).with_name(paper_report.LEDGER)
        if str(ledger) in tracked:
            shutil.copy(repo / ledger, folder / paper_report.LEDGER)
    committed = (repo / "results" / "REPORT.md").read_text()
    published = {}
    index = Path("results") / paper_report.PUBLISHED / "index.json"
    if str(index) in tracked:
        published = json.loads((repo / index).read_text())
    rendered = paper_report.render(
        paper_report.read_results(scratch),
        paper_report.read_ledgers(scratch),
        published,
        paper_report.read_figures(repo / "results"),
    )
    assert rendered == committed
    # (c) What the report calls reproduced holds in the JSON by the same rules.
    reproduced_rows_hold(committed, payloads, published)


def reproduced_rows_hold(text: str, payloads: dict, published: dict | None = None) -> None:
    """Assert that every row ``text`` marks reproduced is reproduced by the verdict rules
    applied to its payload's entry (with the paper's value from grokrfm.paper_data) or
    other-shape claim, rows matched in order."""
    tables = parse_tables(text)
    for name, p in payloads.items():
        if name not in paper_report.MODULES:
            continue
        entries = paper_report.resolved_entries(name, p, published or {})
        shown = tables.get(name, [])
        if entries:
            assert len(shown[0]) == len(entries)
            for row, e in zip(shown[0], entries, strict=True):
                if row["verdict"] == REPRODUCED:
                    assert report.judge(e).verdict == REPRODUCED, (name, row)
        extra = paper_report.EXTRA_CLAIMS.get(p.get("experiment", ""))
        claims = extra(p)[0] if extra else []
        if claims:
            rows = shown[1 if entries else 0]
            for row, claim in zip(rows, claims, strict=True):
                if row["verdict"] == REPRODUCED:
                    assert claim["verdict"] == REPRODUCED, (name, row)


def test_committed_paper_results_match_their_report(tmp_path):
    found, tracked = tracked_results(ROOT)
    if not found:
        pytest.skip("no committed paper results yet")
    check_committed(ROOT, found, tracked, tmp_path)


def test_the_committed_check_fails_where_it_should(tmp_path):
    """check_committed on a scratch repository: it passes on a clean commit's results
    and their report, and fails on a stale report, a report claiming more than the JSON
    holds, and results from a modified tree."""
    repo = tmp_path / "repo"
    results_dir = write_folder(
        repo / "results",
        {"table1": payload("table1", TABLE1), "stabilizer": payload("stabilizer", **STABILIZER)},
    )
    paper_report.write(results_dir)
    assert git(repo, "init", "-q").returncode == 0
    git(repo, "add", "results")

    def check(name):
        found, tracked = tracked_results(repo)
        check_committed(repo, found, tracked, tmp_path / name)

    check("clean")
    text = (results_dir / "REPORT.md").read_text()
    # A report that says reproduced where the JSON does not.
    row = (
        "| gaussian x*y mod 61, sr^35 | test acc, m = 10 points to test | 13.0% |  | – "
        "| ambiguous |"
    )
    assert row in text
    overclaimed = text.replace(row, row.replace("ambiguous", REPRODUCED))
    (results_dir / "REPORT.md").write_text(overclaimed)
    with pytest.raises(AssertionError):
        check("overclaimed")  # (b): not what the generator writes
    payloads = {n: json.loads((results_dir / n / "results.json").read_text()) for n in ("table1",)}
    reproduced_rows_hold(text, payloads)
    with pytest.raises(AssertionError, match="m = 10 points"):
        reproduced_rows_hold(overclaimed, payloads)  # (c) on its own
    # A stale report: the JSON changed since.
    changed = payload("table1", TABLE1[:-1])
    (results_dir / "table1" / "results.json").write_text(json.dumps(changed))
    (results_dir / "REPORT.md").write_text(text)
    with pytest.raises(AssertionError):
        check("stale")
    # Results from a modified tree.
    dirty = payload("table1", TABLE1, commit=COMMIT + "+dirty")
    (results_dir / "table1" / "results.json").write_text(json.dumps(dirty))
    paper_report.write(results_dir)
    with pytest.raises(AssertionError, match=r"\+dirty"):
        check("dirty")


def test_paper_values_come_from_paper_data_with_source_setting_and_published_draws():
    """Table 1's x*y m = 20 cell: one run, its source and setting, the published code's
    own draws beside it (in seed order); the quadratic x+y cells judge the table and show
    the notebook beside; a per-m point of other_groups' curves is not judged."""
    cell = {
        **entry(
            "gaussian x*y mod 61, sr^35", "test acc, m = 20 points to test", 0.5, [1.0, 0.888, 0.9]
        ),
        "sweep": "gaussian_mul_sr35",
        "moved": 20,
    }
    case = "gaussian_mul_p61_s35_m20"

    def run(correct):
        return {"published": {"n_test": 80, "test_correct": [0, correct]}}

    published = {
        "cases": {
            f"{case}_seed1_it60": run(79),
            f"{case}_seed0_it60": run(76),
            f"{case}_seed0_it50": run(1),
            "other_seed0_it60": run(2),
        }
    }
    (got,) = paper_report.resolved_entries("table1", payload("table1", [cell]), published)
    assert (got["paper"], got["single_run"]) == (0.98, True)
    assert got["source"] == "arXiv 2604.00316, Table 1 (§3)"
    assert got["paper_setting"] == "p = 61, 60 iterations, one run per cell"
    assert got["published_finals"] == [0.95, 0.9875]
    cells = paper_report.comparison_cells(got)
    assert cells["paper"] == "98.0% (one run)" and cells["verdict"] == REPRODUCED
    assert cells["published code, own draws"] == "95.0%, 98.8%"

    quadratic = {
        **cell,
        "setting": "quadratic x+y mod 61, s",
        "sweep": "quadratic_add_s",
        "moved": 100,
        "paper": "62-70%",
    }
    (got,) = paper_report.resolved_entries("table1", payload("table1", [quadratic]), {})
    assert got["paper"] == 0.62 and got["beside"] == [[0.70, "the authors' notebook, one run"]]

    points = [
        {
            **cell,
            "setting": "gaussian x*y mod 61, sr^35",
            "sweep": "g_points",
            "moved": m,
            "paper": "generalises" if m else 0.0,
        }
        for m in (0, 5, 20)
    ]
    got = paper_report.resolved_entries("other_groups", payload("other_groups", points), {})
    assert [g["paper"] for g in got] == [0.0, None, "generalises"]  # m = 0 keeps its own
    assert report.judge(got[1]).verdict == NOT_JUDGED and "not a value at this m" in got[1]["why"]


def test_a_value_the_authors_read_at_fewer_iterations_is_read_there():
    """dihedral_subgroups runs 100 iterations; the authors' notebook runs 50: the entry is
    judged on each run's test accuracy at iteration 50."""
    curve = [0.0] * 55 + [1.0] * 45
    runs = [{"setting": {"sweep": "subgroup_r16", "moved": 0}, "test_acc": curve}]
    e = {
        **entry(
            "gaussian x+y mod 32, fixed points of <r^16, s>",
            "test acc, m = 0 points to test",
            0.0,
            [1.0],
        ),
        "sweep": "subgroup_r16",
        "moved": 0,
    }
    (got,) = paper_report.resolved_entries(
        "dihedral_subgroups", payload("dihedral_subgroups", [e], runs=runs), {}
    )
    assert got["measured_seeds"] == [0.0] and got["quantity"].endswith("(at iteration 50)")
    assert report.judge(got).verdict == REPRODUCED
    assert report.judge(e).verdict == NOT_REPRODUCED  # at iteration 100, as recorded
