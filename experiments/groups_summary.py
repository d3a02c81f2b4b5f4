"""Symmetric partitions of any finite group, their stabilisers in the computed symmetry
groups, and RFM's test accuracy: the cross-group summary table.

    python -m experiments.groups_summary            # 8 groups, 5 seeds, 30 iterations
    python -m experiments.groups_summary --quick    # CPU minutes: Z3xZ3 and S3, 2 seeds

For each group G (task ``a . b``) the symmetry groups are computed
(:mod:`grokrfm.computed_symmetry`): the label-preserving group ``lp`` (Dih(G) for abelian
G, G's right-regular action otherwise) and the autotopism group ``atp`` (with operand
swaps; enumerated when it has at most ELEMENT_LIMIT elements). The partitions are the
families of :func:`grokrfm.diagnosis.group_families`: random splits; for abelian G the
fixed points of a reflection (Section 3), with random points or reflected pairs moved to
test; unions of orbits of a label-preserving rotation; and, label-permuting only, the
fixed points of an automorphism phi acting on both operands, with random points moved,
and unions of phi's orbits. Every partition's stabiliser order in lp and atp (and the
fraction of test points a stabiliser element fixes) is computed before RFM runs.

Writes ``OUT/results.json`` (the symmetry report, the summary rows, every run) and
``OUT/summary.png``, and prints both tables.
"""

from __future__ import annotations

import argparse

import numpy as np

from grokrfm import cli, experiment, families, partition, report, results, sweep, symmetry, tasks
from grokrfm import computed_symmetry as cs
from grokrfm.analysis import stabilizer

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
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (minutes)")
    parser.add_argument("--groups", nargs="+", default=None, help=f"default {GROUPS}")
    parser.add_argument("--fraction", type=float, default=0.9, help="random/orbit train frac")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (5; quick 2)")
    parser.add_argument("--iters", type=int, default=None, help="RFM iterations (30; quick 15)")
    parser.add_argument("--bandwidth", type=float, default=2.5, help="Gaussian L (2.5)")
    parser.add_argument("--out", default="results/groups_summary", help="output folder")
    return parser.parse_args(argv)


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


def symmetry_report(task) -> tuple[dict, symmetry.SymmetryGroup, symmetry.SymmetryGroup | None]:
    lp = cs.label_preserving_group(task)
    atp = cs.autotopism_group(task, swap=True)
    keep = cs.autotopism_group(task, swap=False)
    atp_sym = cs.to_symmetry_group(atp) if atp.order <= cs.ELEMENT_LIMIT else None
    info = {
        "group": task.group.name,
        "order": task.n,
        "abelian": tasks.is_abelian(task.group),
        "lp_order": lp.order,
        "lp_structure": cs.structure(lp),
        "aut_order": atp.stabilizer_order,
        "atp_order_no_swap": keep.order,
        "atp_order": atp.order,
        "atp_generators": list(atp.generator_names),
        "atp_enumerated": atp_sym is not None,
    }
    return info, lp, atp_sym


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def summary_rows(info: dict, records: list[dict]) -> list[dict]:
    rows = []
    for family in families.GROUP_FAMILIES:
        runs = [r for r in records if r["setting"]["family"] == family]
        if not runs:
            continue
        acc = np.array([r["test_acc"][-1] for r in runs])

        def values(key, runs=runs):
            return sorted({r["diagnostics"][key] for r in runs}, key=lambda v: (v is None, v))

        rows.append(
            {
                "group": info["group"],
                "order": info["order"],
                "lp_order": info["lp_order"],
                "atp_order": info["atp_order"],
                "family": family,
                "runs": len(runs),
                "train_fraction": _mean([r["diagnostics"]["train_fraction"] for r in runs]),
                "stabilizer_lp": "/".join(map(str, values("stabilizer_order_lp"))),
                "fixes_test_lp": _mean([r["diagnostics"]["fixed_test_fraction_lp"] for r in runs]),
                "stabilizer_atp": "/".join(map(str, values("stabilizer_order_atp"))),
                "fixes_test_atp": _mean(
                    [r["diagnostics"]["fixed_test_fraction_atp"] for r in runs]
                ),
                "unseen_labels": _mean([r["diagnostics"]["unseen_label_fraction"] for r in runs]),
                "test_acc_mean": float(acc.mean()),
                "test_acc_std": float(acc.std()),
                "test_acc": f"{100 * acc.mean():.1f} ± {100 * acc.std():.1f}%",
                "generalises": int((acc >= THRESHOLD).sum()),
            }
        )
    return rows


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    names = args.groups or (QUICK_GROUPS if args.quick else GROUPS)
    fraction = partition.check_fraction(args.fraction)
    seeds = cli.check_seeds(args.seeds if args.seeds is not None else (2 if args.quick else 5))
    iterations = args.iters if args.iters is not None else (15 if args.quick else 30)
    config = experiment.kernel_config("gaussian", iterations)
    task_list = [tasks.group_task(name) for name in names]

    dihedral = dihedral_report()
    print("computed label-preserving group vs Dih(A) of PAPER.md section 2")
    print(report.format_table(dihedral, [(k, k) for k in dihedral[0]]))
    infos, summary, records = [], [], []
    for task in task_list:
        info, lp, atp_sym = symmetry_report(task)
        splits, settings = families.group_families(task, lp, fraction, seeds)
        diagnostics = stabilizer.group_diagnostics(task, {"lp": lp, "atp": atp_sym}, splits)
        result, partitions = sweep.run_splits(task, config, splits, bandwidth=args.bandwidth)
        runs = sweep.run_records(
            [{**s, "group": task.group.name} for s in settings], result, partitions
        )
        for run, d in zip(runs, diagnostics, strict=True):
            run["diagnostics"] = d
        infos.append(info)
        summary += summary_rows(info, runs)
        records += runs
        print(f"{task.name}: |lp| = {info['lp_order']}, |Aut| = {info['aut_order']}, "
              f"|atp| = {info['atp_order']} ({len(runs)} runs)")  # fmt: skip
    print(report.format_table(summary, SUMMARY_COLUMNS))
    run_config = {
        "groups": list(names),
        "fraction": fraction,
        "seeds": seeds,
        "iterations": iterations,
        "kernel": "gaussian",
        "bandwidth": args.bandwidth,
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

    plotting.family_accuracy_bars(summary, f"{args.out}/summary.png")
    print(f"wrote {args.out}/results.json and {args.out}/summary.png")
    return payload


if __name__ == "__main__":
    main()
