"""Run the paper's experiments at paper size from one commit, resuming where a run stopped.

Usage: ``python tools/paper_run.py MODULE [MODULE ...] [--results DIR] [--commit REV]
[--git-commit] [--dry-run]`` (``make paper`` calls it with every experiment module).

Every number of a paper-sized rerun must come from one version of the code, even when
the rerun takes several sessions on several machines. So the modules run from a
detached git worktree of one commit (``build/paper-<commit>``), never from the working
tree, and a module's finished ``DIR/<module>/results.json`` is reused only when it
records exactly that commit (clean, not ``--quick``) and its wall time. Which commit:

* ``--commit REV`` if given;
* else the commit the results already in ``DIR`` record (they must agree: a mixture is
  refused, naming the files);
* else ``HEAD``.

A module that fails stops the run (its ``results.json`` is only ever written whole, by
the module itself, so a failed module leaves none and is never counted). Interrupted
modules resume from their chunks. One run at a time: a run holds a lock on ``DIR`` (also
held by the module it is running, so a module orphaned by a killed runner still holds
it), and a second run on the same ``DIR`` is refused. Stopping the runner (Ctrl-C,
``kill``) stops the module it is running; the module's finished chunks stay. After each
module the report is regenerated from every results file by the *current* code
(``python -m experiments.summary``; it reads results, it computes none). With
``--git-commit`` each finished module's results file, figures and the report are
committed at once (only those paths), so that a new machine resumes from the repository
alone.

A module's ``results.json`` records the wall time of its last process only; a module
resumed across sessions was computed over several. So the runner keeps a ledger,
``DIR/<module>/compute.json``: one entry per session that ran the module (commit, host,
start, wall seconds, and whether it finished, failed or was stopped), written when that
session's process ends and committed with the results; the report sums it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str, cwd: Path = ROOT) -> str:
    """The output of a git command in ``cwd`` (raises CalledProcessError on failure)."""
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def recorded(path: Path) -> dict | None:
    """What a module's results file says about its provenance, or None if it has none
    usable: ``{"commit", "quick", "wall_s"}``."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    return {
        "commit": (payload.get("environment") or {}).get("git_commit"),
        "quick": (payload.get("config") or {}).get("quick"),
        "wall_s": payload.get("process_wall_s"),
    }


def pinned_commit(results: Path, modules: list[str], requested: str | None) -> str:
    """The commit every module runs from (see the module docstring).

    Raises:
      SystemExit: a one-line error when the results present disagree or are dirty.
    """
    if requested:
        return git("rev-parse", "--verify", f"{requested}^{{commit}}")
    seen: dict[str, list[str]] = {}
    for name in modules:
        info = recorded(results / name / "results.json")
        if info is not None and info["commit"]:
            seen.setdefault(info["commit"], []).append(name)
    if len(seen) > 1:
        listing = "; ".join(f"{c[:12]}: {', '.join(names)}" for c, names in seen.items())
        sys.exit(f"error: --results holds results of several commits ({listing}); give --commit")
    if seen:
        commit = next(iter(seen))
        if commit.endswith("+dirty"):
            sys.exit(f"error: --results holds results of a modified tree ({commit}); give --commit")
        return commit
    return git("rev-parse", "HEAD")


def done(results: Path, name: str, commit: str) -> bool:
    """Whether ``name`` has a finished paper-sized results file from ``commit``."""
    info = recorded(results / name / "results.json")
    return (
        info is not None
        and info["commit"] == commit
        and info["quick"] is False
        and isinstance(info["wall_s"], (int, float))
    )


def worktree(commit: str) -> Path:
    """A detached worktree of ``commit`` under ``build/`` (made once, then reused)."""
    tree = ROOT / "build" / f"paper-{commit[:12]}"
    if not (tree / ".git").exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "prune")
        git("worktree", "add", "--detach", str(tree), commit)
    head = git("rev-parse", "HEAD", cwd=tree)
    if head != commit:
        sys.exit(f"error: {tree} is at {head[:12]}, not {commit[:12]}; remove it and rerun")
    return tree


def files_to_commit(folder: Path) -> list[Path]:
    """A module's committed outputs: the files at its folder's top (results.json and
    figures), never the chunk folders below it."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".json", ".png"))


def commit_results(results: Path, name: str, commit: str, wall_s: float) -> None:
    """Commit ``name``'s outputs and the report, and nothing else."""
    paths = [*files_to_commit(results / name)]
    paths += [p for p in (results / "REPORT.md", results / "SUMMARY.md") if p.exists()]
    rel = [str(p.relative_to(ROOT)) for p in paths]
    message = f"results: {name} at paper size from {commit[:7]} ({wall_s:.0f} s)"
    for attempt in range(10):  # another git command may hold the index for a moment
        try:
            git("add", "--force", "--", *rel)
            git("commit", "--quiet", "-m", message, "--", *rel)
            break
        except subprocess.CalledProcessError as err:
            if attempt == 9:
                sys.exit(f"error: could not commit {name}'s results: {err.stderr.strip()}")
            time.sleep(3)
    print(f"committed {', '.join(rel)}")


LEDGER_NAME = "compute.json"


