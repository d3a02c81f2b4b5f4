"""Emergence with data for RFM (PAPER.md section 6): Gaussian RFM on x+y mod 97 for 30
iterations at a sweep of training fractions; final test accuracy, test loss and AGOP
alignment against the fraction (the predecessor paper: the jump is near 25%).

    python -m experiments.emergence            # x+y mod 97, 30 iterations, 9 fractions, 1 seed
    python -m experiments.emergence --quick    # x+y mod 23, 15 iterations, 3 fractions, 1 seed

Each fraction is its own batched call over the seeds (a batch pads every run to its
largest training set, so mixing fractions would solve every run at the largest size);
it keeps every run's full M history for the alignment curve. AGOP
alignment against the fraction is the cosine of the final M with a reference M: the
final M of the same seed at the largest fraction swept (a run that generalises), so it
reads 1 at the right end. The within-run alignment of PAPER.md section 6, cos(M_t,
M_T), is recorded per run as well (``alignment_curve``). Writes ``OUT/results.json``
and ``OUT/emergence.png``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import cli, partition, report, results, rfm, sweep, tasks
from grokrfm.analysis import structure
from grokrfm.errors import InvalidArgument

FRACTIONS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
QUICK_FRACTIONS = (0.2, 0.4, 0.6)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.emergence", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (about a minute)")
    parser.add_argument("--op", default="x+y", help="operation (x+y)")
    parser.add_argument("--p", type=int, default=None, help="modulus (97; quick 23)")
    parser.add_argument(
        "--fractions", type=float, nargs="+", default=None, help="training fractions"
    )
    parser.add_argument("--iters", type=int, default=None, help="RFM iterations (30; quick 15)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per fraction (1)")
    parser.add_argument("--bandwidth", type=float, default=2.5, help="Gaussian L (2.5)")
    parser.add_argument("--memory-budget", type=float, default=None, metavar="GIB")
    parser.add_argument("--out", default="results/emergence", help="output folder")
    return parser.parse_args(argv)


def cosine(a, b) -> float:
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    p = args.p or (23 if args.quick else 97)
    iters = args.iters or (15 if args.quick else 30)
    fractions = sorted(args.fractions or (QUICK_FRACTIONS if args.quick else FRACTIONS))
    seeds = cli.check_seeds(args.seeds)
    task = tasks.make_task(args.op, p=p)
    rfm.check_scalars(bandwidth=args.bandwidth)
    config = rfm.RFMConfig("gaussian", iters, save_every=1).validate()
    for r in fractions:
        partition.train_count(task.n_points, r)
    if len(set(fractions)) != len(fractions):
        raise InvalidArgument("fractions", f"repeated fractions in {fractions}")
    budget = cli.memory_budget_from_args(args)

    records, finals = [], {}
    for r in fractions:
        splits = partition.fraction_splits(task.n_points, r, seeds)
        settings = [{"fraction": r, "seed": s} for s in seeds]
        print(f"{task.name}, {r:.0%} train ({partition.train_count(task.n_points, r)} points)")
        start = time.perf_counter()
        # Full M histories are needed for the alignment curve, so this calls the engine
        # directly (run_chunked's records keep only the metric curves).
        result, parts = sweep.run_splits(
            task, config, splits, bandwidth=args.bandwidth, memory_budget=budget
        )
        jax.block_until_ready(result)  # dispatch is asynchronous; time the compute
        wall = time.perf_counter() - start
        batch = sweep.run_records(settings, result, parts)
        curves = np.asarray(structure.agop_alignment(jnp.asarray(result.M_history)))
        for b, record in enumerate(batch):
            record["alignment_curve"] = curves[b].tolist()
            record["wall_s"] = wall / len(seeds)
            finals[(r, record["seed"])] = np.asarray(result.M[b])
        records.extend(batch)
        print(
            f"  test acc {np.mean([x['test_acc'][-1] for x in batch]):.3f}, "
            f"{wall:.1f} s for {len(seeds)} run(s)"
        )
    reference = fractions[-1]
    for record in records:
        f, s = record["setting"]["fraction"], record["seed"]
        record["alignment"] = cosine(finals[(f, s)], finals[(reference, s)])

    rows = []
    for r in fractions:
        runs = [x for x in records if x["setting"]["fraction"] == r]

        def stat(values):
            values = np.asarray(values, float)
            return float(values.mean()), float(values.std())

        acc = stat([x["test_acc"][-1] for x in runs])
        mse = stat([x["test_mse"][-1] for x in runs])
        align = stat([x["alignment"] for x in runs])
        rows.append(
            {
                "fraction": r,
                "n_train": runs[0]["n_train"],
                "seeds": len(runs),
                "train_acc_mean": float(np.mean([x["train_acc"][-1] for x in runs])),
                "test_acc_mean": acc[0],
                "test_acc_std": acc[1],
                "test_mse_mean": mse[0],
                "test_mse_std": mse[1],
                "alignment_mean": align[0],
                "alignment_std": align[1],
                "wall_s": float(sum(x["wall_s"] for x in runs)),
            }
        )
    print(
        report.format_table(
            rows,
            [
                ("fraction", "fraction"),
                ("n_train", "n_train"),
                ("train_acc_mean", "train"),
                ("test_acc_mean", "test"),
                ("test_acc_std", "± std"),
                ("test_mse_mean", "test MSE"),
                ("alignment_mean", "alignment"),
                ("wall_s", "wall s"),
            ],
        )
    )
    jump = next((row["fraction"] for row in rows if row["test_acc_mean"] >= 0.9), None)
    print(f"smallest fraction with test accuracy >= 90%: {jump}")
    comparison = [
        {
            "quantity": "smallest training fraction with test acc >= 90% (shown as %)",
            "setting": f"gaussian {task.name}, {iters} iterations",
            "paper": 0.25 if (p == 97 and iters == 30 and args.op == "x+y") else None,
            "measured_mean": jump,
            "measured_std": 0.0,
            "train_acc_mean": None,
            "seeds": len(seeds),
            "note": "PAPER.md 6: the jump is near 25% train",
        }
    ]
    run_config = {
        "quick": bool(args.quick),
        "task": task.name,
        "kernel": "gaussian",
        "bandwidth": args.bandwidth,
        "iterations": iters,
        "fractions": fractions,
        "seeds": seeds,
        "alignment_reference_fraction": reference,
    }
    payload = results.write_results(
        args.out, "emergence", run_config, rows, records, comparison, jump_fraction=jump
    )
    from grokrfm import plotting

    plotting.emergence_curves(
        rows, f"{args.out}/emergence.png", title=f"Gaussian RFM, {task.name}, {iters} iterations"
    )
    print(f"wrote {args.out}/results.json and {args.out}/emergence.png")
    return payload


if __name__ == "__main__":
    main()
