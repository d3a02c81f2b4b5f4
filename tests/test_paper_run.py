"""tools/paper_run.py: which commit a paper-sized rerun runs from, which modules count as
done, and what it refuses (seconds; nothing is computed)."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
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


def test_a_second_run_on_the_same_results_is_refused_before_anything_runs(tmp_path):
    tool = [sys.executable, str(ROOT / "tools" / "paper_run.py"), "table1"]
    with paper_run.lock(tmp_path):
        second = subprocess.run(
            [*tool, "--results", str(tmp_path)], capture_output=True, text=True, timeout=60
        )
    assert second.returncode != 0
    assert second.stderr.strip() == (
        f"error: results: another paper run (pid {os.getpid()}) is using {tmp_path}; stop it first"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [paper_run.LOCK_NAME]
    with paper_run.lock(tmp_path):  # released on exit, so the next run may take it
        pass


def start_runner(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """A runner holding ``tmp_path``'s lock and running a module that sleeps; the
    runner's process and the module's pid."""
    pid_file = tmp_path / "module.pid"
    module = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    )
    tool = str(ROOT / "tools" / "paper_run.py")
    runner = (
        "import importlib.util, pathlib, sys\n"
        f"spec = importlib.util.spec_from_file_location('pr', {tool!r})\n"
        "pr = importlib.util.module_from_spec(spec); spec.loader.exec_module(pr)\n"
        "pr.stop_on_sigterm()\n"
        f"with pr.lock(pathlib.Path({str(tmp_path)!r})) as fd:\n"
        f"    pr.run_module([sys.executable, '-c', {module!r}], '.', None, fd)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", runner])
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    return proc, int(pid_file.read_text())


def assert_locked(results: Path) -> None:
    with pytest.raises(SystemExit, match="another paper run"):
        with paper_run.lock(results):
            pass


def test_stopping_the_runner_stops_its_module(tmp_path):
    """SIGTERM to the runner while a module runs: the module is stopped and reaped, not
    orphaned, and the lock is free again."""
    proc, child = start_runner(tmp_path)
    assert_locked(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    with paper_run.lock(tmp_path):
        pass


def test_a_module_orphaned_by_a_killed_runner_keeps_the_lock(tmp_path):
    """SIGKILL leaves the runner no cleanup; the module it ran inherited the lock, so no
    second run writes the same chunks beside it until it ends."""
    proc, child = start_runner(tmp_path)
    proc.kill()
    proc.wait(timeout=60)
    os.kill(child, 0)  # still running
    assert_locked(tmp_path)
    os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:  # the orphan is reaped by init, not by us
        try:
            with paper_run.lock(tmp_path):
                break
        except SystemExit:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_the_compute_ledger_keeps_every_session_and_no_damaged_file_is_lost(tmp_path):
    folder = tmp_path / "fig1"
    paper_run.record_session(folder, A, 0.0, 12.5, "stopped")
    paper_run.record_session(folder, A, 60.0, 30.25, "finished")
    sessions = json.loads((folder / paper_run.LEDGER_NAME).read_text())["sessions"]
    assert [(s["commit"], s["wall_s"], s["outcome"]) for s in sessions] == [
        (A, 12.5, "stopped"),
        (A, 30.25, "finished"),
    ]
    assert sessions[1]["started"] == "1970-01-01T00:01:00+00:00"
    # The report reads the ledger under the same name (the runner imports no grokrfm).
    from experiments import paper_report

    assert paper_report.LEDGER == paper_run.LEDGER_NAME
    (folder / paper_run.LEDGER_NAME).write_text("{cut short")
    paper_run.record_session(folder, B, 0.0, 1.0, "failed (exit 1)")
    assert (folder / (paper_run.LEDGER_NAME + ".bad")).read_text() == "{cut short"
    sessions = json.loads((folder / paper_run.LEDGER_NAME).read_text())["sessions"]
    assert [s["commit"] for s in sessions] == [B]
    (folder / paper_run.LEDGER_NAME).write_text('{"sessions": 3}')  # parses, but malformed
    paper_run.record_session(folder, B, 0.0, 2.0, "finished")
    assert (folder / (paper_run.LEDGER_NAME + ".bad1")).read_text() == '{"sessions": 3}'
    (folder / (paper_run.LEDGER_NAME + ".bad1")).unlink()
    assert sorted(p.name for p in folder.iterdir()) == ["compute.json", "compute.json.bad"]
    # Committed with the module's results (a top-level .json), the damaged copy not.
    (folder / "results.json").write_text("{}")
    assert [p.name for p in paper_run.files_to_commit(folder)] == ["compute.json", "results.json"]
