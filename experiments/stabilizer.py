"""Finding 3.1 at scale: over hundreds of partitions of one task, does "the stabiliser H
of the partition is trivial" predict "RFM generalises"?

    python -m experiments.stabilizer            # x+y mod 31, 30 iterations, 300 partitions
    python -m experiments.stabilizer --quick    # CPU minutes: p = 17, 20 iterations, 60

The partitions come in families (:mod:`grokrfm.families`): random splits at training
fractions 0.3-0.7; degenerate splits for one or several reflections; their perturbations
(random points or reflected pairs moved to test, fixed points moved to training); unions
of orbits of random subgroups (H non-trivial by construction) and random splits of the
same sizes. H is computed for every partition before any RFM run; all runs are padded to
one shape and run in saved chunks (``--chunk-runs``), so a rerun resumes. Beside Finding
3.1's prediction ("H trivial") a refinement is tabulated: "H fixes no test point".

Also reports, without RFM, the stabiliser of the degenerate partition of every reflection
sr^k for ``--report-ops`` (default x*y and x/y, whose group order is even) at
``--report-p``.

Writes ``OUT/results.json`` (the confusion tables, per-family rows, every partition's
record, the stabiliser report) and ``OUT/confusion.png``, and prints the tables.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import numpy as np

from grokrfm import (
    cli,
    families,
    kernels,
    partition,
    report,
    results,
    rfm,
    sweep,
    symmetry,
    tasks,
)
from grokrfm.analysis import stabilizer
from grokrfm.errors import InvalidArgument

# The second confusion table keeps partitions with at least this training fraction, to
# separate "too little data" from "symmetric data" among the failures.
HIGH_FRACTION = 0.45

CONFUSION_COLUMNS = [("prediction", ""), ("generalises", "generalises"), ("fails", "fails")]
FAMILY_COLUMNS = [
    ("family", "family"),
    ("partitions", "partitions"),
    ("train_fraction_min", "train frac min"),
    ("train_fraction_max", "max"),
    ("stabilizer_orders", "|H| values"),
    ("h_trivial", "H trivial"),
    ("h_fixes_test", "H fixes test"),
    ("generalises", "generalises"),
    ("test_acc_mean", "mean test acc"),
    ("prediction_accuracy", "3.1 right"),
    ("refined_prediction_accuracy", "refined right"),
]
MISPREDICTED_COLUMNS = [
    ("index", "#"),
    ("family", "family"),
    ("parameters", "parameters"),
    ("seed", "seed"),
    ("train_fraction", "train frac"),
    ("stabilizer_order", "|H|"),
    ("fixed_test_fraction", "H-fixed test"),
    ("final_test_acc", "test acc"),
    ("final_train_acc", "train acc"),
    ("unseen_label_fraction", "unseen labels"),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.stabilizer", description=__doc__.split("\n\n")[0]
    )
    cli.add_common_arguments(
        parser,
        out="results/stabilizer",
        seeds=cli.Sized(2, 2),
        iterations=cli.Sized(30, 20),
        seeds_help="random draws per setting",
        chunks=False,
    )
    cli.add_sized(
        parser,
        "--chunk-runs",
        cli.Sized(20, 20),
        "runs per saved chunk; a rerun of the same command resumes from the chunks saved under OUT",
        type=int,
        metavar="R",
    )
    g = parser.add_argument_group("task")
    g.add_argument("--op", default="x+y", help=f"operation, one of {tasks.OPERATIONS} (x+y)")
    cli.add_sized(g, "--p", cli.Sized(31, 17), "modulus", type=int)
    g.add_argument(
        "--group",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="abelian product Z_N1 x ... x Z_Nk instead of --p (x+y, x-y)",
    )
    g = parser.add_argument_group("RFM")
    g.add_argument("--kernel", default="gaussian", help=f"one of {tuple(kernels.KERNELS)}")
    g.add_argument("--ridge", type=float, default=0.0, help="lambda (default 0: exact)")
    g.add_argument("--power", type=float, default=0.5, help="M <- AGOP^power (default 0.5)")
    g.add_argument("--no-centre", action="store_true", help="do not centre the gradients")
    g.add_argument("--normalize", action="store_true", help="divide M by its max entry")
    g = parser.add_argument_group("partitions")
    cli.add_sized(
        g,
        "--partitions",
        cli.Sized(300, 60),
        f"how many partitions, over all families (at least {families.MIN_PARTITIONS})",
        type=int,
        metavar="N",
    )
    g.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="a run generalises when its final test accuracy is at least this (0.5)",
    )
    cli.add_sized(
        g,
        "--union-fraction",
        cli.Sized(0.5, 0.7),
        "training fraction of the orbit unions and their matched random splits (at p <= 19 "
        "random 50%% splits do not generalise)",
        type=float,
    )
    g = parser.add_argument_group("stabiliser report (no RFM)")
    g.add_argument(
        "--report-ops",
        nargs="*",
        default=["x*y", "x/y"],
        metavar="OP",
        help="operations whose degenerate partitions' stabilisers are reported (x*y x/y)",
    )
    cli.add_sized(g, "--report-p", cli.Sized(61, 17), "modulus of that report", type=int)
    return parser.parse_args(argv)


class StabilizerOptions(NamedTuple):
    """The resolved, validated command line (:func:`options_from_args`)."""

    task: tasks.Task
    config: rfm.RFMConfig
    seeds: list[int]
    partitions: int
    threshold: float
    union_fraction: float
    report_p: int
    report_groups: dict[str, symmetry.SymmetryGroup]
    chunk_runs: int
    memory_budget: int | None


def task_from_args(args: argparse.Namespace) -> tasks.Task:
    """``--op`` on Z_p (``--p``, sized) or on the product group ``--group``."""
    if args.group is None:
        return tasks.make_task(args.op, p=cli.sized(args, "p"))
    return tasks.make_task(args.op, p=args.p, group=args.group)


def report_groups(ops, p: int) -> dict[str, symmetry.SymmetryGroup]:
    """The symmetry groups of the stabiliser report, validated (arguments ``report_ops``,
    ``report_p``)."""
    groups = {}
    for op in ops:
        if op not in tasks.OPERATIONS:
            raise InvalidArgument("report_ops", f"unknown {op!r}; choose from {tasks.OPERATIONS}")
        try:
            groups[op] = symmetry.symmetry_group(tasks.make_task(op, p=p))
        except InvalidArgument as err:
            raise err.renamed("report_p") from None
    return groups


def options_from_args(args: argparse.Namespace) -> StabilizerOptions:
    """Every flag resolved and validated, before any compute.

    Raises:
      InvalidArgument: naming the flag (``p``, ``iters``, ``seeds``, ``partitions``,
        ``threshold``, ``union_fraction``, ``report_p``, ...).
    """
    task = task_from_args(args)
    rfm.check_scalars(args.bandwidth, args.ridge, args.power)
    config = rfm.RFMConfig(
        kernel=args.kernel,
        iterations=cli.sized(args, "iters"),
        centre=not args.no_centre,
        normalize=args.normalize,
    ).validate()
    seeds = cli.check_seeds(cli.sized(args, "seeds"))
    budget = cli.memory_budget_from_args(args)
    cli.chunk_runs_from_args(args)
    threshold = partition.check_fraction(args.threshold, "threshold")
    union_fraction = partition.check_fraction(cli.sized(args, "union_fraction"), "union_fraction")
    total = cli.sized(args, "partitions")
    families.allocate(total)
    report_p = cli.sized(args, "report_p")
    groups = report_groups(args.report_ops, report_p)
    return StabilizerOptions(
        task,
        config,
        seeds,
        total,
        threshold,
        union_fraction,
        report_p,
        groups,
        cli.sized(args, "chunk_runs"),
        budget,
    )


def parameters(setting: dict) -> str:
    """A setting's family parameters in a few characters, for the printed tables."""
    return ", ".join(
        f"{k}={'+'.join(v) if isinstance(v, list) else v}"
        for k, v in setting.items()
        if k != "family"
    )


