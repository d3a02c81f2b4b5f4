"""Which group elements the learned M encodes on degenerate partitions (arXiv 2604.00316, §4, App.
E; docs/science.md R7).

    python -m experiments.features_degenerate            # p = 29, Z3 x Z7, 60 iterations
    python -m experiments.features_degenerate --quick    # p = 13, Z3 x Z5, 20 iterations

For every operation mod p and every reflection sr^k, Gaussian RFM trains on the points
not fixed by sr^k; the representation score (:mod:`grokrfm.analysis.representation`)
ranks the group elements the final M encodes, and the run passes when the top-ranked
element is sr^k itself. Beside these: for each operation the union of the fixed points of
sr^0 and sr^1 (its stabiliser is {id, sr^((p+1)/2)} for x+y, so M should encode neither
building reflection), and x+y on Z3 x Z7 for all 21 reflections (the paper: train 100%,
test 0%). Writes ``OUT/results.json``, ``OUT/scores_<task>.png`` (|score| of every element
for every partition), ``OUT/matrices_<task>.png`` (M beside the Pi(g) it matches best) and
``OUT/score_curves.png`` (the building reflection's score per iteration).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import numpy as np

from grokrfm import cli, experiment, partition, report, results, rfm, sweep, symmetry, tasks
from grokrfm.analysis import measure
from grokrfm.errors import InvalidArgument

PAPER = "Pi(id), Pi(sr^k) only (by eye)"
P = cli.Sized(29, 13)
GROUP = cli.Sized([3, 7], [3, 5])
ITERATIONS = cli.Sized(60, 20)


class HeldOut(NamedTuple):
    """One run: the reflections whose fixed points are its test set.

    Attributes:
      reflections: element indices; the test set is the union of their fixed points.
      expected: the element M should encode (the building reflection), or None.
      kind: ``"one"`` (a single reflection) or ``"two"`` (the union of sr^0 and sr^1).
    """

    reflections: tuple[int, ...]
    expected: int | None
    kind: str


class TaskBatch(NamedTuple):
    """One batched call: a task and its runs, in batch order."""

    slug: str
    task: tasks.Task
    sym: symmetry.SymmetryGroup
    runs: tuple[HeldOut, ...]

    def setting(self, run: HeldOut) -> dict:
        """A run's setting as recorded in ``results.json``."""
        names = [self.sym.names[e] for e in run.reflections]
        return {"task": self.task.name, "kind": run.kind, "held_out": names}

    def singles(self) -> list[int]:
        """Batch indices of the single-reflection runs."""
        return [b for b, run in enumerate(self.runs) if run.kind == "one"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.features_degenerate", description=__doc__.split("\n\n")[0]
    )
    cli.add_common_arguments(
        parser,
        out="results/features_degenerate",
        seeds=cli.Sized(1, 1),
        iterations=ITERATIONS,
        seeds_help="runs per partition (only 1: a degenerate partition from M0 = I is "
        "deterministic)",
        chunks=False,
    )
    cli.add_sized(parser, "--p", P, "modulus", type=int)
    cli.add_sized(
        parser, "--group", GROUP, "factors of the product group", type=int, nargs="+", metavar="N"
    )
    parser.add_argument(
        "--ops", nargs="+", default=list(tasks.OPERATIONS), help="operations mod p (all four)"
    )
    parser.add_argument("--no-product", action="store_true", help="skip the product group")
    parser.add_argument("--top", type=int, default=3, help="elements listed per run (3)")
    return parser.parse_args(argv)


def plan(args) -> tuple[list[TaskBatch], rfm.RFMConfig, int | None]:
    """Every batch, the RFM config and the memory budget, validated before any compute."""
    seeds = cli.sized(args, "seeds")
    if seeds != 1:  # fixed partitions from M0 = I leave nothing to a seed
        raise InvalidArgument("seeds", f"the runs are deterministic; give 1, got {seeds}")
    config = rfm.RFMConfig("gaussian", cli.sized(args, "iters"), save_every=1).validate()
    rfm.check_scalars(bandwidth=args.bandwidth)
    budget = cli.memory_budget_from_args(args)
    if args.top < 1:
        raise InvalidArgument("top", f"must be >= 1, got {args.top}")
    for op in args.ops:
        if op not in tasks.OPERATIONS:
            raise InvalidArgument("ops", f"unknown {op!r}; choose from {tasks.OPERATIONS}")
    if args.no_product and args.group is not None:
        raise InvalidArgument("group", "--no-product skips the product group")
    batches = []
    for op in args.ops:
        task = tasks.make_task(op, p=cli.sized(args, "p"))
        n = task.n
        singles = [HeldOut((n + k,), n + k, "one") for k in range(n)]
        batches.append(
            TaskBatch(
                tasks.OPERATION_SLUGS[op],
                task,
                symmetry.symmetry_group(task),
                (*singles, HeldOut((n, n + 1), None, "two")),
            )
        )
    if not args.no_product:
        factors = cli.sized(args, "group")
        task = tasks.make_task("x+y", group=factors)
        n = task.n
        slug = "add" + "x".join(str(f) for f in factors)
        singles = tuple(HeldOut((n + k,), n + k, "one") for k in range(n))
        batches.append(TaskBatch(slug, task, symmetry.symmetry_group(task), singles))
    if not batches:
        raise InvalidArgument("ops", "nothing to run: give --ops or drop --no-product")
    return batches, config, budget


