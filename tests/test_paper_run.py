"""tools/paper_run.py: which commit a paper-sized rerun runs from, which modules count as
done, and what it refuses (seconds; nothing is computed)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("paper_run", ROOT / "tools" / "paper_run.py")
paper_run = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(paper_run)

A, B = "a" * 40, "b" * 40


def write(results: Path, name: str, commit: str | None, quick=False, wall=12.5) -> None:
    folder = results / name
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"environment": {"git_commit": commit}, "config": {"quick": quick}}
    if wall is not None:
        payload["process_wall_s"] = wall
    (folder / "results.json").write_text(json.dumps(payload))


def test_a_module_is_done_only_with_a_whole_paper_sized_result_of_the_commit(tmp_path):
    write(tmp_path, "table1", A)
    write(tmp_path, "fig1", A, quick=True)
    write(tmp_path, "fixed_points", B)
    write(tmp_path, "stabilizer", A, wall=None)
    (tmp_path / "other_groups").mkdir()
    (tmp_path / "other_groups" / "results.json").write_text("{not json")
    assert paper_run.done(tmp_path, "table1", A)
    for name in ("fig1", "fixed_points", "stabilizer", "other_groups", "emergence"):
        assert not paper_run.done(tmp_path, name, A), name


def test_the_commit_is_the_one_the_results_record(tmp_path):
    modules = ["table1", "fig1"]
    write(tmp_path, "table1", A)
    assert paper_run.pinned_commit(tmp_path, modules, None) == A
    write(tmp_path, "fig1", B)
    with pytest.raises(SystemExit, match="several commits"):
        paper_run.pinned_commit(tmp_path, modules, None)
    write(tmp_path, "fig1", A + "+dirty")
    write(tmp_path, "table1", A + "+dirty")
    with pytest.raises(SystemExit, match="modified tree"):
        paper_run.pinned_commit(tmp_path, modules, None)


def test_without_results_the_commit_is_head_or_the_one_asked_for(tmp_path):
    head = paper_run.git("rev-parse", "HEAD")
    assert paper_run.pinned_commit(tmp_path, ["table1"], None) == head
    assert paper_run.pinned_commit(tmp_path, ["table1"], "HEAD") == head
    with pytest.raises(subprocess.CalledProcessError):
        paper_run.pinned_commit(tmp_path, ["table1"], "no-such-revision")


def test_only_a_modules_top_level_results_and_figures_are_committed(tmp_path):
    folder = tmp_path / "table1"
    (folder / "gaussian_add_s" / "chunks").mkdir(parents=True)
    for name in ("results.json", "table1.png", "runs.npz", "notes.txt"):
        (folder / name).write_text("x")
    (folder / "gaussian_add_s" / "chunks" / "0123.json").write_text("{}")
    assert [p.name for p in paper_run.files_to_commit(folder)] == ["results.json", "table1.png"]


def test_dry_run_says_what_is_left_and_bad_modules_are_refused(tmp_path):
    write(tmp_path, "table1", A)
    tool = [sys.executable, str(ROOT / "tools" / "paper_run.py")]
    out = subprocess.run(
        [*tool, "table1", "fig1", "--results", str(tmp_path), "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"paper run from {A[:12]}: 1 of 2 modules done, to run: fig1" in out
    bad = subprocess.run(
        [*tool, "tabel1", "--results", str(tmp_path), "--dry-run"], capture_output=True, text=True
    )
    assert bad.returncode != 0
    assert bad.stderr.strip() == "error: argument modules: no experiment module 'tabel1'"
