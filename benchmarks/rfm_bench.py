"""RFM iteration cost relative to its floor, the exact solve of the training kernel.

For each modulus and split, in one process and after warm-up, this times

* one RFM iteration (kernel, Cholesky solve, predictions, AGOP, eigh update), and
* a bare float64 Cholesky solve (``cho_factor`` + ``cho_solve``) of a training kernel of
  the same size with the same number of right-hand sides,

and reports their ratio (medians over repeats). Ratios are what to compare across
machines and runs; absolute times on a shared 2-core machine are noisy.

    python -m benchmarks.rfm_bench                 # p = 31, 41, 61
    python -m benchmarks.rfm_bench --p 31 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

from grokrfm import runtime

runtime.configure()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.scipy.linalg as jsl  # noqa: E402

from grokrfm import partition, results, rfm, sweep, symmetry, tasks  # noqa: E402


def median_time(fn, *args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bare_cholesky_time(n_train: int, n_classes: int, repeats: int) -> float:
    key = jax.random.PRNGKey(0)
    X = jax.random.normal(key, (n_train, 8))
    A = jnp.exp(-jnp.sum((X[:, None] - X[None]) ** 2, -1) / 16) + 1e-3 * jnp.eye(n_train)
    Y = jnp.ones((n_train, n_classes))
    solve = jax.jit(lambda A, Y: jsl.cho_solve(jsl.cho_factor(A), Y))
    return median_time(solve, A, Y, repeats=repeats)


def splits_for(task: tasks.Task, kind: str):
    if kind == "degenerate":
        sym = symmetry.symmetry_group(task)
        return partition.degenerate_split(sym, [sym.reflection(0)])
    n_train = partition.train_count(task.n_points, 0.5)
    return partition.random_split(jax.random.PRNGKey(0), task.n_points, n_train)


def iteration_ratio(p: int, kind: str, repeats: int, warm_iterations: int = 3) -> dict:
    task = tasks.make_task("x+y", p=p)
    split = splits_for(task, kind)
    part = partition.to_partition(split, *partition.capacities(split))
    spec = rfm.make_spec(task, part)
    # Time an iteration at a learned M (after a few updates), not only at M = I.
    warm = jax.jit(rfm.make_rfm(task, rfm.RFMConfig(iterations=warm_iterations)))(spec)
    spec = spec._replace(M0=warm.M)
    one = jax.jit(rfm.make_rfm(task, rfm.RFMConfig(iterations=1)))
    t_iter = median_time(one, spec, repeats=repeats)
    n_train = int(part.train_valid.sum())
    t_chol = bare_cholesky_time(n_train, task.n, repeats)
    return {
        "p": p,
        "split": kind,
        "n_train": n_train,
        "iteration_s": t_iter,
        "cholesky_s": t_chol,
        "ratio": t_iter / t_chol,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rfm_bench", description=__doc__)
    parser.add_argument("--p", type=int, nargs="+", default=[31, 41, 61])
    parser.add_argument("--splits", nargs="+", default=["degenerate", "random50"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="results/bench")
    args = parser.parse_args(argv)

    rows = [iteration_ratio(p, kind, args.repeats) for p in args.p for kind in args.splits]
    print("Gaussian RFM, x+y, float64: one iteration vs a bare Cholesky solve of its kernel")
    print(
        sweep.format_table(
            rows,
            [
                ("p", "p"),
                ("split", "split"),
                ("n_train", "n_train"),
                ("iteration_s", "iteration (s)"),
                ("cholesky_s", "cholesky (s)"),
                ("ratio", "ratio"),
            ],
        )
    )
    payload = {"environment": results.environment(), "iteration_vs_cholesky": rows}
    path = results.write_json(f"{args.out}/bench.json", payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
