"""Symmetric partitions of any finite group, their stabilisers in the computed symmetry
groups, and RFM's test accuracy: the cross-group summary table.

    python -m experiments.groups_summary            # 8 groups, 5 seeds, 30 iterations
    python -m experiments.groups_summary --quick    # CPU minutes: Z3xZ3 and S3, 2 seeds

For each group G (task ``a . b``) the symmetry groups are computed
(:mod:`grokrfm.computed_symmetry`): the label-preserving group ``lp`` (Dih(G) for abelian
G, G's right-regular action otherwise) and the autotopism group ``atp`` (with operand
swaps; enumerated when it has at most ELEMENT_LIMIT elements). The partitions are the
families of :func:`grokrfm.families.group_families`: random splits; for abelian G the
fixed points of a reflection (Section 3), with random points or reflected pairs moved to
test; unions of orbits of a label-preserving rotation; and, label-permuting only, the
fixed points of an automorphism phi acting on both operands, with random points moved,
and unions of phi's orbits. Every partition's stabiliser order in lp and atp (and the
fraction of test points a stabiliser element fixes) is computed before RFM runs
(:mod:`grokrfm.analysis.stabilizer`).

Writes ``OUT/results.json`` (the symmetry report, the summary rows, every run) and
``OUT/summary.png``, and prints both tables.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

from grokrfm import (
    cli,
    experiment,
    families,
    partition,
    report,
    results,
    rfm,
    sweep,
    symmetry,
    tasks,
)
from grokrfm import computed_symmetry as cs
from grokrfm.analysis import stabilizer
from grokrfm.tasks import Task

GROUPS = ("Z3xZ3", "Z2xZ4", "Z2^3", "S3", "D4", "Q8", "A4", "S4")
QUICK_GROUPS = ("Z3xZ3", "S3")
DIHEDRAL_CHECKS = ((5, 7, 29), ("x+y", "x-y", "x*y", "x/y"))
THRESHOLD = 0.5  # a run generalises when its final test accuracy is at least this

SUMMARY_COLUMNS = [
    ("group", "group"),
    ("order", "|G|"),
    ("lp_order", "|lp|"),
    ("atp_order", "|atp|"),
    ("family", "partition"),
    ("runs", "runs"),
    ("train_fraction", "train frac"),
    ("stabilizer_lp", "|H lp|"),
    ("fixes_test_lp", "H lp fixes test"),
    ("stabilizer_atp", "|H atp|"),
    ("fixes_test_atp", "H atp fixes test"),
    ("unseen_labels", "unseen labels"),
    ("test_acc", "test acc (mean ± std)"),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.groups_summary", description=__doc__.split("\n\n")[0]
    )
    cli.add_common_arguments(
        parser,
        out="results/groups_summary",
        seeds=cli.Sized(5, 2),
        iterations=cli.Sized(30, 15),
        chunks=False,
    )
    cli.add_sized(parser, "--groups", cli.Sized(GROUPS, QUICK_GROUPS), "groups", nargs="+")
    parser.add_argument(
        "--fraction",
        type=float,
        default=0.9,
        help="training fraction of the random splits and orbit unions (0.9)",
    )
    return parser.parse_args(argv)


class GroupsSummaryOptions(NamedTuple):
    """The resolved, validated command line (:func:`options_from_args`)."""

    groups: tuple[str, ...]
    tasks: list[Task]
    fraction: float
    seeds: list[int]
    config: rfm.RFMConfig
    bandwidth: float
    memory_budget: int | None


def options_from_args(args: argparse.Namespace) -> GroupsSummaryOptions:
    """Every flag resolved and validated, before any compute.

    Raises:
      InvalidArgument: naming ``groups``, ``fraction``, ``seeds``, ``iters``,
        ``bandwidth`` or ``memory_budget``.
    """
    names = tuple(cli.sized(args, "groups"))
    rfm.check_scalars(bandwidth=args.bandwidth)
    return GroupsSummaryOptions(
        groups=names,
        tasks=families.group_tasks(names),
        fraction=partition.check_fraction(args.fraction),
        seeds=cli.check_seeds(cli.sized(args, "seeds")),
        config=experiment.kernel_config("gaussian", cli.sized(args, "iters")),
        bandwidth=args.bandwidth,
        memory_budget=cli.memory_budget_from_args(args),
    )


def dihedral_report() -> list[dict]:
    """The computed label-preserving group of Z_p / Z_p^* tasks against Dih(A) (§2)."""
    rows = []
    for p in DIHEDRAL_CHECKS[0]:
        for op in DIHEDRAL_CHECKS[1]:
            task = tasks.make_task(op, p=p)
            dihedral = symmetry.symmetry_group(task)
            computed = cs.label_preserving_perms(task)
            same = cs.same_elements(computed, dihedral.coordinate_perms)
            same_action = same and bool(
                (cs.label_preserving_group(task).grid_perms == dihedral.grid_perms).all()
            )
            rows.append(
                {
                    "task": task.name,
                    "computed_order": len(computed),
                    "dihedral_order": dihedral.order,
                    "same_elements": same,
                    "same_action": same_action,
                }
            )
    return rows


def run_group(task: Task, options: GroupsSummaryOptions) -> tuple[dict, list[dict], list[dict]]:
    """Every family of partitions of one group, diagnosed and run in one batch.

    Returns:
      ``(info, rows, runs)``: the symmetry report, the per-family summary rows and the
      run records (each with its ``"diagnostics"``).
    """
    groups = stabilizer.group_symmetries(task)
    info = stabilizer.symmetry_report(task, groups)
    batch = families.group_families(task, groups.lp, options.fraction, options.seeds)
    batch = batch.labelled(group=task.group.name)
    diagnostics = stabilizer.group_diagnostics(task, groups.diagnosed, batch.splits)
    result, partitions = sweep.run_splits(
        task,
        options.config,
        batch.splits,
        bandwidth=options.bandwidth,
        memory_budget=options.memory_budget,
    )
    runs = sweep.run_records(batch.settings, result, partitions)
    for run, d in zip(runs, diagnostics, strict=True):
        run["diagnostics"] = d
    sizes = {k: info[k] for k in ("group", "order", "lp_order", "atp_order")}
    rows = [{**sizes, **row} for row in stabilizer.group_family_rows(runs, THRESHOLD)]
    return info, rows, runs


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    options = options_from_args(args)
    dihedral = dihedral_report()
    print("computed label-preserving group vs Dih(A) (arXiv 2604.00316, §3, App. A)")
    print(report.format_table(dihedral, [(k, k) for k in dihedral[0]]))
    infos, summary, records = [], [], []
    for task in options.tasks:
        info, rows, runs = run_group(task, options)
        infos.append(info)
        summary += rows
        records += runs
        print(f"{task.name}: |lp| = {info['lp_order']}, |Aut| = {info['aut_order']}, "
              f"|atp| = {info['atp_order']} ({len(runs)} runs)")  # fmt: skip
    print(report.format_table(summary, SUMMARY_COLUMNS))
    run_config = {
        "groups": list(options.groups),
        "fraction": options.fraction,
        "seeds": options.seeds,
        "iterations": options.config.iterations,
        "kernel": "gaussian",
        "bandwidth": options.bandwidth,
        "threshold": THRESHOLD,
        "element_limit": cs.ELEMENT_LIMIT,
        "quick": args.quick,
    }
    payload = results.write_results(
        args.out,
        "groups_summary",
        run_config,
        summary,
        records,
        dihedral=dihedral,
        symmetry=infos,
    )
    from grokrfm import plotting

    plotting.family_accuracy_bars(summary, path=f"{args.out}/summary.png")
    print(f"wrote {args.out}/results.json and {args.out}/summary.png")
    return payload


if __name__ == "__main__":
    main()