def record_session(folder: Path, commit: str, started: float, wall_s: float, outcome: str):
    """Append one session to ``folder``'s compute ledger (written atomically); an
    unreadable ledger is kept aside as ``compute.json.bad`` (``.bad1``, ... if taken),
    never overwritten."""
    path = folder / LEDGER_NAME
    ledger = {"sessions": []}
    if path.exists():
        try:
            ledger = json.loads(path.read_text())
        except ValueError:
            ledger = None
        if not (isinstance(ledger, dict) and isinstance(ledger.get("sessions"), list)):
            aside = path.with_name(LEDGER_NAME + ".bad")
            for k in range(1, 1000):
                if not aside.exists():
                    break
                aside = path.with_name(f"{LEDGER_NAME}.bad{k}")
            os.replace(path, aside)
            ledger = {"sessions": []}
    ledger["sessions"].append(
        {
            "commit": commit,
            "host": platform.node(),
            "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "wall_s": round(wall_s, 3),
            "outcome": outcome,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{LEDGER_NAME}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(ledger, indent=1) + "\n")
    os.replace(tmp, path)


LOCK_NAME = ".paper_run.lock"


@contextlib.contextmanager
def lock(results: Path):
    """Hold ``results``' run lock (an exclusive ``flock``); yield its file descriptor.

    The descriptor is passed on to each module (``run_module``), so the lock lasts
    while any process of the run lives. Another holder: a one-line error naming
    ``results``, before anything runs.
    """
    results.mkdir(parents=True, exist_ok=True)
    fd = os.open(results / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            sys.exit(
                f"error: results: another paper run (pid {holder}) is using {results}; "
                "stop it first"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield fd
    finally:
        os.close(fd)


def run_module(cmd: list[str], cwd: Path, env: dict, keep_fd: int | None = None) -> int:
    """Run one module to its end and return its exit status; if the runner is stopped
    (SIGINT, SIGTERM) meanwhile, stop the module too, so no orphan keeps writing."""
    child = subprocess.Popen(cmd, cwd=cwd, env=env, pass_fds=() if keep_fd is None else (keep_fd,))
    try:
        return child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that ``run_module``'s cleanup runs."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python tools/paper_run.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("modules", nargs="+", help="experiment modules, in order")
    parser.add_argument("--results", default="results", help="folder of result folders")
    parser.add_argument("--commit", default=None, help="the commit to run (default: see above)")
    parser.add_argument(
        "--git-commit", action="store_true", help="commit each module's results as it finishes"
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would run, run nothing")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        git("rev-parse", "--verify", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        sys.exit(
            "error: make paper runs from one git commit and needs a git clone with one; "
            "without it run each module directly: python -m experiments.<name>"
        )
    results = (ROOT / args.results).resolve()
    for name in args.modules:
        if not (ROOT / "experiments" / f"{name}.py").is_file():
            sys.exit(f"error: argument modules: no experiment module {name!r}")
    if args.dry_run:
        plan(results, args)
        return 0
    stop_on_sigterm()
    with lock(results) as fd:
        return run(results, args, fd)


def plan(results: Path, args: argparse.Namespace) -> tuple[str, list[str]]:
    """The pinned commit and the modules left to run (printed)."""
    commit = pinned_commit(results, args.modules, args.commit)
    todo = [m for m in args.modules if not done(results, m, commit)]
    print(
        f"paper run from {commit[:12]}: {len(args.modules) - len(todo)} of "
        f"{len(args.modules)} modules done, to run: {', '.join(todo) or 'none'}"
    )
    return commit, todo


def run(results: Path, args: argparse.Namespace, lock_fd: int) -> int:
    """Run every module left, in order, committing each as it finishes if asked."""
    commit, todo = plan(results, args)
    tree = worktree(commit) if todo else None
    env = dict(os.environ, PYTHONPATH=str(tree))
    for name in todo:
        out = results / name
        print(f"--- {name} -> {out}", flush=True)
        start, started = time.perf_counter(), time.time()
        status, outcome = None, "stopped"
        try:
            status = run_module(
                [sys.executable, "-m", f"experiments.{name}", "--out", str(out)],
                tree,
                env,
                lock_fd,
            )
            outcome = "finished" if status == 0 else f"failed (exit {status})"
        finally:
            record_session(out, commit, started, time.perf_counter() - start, outcome)
        if status != 0:
            sys.exit(f"error: experiments.{name} failed (exit {status}); nothing counted")
        if not done(results, name, commit):
            sys.exit(f"error: experiments.{name} wrote no paper-sized results from {commit[:12]}")
        wall = recorded(out / "results.json")["wall_s"]
        print(f"{name}: {wall:.0f} s ({time.perf_counter() - start:.0f} s with start-up)")
        report(results)
        if args.git_commit:
            commit_results(results, name, commit, wall)
    report(results)
    return 0


def report(results: Path) -> None:
    """Regenerate the report from every results file, with the current code."""
    subprocess.run(
        [sys.executable, "-m", "experiments.summary", "--results", str(results)],
        cwd=ROOT,
        check=True,
    )


if __name__ == "__main__":
    sys.exit(main())
