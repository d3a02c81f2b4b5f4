"""Several cooperating processes (JAX's multi-controller runtime, on 127.0.0.1): the
same records as one process, run for run; each process writes only its own chunks;
a restarted pair resumes; processes that disagree about the sweep are refused."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grokrfm import distribute
from grokrfm.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["--p", "7", "--iters", "3", "--moved", "0", "1", "2", "--seeds", "2", "--chunk-runs", "2"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(out: Path, argvs: list[list[str]], timeout=240):
    """Start one `experiments.symmetry_breaking` per argv as a group on 127.0.0.1; wait
    for all; return their CompletedProcess-like (returncode, stdout, stderr) and the
    wall time of the group."""
    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("JAX_NUM_CPU_DEVICES", None)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "experiments.symmetry_breaking", *argv, "--out", str(out)]
            + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(len(argvs))]
            + ["--process-id", str(k)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k, argv in enumerate(argvs)
    ]
    outs = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        outs.append((p.returncode, stdout, stderr))
    return outs, time.perf_counter() - start


def chunk_writers(out: Path) -> list[int]:
    return sorted(json.loads(p.read_text())["process"] for p in (out / "chunks").glob("*.json"))


def test_two_processes_give_one_processs_records_and_resume(tmp_path):
    start = time.perf_counter()
    one = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.symmetry_breaking",
            *SWEEP,
            "--out",
            str(tmp_path / "one"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    one_wall = time.perf_counter() - start
    assert one.returncode == 0, one.stderr[-2000:]
    (lead, quiet), two_wall = run_processes(tmp_path / "two", [SWEEP, SWEEP])
    assert lead[0] == 0 and quiet[0] == 0, lead[2][-2000:] + quiet[2][-2000:]
    print(f"1 process {one_wall:.1f} s, 2 processes {two_wall:.1f} s")  # for the record
    runs_one = json.loads((tmp_path / "one" / "results.json").read_text())["runs"]
    runs_two = json.loads((tmp_path / "two" / "results.json").read_text())["runs"]
    assert len(runs_one) == len(runs_two) == 5
    # The same runs: settings, sizes, accuracies and solve flags exactly; the float curves
    # to round-off (the sharded compile of the AGOP sums in another order, ~1e-14).
    for a, b in zip(runs_one, runs_two, strict=True):
        exact = ("setting", "seed", "n_train", "n_test", "train_acc", "test_acc", "solve_ok")
        assert {k: a[k] for k in exact} == {k: b[k] for k in exact}
        for key in ("train_mse", "test_mse", "jitter"):
            np.testing.assert_allclose(b[key], a[key], rtol=1e-10, atol=1e-25)
        # The solve's residual is itself round-off (~1e-14): equal to that level.
        np.testing.assert_allclose(b["residual"], a["residual"], rtol=0, atol=1e-12)
    # Three chunks, dealt round the processes: 0, 1, 0; one process only writes chunk 1.
    assert chunk_writers(tmp_path / "one") == [0, 0, 0]
    assert chunk_writers(tmp_path / "two") == [0, 0, 1]
    # One voice on standard output (gloo's own connection line aside).
    assert "test acc" in lead[1] and "test acc" not in quiet[1] and "wrote" not in quiet[1]
    # Restarted, the pair loads every chunk and computes nothing.
    (lead, quiet), _ = run_processes(tmp_path / "two", [SWEEP, SWEEP])
    assert lead[0] == 0 and quiet[0] == 0, lead[2][-2000:] + quiet[2][-2000:]
    assert lead[1].count("loaded from") == 3 and "done in" not in lead[1]
    again = json.loads((tmp_path / "two" / "results.json").read_text())["runs"]
    assert again == runs_two  # the very records the pair computed, loaded


def test_processes_that_disagree_about_the_sweep_are_refused(tmp_path):
    other = [*SWEEP[:-4], "3", *SWEEP[-2:]]  # --seeds 3 in process 1
    assert other != SWEEP
    outs, _ = run_processes(tmp_path / "x", [SWEEP, other])
    for code, _, stderr in outs:
        assert code == 2
        assert "error: settings: processes [1] have another sweep than process 0" in stderr
    assert not (tmp_path / "x" / "results.json").exists()


@pytest.mark.parametrize(
    "flags, argument",
    [
        ({"coordinator": "127.0.0.1:1234"}, "num_processes"),
        ({"coordinator": "nohost", "num_processes": 2, "process_id": 0}, "coordinator"),
        ({"coordinator": "127.0.0.1:1", "num_processes": 2, "process_id": 2}, "process_id"),
        ({"coordinator": "h:1", "num_processes": 0, "process_id": 0}, "num_processes"),
    ],
)
def test_process_flags_are_checked_before_anything_starts(flags, argument):
    with pytest.raises(InvalidArgument) as err:
        distribute.initialize(**flags)
    assert err.value.argument == argument


def test_a_bad_process_flag_is_one_line_on_the_command_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.symmetry_breaking", "--p", "7"]
        + ["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: process_id:")


def test_a_launcher_environment_is_recognised():
    slurm = {"SLURM_JOB_ID": "7", "SLURM_PROCID": "1", "SLURM_STEP_NODELIST": "n[1-2]"}
    assert distribute.launched_as_cluster({**slurm, "SLURM_STEP_NUM_TASKS": "2"})
    assert not distribute.launched_as_cluster({**slurm, "SLURM_STEP_NUM_TASKS": "1"})
    assert distribute.launched_as_cluster({"TPU_WORKER_HOSTNAMES": "w0,w1"})
    assert not distribute.launched_as_cluster({"TPU_WORKER_HOSTNAMES": "w0"})
    assert distribute.launched_as_cluster({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234"})
    assert not distribute.launched_as_cluster({})
    assert distribute.initialize(environ={}) == 1  # a plain process stays one
