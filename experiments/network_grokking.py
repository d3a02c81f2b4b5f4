"""Networks grok modular arithmetic with RFM's features (PAPER.md section 6): a one-hidden-
layer x^2 MLP (width 1024, no bias, MSE, AdamW lr 1e-3, weight decay 1.0, batch 32) on
x+y, x-y, x*y, x/y at 50% training data, with the neural feature ansatz at the end.

    python -m experiments.network_grokking            # mod 61, 5 seeds, 100 epochs
    python -m experiments.network_grokking --quick    # mod 31, 2 seeds, 150 epochs

Per operation one vmapped call trains every seed (``grokrfm.network.train_batch``), in
float32. Reports per run the epoch at which test accuracy first reaches 90% (the
grokking epoch), final accuracies, the NFA correlation corr(W1^T W1, AGOP^(1/2)) (the
paper's 0.955, 0.942, 0.924, 0.929) over all entries and off the diagonal, the same
with the AGOP itself, and the representation score and circulant deviation of the
final W1^T W1. Writes ``OUT/results.json``, ``OUT/curves.png`` (test accuracy and NFA
correlation against epoch) and ``OUT/matrices.png`` (W1^T W1 and AGOP^(1/2) of seed 0,
reordered by the discrete logarithm).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import (
    agop,
    cli,
    network,
    partition,
    report,
    results,
    sweep,
    symmetry,
    tasks,
)
from grokrfm.analysis import measure, structure

PAPER_NFA = {"x+y": 0.955, "x-y": 0.942, "x*y": 0.924, "x/y": 0.929}
NOTE = "PAPER.md 6: corr(W1^T W1, sqrt AGOP), p = 61, 50% train"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.network_grokking", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (about a minute)")
    parser.add_argument("--p", type=int, default=None, help="modulus (61; quick 31)")
    parser.add_argument("--ops", nargs="+", default=list(tasks.OPERATIONS), help="operations")
    parser.add_argument("--fraction", type=float, default=0.5, help="training fraction (0.5)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (5; quick 2)")
    cli.add_network_arguments(parser, epochs=cli.Sized(100, 150))
    parser.add_argument("--out", default="results/network_grokking", help="output folder")
    return parser.parse_args(argv)


def run_op(task, config, seeds, fraction) -> tuple[list[dict], network.NetworkResult]:
    """Every seed of one operation in one call: split ``PRNGKey(seed)``, initialisation
    and minibatches from ``fold_in(PRNGKey(seed), 1)``."""
    splits = partition.fraction_splits(task.n_points, fraction, seeds)
    parts = partition.to_partitions(splits)
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(s), 1) for s in seeds])
    start = time.perf_counter()
    result = network.train_batch(task, config, keys, parts)
    jax.block_until_ready(result)
    wall = time.perf_counter() - start
    settings = [{"op": task.op, "task": task.name, "fraction": fraction, "seed": s} for s in seeds]
    records = sweep.network_records(settings, result, parts)
    sym = symmetry.symmetry_group(task)
    measures = measure.matrix_measures(sym, np.asarray(result.features.nfm[:, -1]))
    for record, measured in zip(records, measures, strict=True):
        record["nfm_features"] = measured
        record["wall_s"] = wall / len(seeds)
    return records, result


def summary_row(task, records, paper_sized: bool) -> dict:
    def stat(key):
        values = np.array([r[key][-1] for r in records])
        return float(values.mean()), float(values.std())

    jumps = [r["grokking_epoch"] for r in records]
    reached = [j for j in jumps if j is not None]
    nfa, nfa_std = stat("nfa")
    return {
        "task": task.name,
        "op": task.op,
        "seeds": len(records),
        "train_acc_mean": stat("train_acc")[0],
        "test_acc_mean": stat("test_acc")[0],
        "test_acc_std": stat("test_acc")[1],
        "test_mse_mean": stat("test_mse")[0],
        "grokked": len(reached),
        "grokking_epochs": jumps,
        "grokking_epoch_median": float(np.median(reached)) if reached else None,
        "nfa_mean": nfa,
        "nfa_std": nfa_std,
        "nfa_off_diagonal_mean": stat("nfa_off_diagonal")[0],
        "nfa_power1_mean": stat("nfa_power1")[0],
        "nfa_power1_off_diagonal_mean": stat("nfa_power1_off_diagonal")[0],
        "nfa_paper": PAPER_NFA[task.op] if paper_sized else None,
        "circulant_deviation_mean": float(
            np.mean([r["nfm_features"]["circulant_deviation"] for r in records])
        ),
        "nfm_top_element": records[0]["nfm_features"]["top"][0]["name"],
        "wall_s": float(sum(r["wall_s"] for r in records)),
    }


def comparisons(row: dict) -> list[dict]:
    setting = f"network {row['task']}, 50% train"
    test = {
        "quantity": "final test acc (groks)",
        "setting": setting,
        "paper": 1.0,
        "measured_mean": row["test_acc_mean"],
        "measured_std": row["test_acc_std"],
        "train_acc_mean": row["train_acc_mean"],
        "seeds": row["seeds"],
        "note": "PAPER.md 6: networks grok",
    }
    nfa = {
        **test,
        "quantity": "NFA corr(W1^T W1, sqrt AGOP) (shown as %)",
        "paper": row["nfa_paper"],
        "measured_mean": row["nfa_mean"],
        "measured_std": row["nfa_std"],
        "note": NOTE,
    }
    return [test, nfa]


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    config = cli.network_config_from_args(args)
    p = args.p or (31 if args.quick else 61)
    seeds = cli.check_seeds(args.seeds or (2 if args.quick else 5))
    partition.check_fraction(args.fraction)
    task_list = [tasks.make_task(op, p=p) for op in args.ops]
    for task in task_list:
        partition.train_count(task.n_points, args.fraction)
    paper_sized = p == 61 and args.fraction == 0.5
    runs, rows, comparison, finals = [], [], [], {}
    for task in task_list:
        print(f"{task.name}: {len(seeds)} seeds, {config.epochs} epochs, width {config.width}")
        records, result = run_op(task, config, seeds, args.fraction)
        runs.extend(records)
        row = summary_row(task, records, paper_sized)
        rows.append(row)
        comparison.extend(comparisons(row))
        finals[task.name] = (task, np.asarray(result.features.nfm[0, -1]), result.features)
    print(
        report.format_table(
            rows,
            [
                ("task", "task"),
                ("train_acc_mean", "train"),
                ("test_acc_mean", "test"),
                ("test_acc_std", "± std"),
                ("grokking_epoch_median", "epoch 90%"),
                ("nfa_mean", "NFA"),
                ("nfa_paper", "paper"),
                ("nfa_off_diagonal_mean", "NFA off-diag"),
                ("nfa_power1_mean", "NFA (AGOP)"),
                ("circulant_deviation_mean", "circ dev"),
                ("nfm_top_element", "top g"),
                ("wall_s", "wall s"),
            ],
        )
    )
    run_config = {
        "quick": bool(args.quick),
        "paper_sized": paper_sized,
        "p": p,
        "ops": list(args.ops),
        "fraction": args.fraction,
        "seeds": seeds,
        "network": config._asdict(),
    }
    payload = results.write_results(
        args.out, "network_grokking", run_config, rows, runs, comparison
    )
    from grokrfm import plotting

    plotting.network_curves(
        runs, f"{args.out}/curves.png", title=f"Networks, mod {p}, {args.fraction:.0%} train"
    )
    panels = []
    for name, (task, nfm, measured) in finals.items():
        order = structure.block_forms(task).order
        root = np.asarray(agop.matrix_power(measured.agop[0, -1], 0.5))
        panels.append({"title": f"{name}: W1^T W1", "matrix": structure.reorder(nfm, order)})
        panels.append({"title": f"{name}: AGOP^1/2", "matrix": structure.reorder(root, order)})
    plotting.feature_matrices(panels, f"{args.out}/matrices.png", ncols=2)
    print(f"wrote {args.out}/results.json, curves.png and matrices.png")
    return payload


if __name__ == "__main__":
    main()
