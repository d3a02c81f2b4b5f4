"""The prepared accelerator check (``make bench-gpu``): correctness, then GPU-scale timing.

Runs, for float64 and then float32 (each in a fresh process, since x64 is global):

1. checks: the one-hot closed-form AGOP against ``jacfwd`` for every kernel, a batch
   against single runs, on the accelerator;
2. the paper's headline as a batch of 64 runs at p = 61 (x+y, s held out, 0-63 random
   points moved, 60 iterations) in one call: wall time (compile included), runs/s and
   the accuracies;
3. one run at p = 97 (s held out, one point moved, 60 iterations).

It prints one table and writes ``results/bench_gpu/gpu_check.json``, then exits with
status 1 if a worker failed or a check is out of its tolerance (:data:`TOLERANCES`; at
paper size also: the degenerate run at 0% test, one moved point at >= 90% in float64, no
failed solve in float64). Sized to finish in under 5 minutes on one H200; ``--quick``
shrinks everything for a CPU dry run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from grokrfm import agop, kernels, partition, report, results, rfm, runtime, sweep, symmetry, tasks

if "--worker" in sys.argv:
    runtime.configure(x64=sys.argv[sys.argv.index("--worker") + 1] == "float64")
else:
    runtime.configure()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

# The largest relative errors a correct build shows, per precision: float64 is the
# reference; float32 (the accelerator path) agrees with it to single-precision round-off
# in one AGOP, and a batch agrees with single runs to round-off amplified over 8 steps.
TOLERANCES = {
    "float64": {"agop": 1e-10, "batch": 1e-8},
    "float32": {"agop": 1e-3, "batch": 5e-2},
}


def failures(row: dict, quick: bool) -> list[str]:
    """What is wrong with one worker's results (empty when every check passes)."""
    tol = TOLERANCES[row["dtype"]]
    checks = row["checks"]
    agop_err = max(v for k, v in checks.items() if k.startswith("agop"))
    out = []
    if not agop_err <= tol["agop"]:
        out.append(f"{row['dtype']}: AGOP relative error {agop_err:.2e} > {tol['agop']:.0e}")
    batch_err = checks["batch_vs_single_M_relerr"]
    if not batch_err <= tol["batch"]:
        out.append(f"{row['dtype']}: batch vs single {batch_err:.2e} > {tol['batch']:.0e}")
    if not quick and row["dtype"] == "float64":
        p61 = row["p61_batch"]
        if p61["test_acc_moved0"] != 0.0:
            out.append(f"float64: degenerate p = 61 run at {p61['test_acc_moved0']:.3f} test")
        if not p61["test_acc_moved1"] >= 0.9:
            out.append(f"float64: one moved point at {p61['test_acc_moved1']:.3f} test (< 0.9)")
        for name in ("p61_batch", "p97_single"):
            if row[name]["solve_failures"]:
                out.append(f"float64: {row[name]['solve_failures']} failed solves in {name}")
    return out


def checks() -> dict:
    key = jax.random.PRNGKey(0)
    n, N = 7, 30
    cells = jax.random.choice(key, n * n, (N,), replace=False)
    pairs = jnp.stack(jnp.divmod(cells, n), axis=1).astype(jnp.int32)
    A = jax.random.normal(jax.random.PRNGKey(1), (2 * n, 2 * n))
    M = A @ A.T / (2 * n) + 0.2 * jnp.eye(2 * n)
    alpha = jax.random.normal(jax.random.PRNGKey(2), (N, n))
    X = agop.pair_inputs(pairs, n, M.dtype)
    out = {}
    with jax.default_matmul_precision("highest"):
        for kernel in kernels.KERNELS:
            ref = agop.agop_autodiff(kernels.KERNELS[kernel].pointwise, X, alpha, M, 2.5)
            got = agop.agop_pairs(kernel, pairs, alpha, M, 2.5)
            out[f"agop_{kernel}_relerr"] = float(jnp.linalg.norm(got - ref) / jnp.linalg.norm(ref))
    task = tasks.make_task("x+y", p=13)
    sym = symmetry.symmetry_group(task)
    splits, _ = partition.moved_splits(
        partition.degenerate_split(sym, [sym.reflection(0)]), [1, 4], [0, 1]
    )
    spec = rfm.make_spec(task, partition.to_partitions(splits))
    config = rfm.RFMConfig(iterations=8)
    batch = rfm.run_batch(task, config, spec)
    worst = 0.0
    for b in range(4):
        one = rfm.run_single(task, config, jax.tree.map(lambda x, b=b: x[b], spec))
        worst = max(worst, float(jnp.linalg.norm(batch.M[b] - one.M) / jnp.linalg.norm(one.M)))
    out["batch_vs_single_M_relerr"] = worst
    return out