def print_stabilizer_report(op: str, p: int, rows: list[dict]) -> None:
    orders = sorted({r["order"] for r in rows})
    print(f"\nstabiliser of the degenerate partition of each sr^k, {op} mod {p}: |H| in {orders}")
    print(
        report.format_table(
            [{**r, "elements": " ".join(r["elements"])} for r in rows],
            [("reflection", "reflection"), ("order", "|H|"), ("elements", "elements")],
        )
    )


def print_tables(tables: dict, subsets: dict, rows: list[dict], wrong: dict, threshold: float):
    """The confusion tables, the per-family rows and the mispredicted partitions."""
    for prediction, labels in stabilizer.PREDICTIONS.items():
        for key, title in subsets.items():
            table = tables[prediction][key]
            accuracy = table["prediction_accuracy"]
            print(
                f"\nprediction '{labels[0]} <=> test accuracy >= {threshold}', {title} "
                f"({table['total']}): right for "
                + (f"{accuracy:.3f}" if accuracy is not None else "-")
            )
            print(report.format_table(stabilizer.confusion_rows(table, labels), CONFUSION_COLUMNS))
    print("\nper family")
    shown = [{**r, "stabilizer_orders": str(r["stabilizer_orders"])} for r in rows]
    print(report.format_table(shown, FAMILY_COLUMNS))
    for prediction, labels in stabilizer.PREDICTIONS.items():
        print(f"\npartitions where '{labels[0]}' mispredicts ({len(wrong[prediction])})")
        if wrong[prediction]:
            shown = [{**w, "parameters": parameters(w["setting"])} for w in wrong[prediction]]
            print(report.format_table(shown, MISPREDICTED_COLUMNS))