def summary_row(batch: TaskBatch, records: list[dict], kind: str) -> dict:
    """One row per (task, kind) over its runs."""
    runs = [r for r, run in zip(records, batch.runs, strict=True) if run.kind == kind]
    f = [r["features"] for r in runs]
    row = {
        "task": batch.task.name,
        "kind": kind,
        "runs": len(runs),
        "train_acc_mean": report.mean_std([r["train_acc"][-1] for r in runs])[0],
        "test_acc_mean": report.mean_std([r["test_acc"][-1] for r in runs])[0],
        "test_acc_std": report.mean_std([r["test_acc"][-1] for r in runs])[1],
        "top_in_stabilizer": sum(
            batch.sym.names[x["top"][0]["element"]] in x["stabilizer"] for x in f
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
                "note": "arXiv 2604.00316, §4, App. E (Z3 x Z7: train 100%, test 0%)",
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


def print_batch(batch: TaskBatch, records: list[dict]) -> None:
    shown = []
    for r, run in zip(records, batch.runs, strict=True):
        f = r["features"]
        shown.append(
            {
                "held out": " + ".join(batch.sym.names[e] for e in run.reflections),
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


def figures_for(batch: TaskBatch, records, result, measures, out: str) -> list[str]:
    """|score| per partition, M beside Pi(top match), the score during training."""
    from grokrfm import plotting

    singles = batch.singles()
    expected = [batch.runs[b].expected for b in singles]
    cols, col_names = class_columns(batch.sym)
    scores = np.asarray(measures.scores.score)[np.array(singles)]
    paths = [f"{out}/scores_{batch.slug}.png", f"{out}/matrices_{batch.slug}.png"]
    plotting.score_matrix(
        scores[:, cols],
        [batch.sym.names[e] for e in expected],
        col_names,
        path=paths[0],
        title=f"{batch.task.name}: |score| of M with test = Fix(row)",
        highlight=[cols.index(e) for e in expected],
    )
    pi = symmetry.representation(batch.sym)
    examples = [singles[len(singles) // 2]] + [
        b for b, run in enumerate(batch.runs) if run.kind != "one"
    ]
    panels = []
    for b in examples:
        top = records[b]["features"]["top"][0]
        held = " + ".join(records[b]["setting"]["held_out"])
        panels.append(
            {
                "M": np.asarray(result.M[b]),
                "pi": pi[top["element"]],
                "title": f"{batch.task.name}, test = Fix({held}): M (train "
                f"{records[b]['train_acc'][-1]:.0%}, test {records[b]['test_acc'][-1]:.0%})",
                "pi_title": f"$\\Pi$({plotting.element_tex(top['name'])}): "
                f"score {top['score']:+.3f}, pair share {top['pair_share']:.3f}",
            }
        )
    plotting.matrices_with_representations(panels, path=paths[1])
    return paths


def curve_panel(batch: TaskBatch, records) -> dict:
    singles = batch.singles()
    curves = np.abs([records[b]["features"]["curves"]["score"] for b in singles])
    return {
        "title": batch.task.name,
        "ylabel": "|score| of the building reflection",
        "series": {"mean over reflections": curves.mean(0), "min over reflections": curves.min(0)},
        "test_acc": {"mean": np.mean([records[b]["test_acc"] for b in singles], axis=0)},
    }


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    batches, config, budget = plan(args)
    all_records, rows, figures, curve_panels = [], [], [], []
    for batch in batches:
        print(f"{batch.task.name}: {len(batch.runs)} partitions, {config.iterations} iterations")
        splits = partition.degenerate_splits(batch.sym, [run.reflections for run in batch.runs])
        result, parts = sweep.run_splits(
            batch.task, config, splits, bandwidth=args.bandwidth, memory_budget=budget
        )
        records = sweep.run_records([batch.setting(run) for run in batch.runs], result, parts)
        expected = [run.expected for run in batch.runs]
        measures = measure.feature_records(
            batch.sym, result, records, splits, expected, top=args.top
        )
        print_batch(batch, records)
        kinds = dict.fromkeys(run.kind for run in batch.runs)
        rows.extend(summary_row(batch, records, kind) for kind in kinds)
        all_records.extend(records)
        figures += figures_for(batch, records, result, measures, args.out)
        curve_panels.append(curve_panel(batch, records))

    from grokrfm import plotting

    plotting.measure_curves(curve_panels, path=f"{args.out}/score_curves.png")
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
            "tasks": [b.task.name for b in batches],
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