def timed_sweep(p: int, moved, seeds, iterations: int) -> dict:
    task = tasks.make_task("x+y", p=p)
    sym = symmetry.symmetry_group(task)
    base = partition.degenerate_split(sym, [sym.reflection(0)])
    splits, settings = partition.moved_splits(base, moved, seeds)
    start = time.perf_counter()
    result, _ = sweep.run_splits(task, rfm.RFMConfig(iterations=iterations), splits)
    jax.block_until_ready(result)
    wall = time.perf_counter() - start
    final = np.asarray(result.metrics.test_acc)[:, -1]
    counts = np.array([s["moved"] for s in settings])
    return {
        "p": p,
        "runs": len(settings),
        "iterations": iterations,
        "wall_s": wall,
        "runs_per_s": len(settings) / wall,
        "test_acc_moved0": float(final[counts == 0].mean()) if (counts == 0).any() else None,
        "test_acc_moved1": float(final[counts == 1].mean()) if (counts == 1).any() else None,
        "test_acc_moved_ge2_mean": float(final[counts >= 2].mean())
        if (counts >= 2).any()
        else None,
        "solve_failures": int((~np.asarray(result.metrics.solve_ok)).any(axis=1).sum()),
    }


def worker(dtype: str, quick: bool) -> dict:
    p61, p97, iters = (7, 11, 3) if quick else (61, 97, 60)
    batch = 4 if quick else 64
    out = {
        "dtype": dtype,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }
    out["checks"] = checks()
    # Batch of `batch`: moved 0 once, then 1..batch-1 points with seed 0.
    out["p61_batch"] = timed_sweep(p61, list(range(batch)), [0], iters)
    out["p97_single"] = timed_sweep(p97, [1], [0], iters)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="toy sizes (CPU dry run)")
    parser.add_argument("--out", default="results/bench_gpu")
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=("float64", "float32"),
        default=["float64", "float32"],
        help="which precisions to check, each in its own process (both)",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print("WORKER " + json.dumps(worker(args.worker, args.quick)), flush=True)
        return
    print(f"backend {jax.default_backend()}, devices {jax.devices()}", flush=True)
    rows, failed = [], []
    for dtype in args.dtypes:
        cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--worker", dtype]
        cmd += ["--quick"] if args.quick else []
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        line = [l for l in proc.stdout.splitlines() if l.startswith("WORKER ")]
        if proc.returncode or not line:
            print(f"{dtype}: worker failed\n{proc.stderr[-4000:]}")
            failed.append(f"{dtype}: worker failed (exit status {proc.returncode})")
            continue
        rows.append(json.loads(line[-1][len("WORKER ") :]))
        failed += failures(rows[-1], args.quick)
    table = []
    for r in rows:
        for name in ("p61_batch", "p97_single"):
            t = r[name]
            table.append(
                {
                    "dtype": r["dtype"],
                    "run": name,
                    **t,
                    "agop_check": max(v for k, v in r["checks"].items() if k.startswith("agop")),
                    "batch_check": r["checks"]["batch_vs_single_M_relerr"],
                }
            )
    if table:
        print(
            report.format_table(
                table,
                [
                    ("dtype", "dtype"),
                    ("run", "run"),
                    ("p", "p"),
                    ("runs", "runs"),
                    ("wall_s", "wall (s)"),
                    ("runs_per_s", "runs/s"),
                    ("test_acc_moved0", "test acc m=0"),
                    ("test_acc_moved1", "m=1"),
                    ("test_acc_moved_ge2_mean", "m>=2 mean"),
                    ("solve_failures", "solve fails"),
                    ("agop_check", "AGOP relerr"),
                    ("batch_check", "batch relerr"),
                ],
            )
        )
    path = results.write_json(
        f"{args.out}/gpu_check.json",
        {"environment": results.environment(), "runs": rows, "failures": failed},
    )
    print(f"wrote {path}")
    if failed:
        print("FAILED:\n  " + "\n  ".join(failed))
        raise SystemExit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