def plot(records: list[dict], threshold: float, path: str, title: str) -> None:
    """Final test accuracy against |H| (coloured by family) and against training fraction
    (filled: H trivial, hollow: H non-trivial)."""
    from grokrfm import plotting

    plt = plotting.plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    rng = np.random.default_rng(0)  # horizontal jitter only, so equal points stay visible
    for i, family in enumerate(families.FAMILIES):
        runs = [r for r in records if r["family"] == family]
        if not runs:
            continue
        color = f"C{i}"
        acc = 100 * np.array([r["final_test_acc"] for r in runs])
        order = np.array([r["stabilizer_order"] for r in runs], float)
        jitter = 2 ** rng.uniform(-0.15, 0.15, order.size)
        axes[0].scatter(order * jitter, acc, s=14, color=color, alpha=0.7, label=family)
        fraction = np.array([r["train_fraction"] for r in runs])
        trivial = order == 1
        axes[1].scatter(fraction[trivial], acc[trivial], s=14, color=color, alpha=0.7)
        axes[1].scatter(
            fraction[~trivial], acc[~trivial], s=14, facecolors="none", edgecolors=color
        )
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("stabiliser order |H| (jittered)")
    axes[1].set_xlabel("training fraction (filled: H trivial, hollow: non-trivial)")
    for ax in axes:
        ax.axhline(100 * threshold, color="k", lw=0.8, ls="--")
        ax.set_ylabel("final test accuracy (%)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="center right")
    fig.suptitle(title)
    plotting.save(fig, path)


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    options = options_from_args(args)
    task, config, threshold = options.task, options.config, options.threshold
    sym = symmetry.symmetry_group(task)
    batch = families.partition_families(
        sym, options.partitions, options.seeds, options.union_fraction
    )

    stabilizer_report = {}
    for op, group in options.report_groups.items():
        stabilizer_report[op] = stabilizer.degenerate_stabilizers(group)
        print_stabilizer_report(op, options.report_p, stabilizer_report[op])
    diagnostics = stabilizer.partition_diagnostics(sym, batch.splits)
    counts = {f: sum(s["family"] == f for s in batch.settings) for f in families.FAMILIES}
    print(
        f"\n{task.name}: {config.kernel} kernel, {config.iterations} iterations, "
        f"{batch.size} partitions {counts}; generalises: final test accuracy >= {threshold}"
    )
    records = sweep.run_chunked(
        task,
        config,
        batch.splits,
        batch.settings,
        args.out,
        chunk_runs=options.chunk_runs,
        bandwidth=args.bandwidth,
        ridge=args.ridge,
        power=args.power,
        memory_budget=options.memory_budget,
        keep_arrays=config.save_every > 0,
    )
    records = [
        stabilizer.outcome(r, d, threshold) for r, d in zip(records, diagnostics, strict=True)
    ]
    subsets = {"all": "all partitions", "high_fraction": f"train fraction >= {HIGH_FRACTION}"}
    tables = stabilizer.confusion_tables(
        {
            "all": records,
            "high_fraction": [r for r in records if r["train_fraction"] >= HIGH_FRACTION],
        }
    )
    rows = stabilizer.family_rows(records)
    wrong = {p: stabilizer.mispredicted(records, p) for p in stabilizer.PREDICTIONS}
    print_tables(tables, subsets, rows, wrong, threshold)
    failures = sum(not all(r["solve_ok"]) for r in records)
    if failures:
        print(f"warning: {failures} runs had a failed solve (see solve_ok in results.json)")

    run_config = {
        **cli.run_config(task, config, args),
        "partitions": options.partitions,
        "family_counts": counts,
        "seeds": options.seeds,
        "threshold": threshold,
        "union_fraction": options.union_fraction,
        "predictions": {k: v[0] for k, v in stabilizer.PREDICTIONS.items()},
        "high_fraction": HIGH_FRACTION,
        "report_ops": list(options.report_groups),
        "report_p": options.report_p,
        "quick": args.quick,
    }
    payload = results.write_results(
        args.out,
        "stabilizer",
        run_config,
        rows,
        records,
        confusion=tables,
        mispredicted=wrong,
        degenerate_stabilizers=stabilizer_report,
        **({"arrays": "runs.npz"} if config.save_every else {}),
    )
    plot(
        records,
        threshold,
        f"{args.out}/confusion.png",
        f"{task.name}, {len(records)} partitions: final test accuracy vs stabiliser",
    )
    print(f"wrote {args.out}/results.json and {args.out}/confusion.png")
    return payload


if __name__ == "__main__":
    main()
