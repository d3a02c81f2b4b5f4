"""Emergence with data for RFM (arXiv 2407.20199, §6; docs/science.md P3): Gaussian RFM on x+y mod
97 for 30 iterations at a sweep of training fractions; final test accuracy, test loss and AGOP
alignment against the fraction (the predecessor paper: the jump is near 25%).

    python -m experiments.emergence            # x+y mod 97, 30 iterations, 9 fractions, 1 seed
    python -m experiments.emergence --quick    # x+y mod 23, 15 iterations, 3 fractions, 1 seed

Each fraction is its own batched call over the seeds (a batch pads every run to its largest training
set, so mixing fractions would solve every run at the largest size); it keeps every run's full M
history for the alignment curve. AGOP alignment against the fraction is the cosine of the final M
with a reference M: the final M of the same seed at the largest fraction swept (a run that
generalises), so it reads 1 at the right end. The within-run alignment of docs/science.md P1 (arXiv
2407.20199, §3), cos(M_t, M_T), is recorded per run as well (``alignment_curve``). Writes
``OUT/results.json`` and ``OUT/emergence.png``.
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import cli, families, paper_data, partition, report, results, rfm, sweep, tasks
from grokrfm.analysis import curves, structure

FRACTIONS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
QUICK_FRACTIONS = (0.2, 0.4, 0.6)
THRESHOLD = 0.9  # the jump: the smallest fraction whose mean test accuracy reaches this
# The predecessor paper's jump (arXiv 2407.20199; docs/science.md §6), at its own sizes only.
PAPER_JUMP = paper_data.EMERGENCE_JUMP

COLUMNS = [
    ("fraction", "fraction"),
    ("n_train", "n_train"),
    ("train_acc_mean", "train"),
    ("test_acc_mean", "test"),
    ("test_acc_std", "± std"),
    ("test_mse_mean", "test MSE"),
    ("alignment_mean", "alignment"),
    ("wall_s", "wall s"),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.emergence", description=__doc__.split("\n\n")[0]
    )
    cli.add_common_arguments(
        parser,
        out="results/emergence",
        seeds=cli.Sized(1, 1),
        iterations=cli.Sized(30, 15),
        seeds_help="seeds per fraction",
        chunks=False,
    )
    parser.add_argument("--op", default="x+y", help=f"operation, one of {tasks.OPERATIONS} (x+y)")
    cli.add_sized(parser, "--p", cli.Sized(97, 23), "modulus", type=int)
    cli.add_sized(
        parser,
        "--fractions",
        cli.Sized(FRACTIONS, QUICK_FRACTIONS),
        "training fractions",
        type=float,
        nargs="+",
    )
    return parser.parse_args(argv)


class EmergenceOptions(NamedTuple):
    """The resolved, validated command line (:func:`options_from_args`)."""

    task: tasks.Task
    config: rfm.RFMConfig
    fractions: tuple[float, ...]
    seeds: list[int]
    bandwidth: float
    memory_budget: int | None


def options_from_args(args: argparse.Namespace) -> EmergenceOptions:
    """Every flag resolved and validated, before any compute.

    Raises:
      InvalidArgument: naming ``op``, ``p``, ``iters``, ``fractions``, ``seeds``,
        ``bandwidth`` or ``memory_budget``.
    """
    task = tasks.make_task(args.op, p=cli.sized(args, "p"))
    config = rfm.RFMConfig("gaussian", cli.sized(args, "iters"), save_every=1).validate()
    rfm.check_scalars(bandwidth=args.bandwidth)
    return EmergenceOptions(
        task=task,
        config=config,
        fractions=families.check_fractions(cli.sized(args, "fractions"), [task.n_points]),
        seeds=cli.check_seeds(cli.sized(args, "seeds")),
        bandwidth=args.bandwidth,
        memory_budget=cli.memory_budget_from_args(args),
    )


def cosine(a, b) -> float:
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def run_fraction(fraction: float, options: EmergenceOptions) -> tuple[list[dict], np.ndarray]:
    """Every seed at one training fraction in one batched call.

    Returns:
      ``(records, M)``: one record per seed, with its within-run ``alignment_curve``, and
      the final feature matrices ``(seeds, 2n, 2n)``.
    """
    task = options.task
    batch = families.fraction_batch(task.n_points, [fraction], options.seeds)
    n_train = partition.train_count(task.n_points, fraction)
    print(f"{task.name}, {fraction:.0%} train ({n_train} points)")
    start = time.perf_counter()
    # Full M histories are needed for the alignment curve, so this calls the engine
    # directly (run_chunked's records keep only the metric curves).
    result, parts = sweep.run_splits(
        task,
        options.config,
        batch.splits,
        bandwidth=options.bandwidth,
        memory_budget=options.memory_budget,
    )
    jax.block_until_ready(result)  # dispatch is asynchronous; time the compute
    wall = time.perf_counter() - start
    records = sweep.run_records(batch.settings, result, parts)
    alignment = np.asarray(structure.agop_alignment(jnp.asarray(result.M_history)))
    for record, curve in zip(records, alignment, strict=True):
        record["alignment_curve"] = curve.tolist()
        record["wall_s"] = wall / len(records)
    print(
        f"  test acc {np.mean([x['test_acc'][-1] for x in records]):.3f}, "
        f"{wall:.1f} s for {len(records)} run(s)"
    )
    return records, np.asarray(result.M)


def summary_row(fraction: float, runs: list[dict]) -> dict:
    """Means (and spreads) over the seeds of one fraction's final values."""
    acc = report.mean_std([x["test_acc"][-1] for x in runs])
    mse = report.mean_std([x["test_mse"][-1] for x in runs])
    align = report.mean_std([x["alignment"] for x in runs])
    return {
        "fraction": fraction,
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


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    options = options_from_args(args)
    task, iters = options.task, options.config.iterations
    ran = {r: run_fraction(r, options) for r in options.fractions}
    # Alignment with the final M of the same seed at the largest fraction.
    reference = options.fractions[-1]
    reference_M = ran[reference][1]
    rows, records = [], []
    for r, (runs, M) in ran.items():
        for run, final, ref in zip(runs, M, reference_M, strict=True):
            run["alignment"] = cosine(final, ref)
        rows.append(summary_row(r, runs))
        records += runs
    print(report.format_table(rows, COLUMNS))
    hit = curves.first_iteration_at([row["test_acc_mean"] for row in rows], THRESHOLD)
    jump = None if hit is None else rows[hit]["fraction"]
    print(f"smallest fraction with test accuracy >= {THRESHOLD:.0%}: {jump}")
    comparison = [
        {
            "quantity": "smallest training fraction with test acc >= 90% (shown as %)",
            "setting": f"gaussian {task.name}, {iters} iterations",
            "paper": PAPER_JUMP.get((task.op, task.n, iters)),
            "measured_mean": jump,
            "measured_std": 0.0,
            "train_acc_mean": None,
            "seeds": len(options.seeds),
            "note": "arXiv 2407.20199, §6: the jump is near 25% train",
        }
    ]
    run_config = {
        "quick": bool(args.quick),
        "task": task.name,
        "kernel": "gaussian",
        "bandwidth": options.bandwidth,
        "iterations": iters,
        "fractions": list(options.fractions),
        "seeds": options.seeds,
        "alignment_reference_fraction": reference,
    }
    payload = results.write_results(
        args.out, "emergence", run_config, rows, records, comparison, jump_fraction=jump
    )
    from grokrfm import plotting

    plotting.emergence_curves(
        rows,
        path=f"{args.out}/emergence.png",
        title=f"Gaussian RFM, {task.name}, {iters} iterations",
    )
    print(f"wrote {args.out}/results.json and {args.out}/emergence.png")
    return payload


if __name__ == "__main__":
    main()
