"""Networks grok modular arithmetic with RFM's features (arXiv 2407.20199, §4; docs/science.md P2):
a one-hidden- layer x^2 MLP (width 1024, no bias, MSE, AdamW lr 1e-3, weight decay 1.0, batch 32) on
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
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import (
    agop,
    cli,
    families,
    network,
    partition,
    report,
    results,
    sweep,
    symmetry,
    tasks,
)
from grokrfm.analysis import measure, structure
from grokrfm.errors import InvalidArgument

PAPER_NFA = {"x+y": 0.955, "x-y": 0.942, "x*y": 0.924, "x/y": 0.929}
NOTE = "arXiv 2407.20199, §4 (docs/science.md P2): corr(W1^T W1, sqrt AGOP), p = 61, 50% train"
PAPER_P, PAPER_FRACTION = 61, 0.5  # the sizes PAPER_NFA was measured at

COLUMNS = [
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
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.network_grokking", description=__doc__.split("\n\n")[0]
    )
    # No RFM here, so not cli.add_common_arguments (its --bandwidth and --memory-budget
    # would do nothing).
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (minutes)")
    cli.add_sized(parser, "--seeds", cli.Sized(5, 2), "seeds", type=int)
    cli.add_sized(parser, "--p", cli.Sized(61, 31), "modulus", type=int)
    parser.add_argument("--ops", nargs="+", default=list(tasks.OPERATIONS), help="operations")
    parser.add_argument("--fraction", type=float, default=0.5, help="training fraction (0.5)")
    cli.add_network_arguments(parser, epochs=cli.Sized(100, 150))
    out = "results/network_grokking"
    parser.add_argument("--out", default=out, type=cli.output_folder, help=f"output folder ({out})")
    return parser.parse_args(argv)


class NetworkGrokkingOptions(NamedTuple):
    """The resolved, validated command line (:func:`options_from_args`)."""

    tasks: list[tasks.Task]
    p: int
    fraction: float
    seeds: list[int]
    config: network.NetworkConfig

    @property
    def paper_sized(self) -> bool:
        """Whether the runs are at the sizes the paper's NFA values were measured at."""
        return self.p == PAPER_P and self.fraction == PAPER_FRACTION


def options_from_args(args: argparse.Namespace) -> NetworkGrokkingOptions:
    """Every flag resolved and validated, before any compute.

    Raises:
      InvalidArgument: naming ``ops``, ``p``, ``fraction``, ``seeds`` or a network flag.
    """
    config = cli.network_config_from_args(args)
    p = cli.sized(args, "p")
    if len(set(args.ops)) != len(args.ops):
        raise InvalidArgument("ops", f"repeated operations in {args.ops}")
    for op in args.ops:
        if op not in tasks.OPERATIONS:
            raise InvalidArgument("ops", f"unknown {op!r}; choose from {tasks.OPERATIONS}")
    op_tasks = [tasks.make_task(op, p=p) for op in args.ops]
    sizes = [task.n_points for task in op_tasks]
    (fraction,) = families.check_fractions([args.fraction], sizes, "fraction")
    seeds = cli.check_seeds(cli.sized(args, "seeds"))
    return NetworkGrokkingOptions(op_tasks, p, fraction, seeds, config)


def run_op(task, options: NetworkGrokkingOptions) -> tuple[list[dict], network.NetworkResult]:
    """Every seed of one operation in one call: split ``PRNGKey(seed)``, initialisation
    and minibatches from ``fold_in(PRNGKey(seed), 1)``."""
    batch = families.fraction_batch(task.n_points, [options.fraction], options.seeds, "fraction")
    batch = batch.labelled(op=task.op, task=task.name)
    parts = partition.to_partitions(batch.splits)
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(s), 1) for s in options.seeds])
    start = time.perf_counter()
    result = network.train_batch(task, options.config, keys, parts)
    jax.block_until_ready(result)
    wall = time.perf_counter() - start
    records = sweep.network_records(batch.settings, result, parts)
    sym = symmetry.symmetry_group(task)
    measures = measure.matrix_measures(sym, np.asarray(result.features.nfm[:, -1]))
    for record, measured in zip(records, measures, strict=True):
        record["nfm_features"] = measured
        record["wall_s"] = wall / len(records)
    return records, result


def summary_row(task, records, paper_sized: bool) -> dict:
    def stat(key):
        return report.mean_std([r[key][-1] for r in records])

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
    """The final test accuracy (networks grok) and the NFA correlation beside the paper."""
    setting = f"network {row['task']}, 50% train"
    test = report.comparison(
        "final test acc (groks)",
        setting,
        1.0,
        row,
        "arXiv 2407.20199, §4 (docs/science.md P2): networks grok",
    )
    nfa = report.comparison(
        "NFA corr(W1^T W1, sqrt AGOP) (shown as %)", setting, row["nfa_paper"], row, NOTE
    )
    nfa.update(measured_mean=row["nfa_mean"], measured_std=row["nfa_std"])
    return [test, nfa]


def matrix_panels(task, measured: network.FeatureMeasures) -> list[dict]:
    """W1^T W1 and AGOP^(1/2) of the first seed after training, reordered so that
    circulant blocks show (:func:`grokrfm.analysis.structure.block_forms`)."""
    order = structure.block_forms(task).order
    nfm = np.asarray(measured.nfm[0, -1])
    root = np.asarray(agop.matrix_power(measured.agop[0, -1], 0.5))
    return [
        {"title": f"{task.name}: $W_1^\\top W_1$", "matrix": structure.reorder(nfm, order)},
        {
            "title": f"{task.name}: $\\mathrm{{AGOP}}^{{1/2}}$",
            "matrix": structure.reorder(root, order),
        },
    ]


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    options = options_from_args(args)
    config = options.config
    runs, rows, comparison, panels = [], [], [], []
    for task in options.tasks:
        seeds = len(options.seeds)
        print(f"{task.name}: {seeds} seeds, {config.epochs} epochs, width {config.width}")
        records, result = run_op(task, options)
        runs.extend(records)
        row = summary_row(task, records, options.paper_sized)
        rows.append(row)
        comparison.extend(comparisons(row))
        panels.extend(matrix_panels(task, result.features))
    print(report.format_table(rows, COLUMNS))
    run_config = {
        "quick": bool(args.quick),
        "paper_sized": options.paper_sized,
        "p": options.p,
        "ops": list(args.ops),
        "fraction": options.fraction,
        "seeds": options.seeds,
        "network": config._asdict(),
    }
    payload = results.write_results(
        args.out, "network_grokking", run_config, rows, runs, comparison
    )
    from grokrfm import plotting

    title = f"Networks, mod {options.p}, {options.fraction:.0%} train"
    plotting.network_curves(runs, path=f"{args.out}/curves.png", title=title)
    plotting.feature_matrices(panels, path=f"{args.out}/matrices.png", ncols=2)
    print(f"wrote {args.out}/results.json, curves.png and matrices.png")
    return payload


if __name__ == "__main__":
    main()
