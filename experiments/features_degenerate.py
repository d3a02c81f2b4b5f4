"""Which group elements the learned M encodes on degenerate partitions (PAPER.md 5.7).

    python -m experiments.features_degenerate            # p = 29, Z3 x Z7, 60 iterations
    python -m experiments.features_degenerate --quick    # p = 13, Z3 x Z5, 20 iterations

For every operation mod p and every reflection sr^k, Gaussian RFM trains on the points
not fixed by sr^k; the representation score (:mod:`grokrfm.features`) ranks the group
elements the final M encodes, and the run passes when the top-ranked element is sr^k
itself. Beside these: for each operation the union of the fixed points of sr^0 and sr^1
(its stabiliser is {id, sr^((p+1)/2)} for x+y, so M should encode neither building
reflection), and x+y on Z3 x Z7 for all 21 reflections (the paper: train 100%, test 0%).
Writes ``OUT/results.json``, ``OUT/scores_<task>.png`` (|score| of every element for every
partition), ``OUT/matrices_<task>.png`` (M beside the Pi(g) it matches best) and
``OUT/score_curves.png`` (the building reflection's score per iteration).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import numpy as np

from grokrfm import (
    cli,
    experiment,
    partition,
    report,
    results,
    rfm,
    sweep,
    symmetry,
    tasks,
)
from grokrfm.analysis import measure, representation
from grokrfm.errors import InvalidArgument

PAPER = "Pi(id), Pi(sr^k) only (by eye)"


class Group(NamedTuple):
    """One batch: a task, its reflection sets (one run each) and what each should encode."""

    slug: str
    task: tasks.Task
    sym: symmetry.SymmetryGroup
    sets: list[list[int]]
    expected: list[int | None]
    kinds: list[str]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.features_degenerate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (about a minute)")
    parser.add_argument("--p", type=int, default=None, help="modulus (29; quick 13)")
    parser.add_argument(
        "--group", type=int, nargs="+", default=None, metavar="N", help="product (3 7; quick 3 5)"
    )
    parser.add_argument(
        "--ops", nargs="+", default=list(tasks.OPERATIONS), help="operations mod p (all four)"
    )
    parser.add_argument("--no-product", action="store_true", help="skip the product group")
    parser.add_argument("--iters", type=int, default=None, help="iterations (60; quick 20)")
    parser.add_argument("--bandwidth", type=float, default=2.5, help="Gaussian L (2.5)")
    parser.add_argument("--top", type=int, default=3, help="elements listed per run (3)")
    parser.add_argument("--memory-budget", type=float, default=None, metavar="GIB")
    parser.add_argument("--out", default="results/features_degenerate", help="output folder")
    return parser.parse_args(argv)


def plan(args) -> tuple[list[Group], rfm.RFMConfig]:
    """Every batch, validated before any compute."""
    p = args.p or (13 if args.quick else 29)
    iters = args.iters or (20 if args.quick else 60)
    config = rfm.RFMConfig("gaussian", iters, save_every=1).validate()
    rfm.check_scalars(bandwidth=args.bandwidth)
    if args.top < 1:
        raise InvalidArgument("top", f"must be >= 1, got {args.top}")
    groups = []
    for op in args.ops:
        task = tasks.make_task(op, p=p)
        sym = symmetry.symmetry_group(task)
        n = task.n
        sets = [[n + k] for k in range(n)] + [[n, n + 1]]
        groups.append(
            Group(
                tasks.OPERATION_SLUGS[op],
                task,
                sym,
                sets,
                list(range(n, 2 * n)) + [None],
                ["one"] * n + ["two"],
            )
        )
    if not args.no_product:
        factors = args.group or ([3, 5] if args.quick else [3, 7])
        task = tasks.make_task("x+y", group=factors)
        sym = symmetry.symmetry_group(task)
        n = task.n
        slug = "add" + "x".join(str(f) for f in factors)
        groups.append(
            Group(slug, task, sym, [[n + k] for k in range(n)], list(range(n, 2 * n)), ["one"] * n)
        )
    if not groups:
        raise InvalidArgument("ops", "nothing to run: give --ops or drop --no-product")
    return groups, config


def summary_row(group: Group, records: list[dict], kind: str) -> dict:
    """One row per (task, kind) over its runs."""
    runs = [r for r, k in zip(records, group.kinds, strict=True) if k == kind]
    f = [r["features"] for r in runs]
    row = {
        "task": group.task.name,
        "kind": kind,
        "runs": len(runs),
        "train_acc_mean": float(np.mean([r["train_acc"][-1] for r in runs])),
        "test_acc_mean": float(np.mean([r["test_acc"][-1] for r in runs])),
        "test_acc_std": float(np.std([r["test_acc"][-1] for r in runs])),
        "top_in_stabilizer": sum(
            group.sym.names[x["top"][0]["element"]] in x["stabilizer"] for x in f
        ),
        "margin_min": min(x["margin"] for x in f),
        "stabilizer_energy_min": min(x["energy"]["stabilizer"]["with_identity"] for x in f),
    }
    if kind == "one":
        scores = np.abs([x["expected_score"] for x in f])
        row.update(
            top_is_expected=sum(x["top_is_expected"] for x in f),
            expected_score_min=float(scores.min()),
            expected_score_mean=float(scores.mean()),
            expected_pair_share_min=min(x["expected_pair_share"] for x in f),
        )
    else:
        row["top"] = [x["top_name"] for x in f]
        row["stabilizer"] = [x["stabilizer"] for x in f]
    return row


def comparisons(rows: list[dict]) -> list[dict]:
    """Paper-vs-measured entries (experiments/summary.py reads these)."""
    out = []
    for row in rows:
        if row["kind"] != "one":
            continue
        base = {"train_acc_mean": row["train_acc_mean"], "seeds": row["runs"]}
        share = row["top_is_expected"] / row["runs"]
        out.append(
            {
                "quantity": "top-ranked element = the building reflection (share of reflections)",
                "setting": f"gaussian {row['task']}, test = Fix(sr^k), every k",
                "paper": PAPER,
                "measured_mean": share,
                "measured_std": 0.0,
                **base,
                "note": f"|score| of sr^k: min {row['expected_score_min']:.3f}, "
                f"mean {row['expected_score_mean']:.3f}; margin min {row['margin_min']:.3f}",
            }
        )
        out.append(
            {
                "quantity": "test accuracy (mean over reflections)",
                "setting": f"gaussian {row['task']}, test = Fix(sr^k), every k",
                "paper": experiment.DEGENERATE_TEST_ACC,
                "measured_mean": row["test_acc_mean"],
                "measured_std": row["test_acc_std"],
                **base,
                "note": "PAPER.md 5.7 (Z3 x Z7: train 100%, test 0%)",
            }
        )
    return out


def class_columns(sym: symmetry.SymmetryGroup) -> tuple[list[int], list[str]]:
    """Columns of the score matrix: reflections, then rotation classes {r^k, r^-k}."""
    rep, names = symmetry.element_classes(sym)
    refl = [g for g in range(sym.order) if sym.is_reflection(g)]
    rot = [g for g in range(sym.order) if not sym.is_reflection(g) and rep[g] == g]
    cols = refl + [g for g in rot if g != sym.identity]
    return cols, [names[g] for g in cols]


def print_group(group: Group, records: list[dict]) -> None:
    shown = []
    for r, refl in zip(records, group.sets, strict=True):
        f = r["features"]
        shown.append(
            {
                "held out": " + ".join(group.sym.names[e] for e in refl),
                "train": r["train_acc"][-1],
                "test": r["test_acc"][-1],
                "top": ", ".join(f"{t['name']} {t['score']:+.3f}" for t in f["top"]),
                "pair": f["top"][0]["pair_share"],
                "margin": f["margin"],
                "rank": f.get("expected_rank"),
                "stabilizer": " ".join(f["stabilizer"]),
            }
        )
    cols = ["held out", "train", "test", "top", "pair", "margin", "rank", "stabilizer"]
    print(report.format_table(shown, [(c, c) for c in cols]))


def figures_for(group: Group, records, result, measures, out: str) -> list[str]:
    """|score| per partition, M beside Pi(top match), the score during training."""
    from grokrfm import plotting

    singles = [b for b, k in enumerate(group.kinds) if k == "one"]
    cols, col_names = class_columns(group.sym)
    scores = np.asarray(measures.scores.score)[np.array(singles)]
    paths = [f"{out}/scores_{group.slug}.png", f"{out}/matrices_{group.slug}.png"]
    plotting.score_matrix(
        scores[:, cols],
        [group.sym.names[group.expected[b]] for b in singles],
        col_names,
        paths[0],
        title=f"{group.task.name}: |score| of M with test = Fix(row)",
        highlight=[cols.index(group.expected[b]) for b in singles],
    )
    pi = symmetry.representation(group.sym)
    examples = [singles[len(singles) // 2]] + [b for b, k in enumerate(group.kinds) if k != "one"]
    panels = []
    for b in examples:
        top = records[b]["features"]["top"][0]
        held = " + ".join(records[b]["setting"]["held_out"])
        panels.append(
            {
                "M": np.asarray(result.M[b]),
                "pi": pi[top["element"]],
                "title": f"{group.task.name}, test = Fix({held}): M (train "
                f"{records[b]['train_acc'][-1]:.0%}, test {records[b]['test_acc'][-1]:.0%})",
                "pi_title": f"Pi({top['name']}): score {top['score']:+.3f}, "
                f"pair share {top['pair_share']:.3f}",
            }
        )
    plotting.matrices_with_representations(panels, paths[1])
    return paths


def curve_panel(group: Group, records) -> dict:
    singles = [b for b, k in enumerate(group.kinds) if k == "one"]
    curves = np.abs([records[b]["features"]["curves"]["score"] for b in singles])
    return {
        "title": group.task.name,
        "ylabel": "|score| of the building reflection",
        "series": {"mean over reflections": curves.mean(0), "min over reflections": curves.min(0)},
        "test_acc": {"mean": np.mean([records[b]["test_acc"] for b in singles], axis=0)},
    }


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    groups, config = plan(args)
    budget = cli.memory_budget_from_args(args)
    all_records, rows, figures, curve_panels = [], [], [], []
    for group in groups:
        print(f"{group.task.name}: {len(group.sets)} partitions, {config.iterations} iterations")
        splits = partition.degenerate_splits(group.sym, group.sets)
        result, parts = sweep.run_splits(
            group.task, config, splits, bandwidth=args.bandwidth, memory_budget=budget
        )
        settings = [
            {"task": group.task.name, "kind": kind, "held_out": [group.sym.names[e] for e in s]}
            for s, kind in zip(group.sets, group.kinds, strict=True)
        ]
        records = sweep.run_records(settings, result, parts)
        basis = representation.score_basis(group.sym)
        measures = measure.feature_records(
            group.sym, basis, result, records, splits, group.expected, top=args.top
        )
        print_group(group, records)
        rows.extend(summary_row(group, records, kind) for kind in dict.fromkeys(group.kinds))
        all_records.extend(records)
        figures += figures_for(group, records, result, measures, args.out)
        curve_panels.append(curve_panel(group, records))

    from grokrfm import plotting

    plotting.measure_curves(curve_panels, f"{args.out}/score_curves.png")
    figures.append(f"{args.out}/score_curves.png")
    print(
        report.format_table(
            rows,
            [
                ("task", "task"),
                ("kind", "held out"),
                ("runs", "runs"),
                ("train_acc_mean", "train"),
                ("test_acc_mean", "test"),
                ("top_is_expected", "top = sr^k"),
                ("top_in_stabilizer", "top in stab"),
                ("expected_score_min", "min |score|"),
                ("margin_min", "min margin"),
                ("stabilizer_energy_min", "min stab energy"),
            ],
        )
    )
    payload = results.write_results(
        args.out,
        "features_degenerate",
        {
            "quick": args.quick,
            "iterations": config.iterations,
            "bandwidth": args.bandwidth,
            "tasks": [g.task.name for g in groups],
        },
        rows,
        all_records,
        comparisons(rows),
        figures=figures,
    )
    print(f"wrote {args.out}/results.json and {len(figures)} figures")
    return payload


if __name__ == "__main__":
    main()
