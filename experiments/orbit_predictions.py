"""Finding 4.1 (PAPER.md 5.8): M0 from a degenerate run predicts which test points RFM gets
right on a random split; and the M0 transfer between reflections.

    python -m experiments.orbit_predictions            # x+y, x-y mod 29, Z5 x Z7; 60 iterations
    python -m experiments.orbit_predictions --quick    # x+y, x-y mod 13, Z5 x Z7; 20 iterations

Orbits: for each reflection sr^k, M_k is the feature matrix learned with the fixed points
of sr^k held out; RFM then trains on a random 50% split from M0 = M_k (the same split for
every k; and from M0 = I as a baseline). The predicted set is T = Orbit_H(train) \\ train
for H = {id, sr^k}, the test points whose mirror image under sr^k was trained on;
precision |T & C| / |T| and recall |T & C| / |C| against the correctly classified test
points C (the paper: 100% / 100% for every reflection of x+y and x-y mod 29 and for
Z5 x Z7 with sr^(2,3)).

Transfer: on x+y the fixed points of sr^k are held out (k = --transfer-k, default 0) and
RFM starts from M_m for every m (the paper: every test point correct for m != k).

M_k is singular up to round-off: it maps the differences of sr^k's fixed points to ~0
(eigenvalues ~1e-8 after the square root), so every fixed point of sr^k in a training
set sits at distance ~1e-8 from the others with a different label. At ridge 0 the
exact solve interpolates them with huge coefficients (or fails); a ridge of 1e-8 averages
them. Both are run (``--ridges``, default ``0 1e-8``) and reported separately.
Writes ``OUT/results.json`` and ``OUT/orbits.png`` (the grid: train, correct and wrong
test points, T outlined, the reflection's axis).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import jax
import jax.numpy as jnp
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
from grokrfm.analysis import orbits
from grokrfm.errors import InvalidArgument


class Row(NamedTuple):
    """One task and the reflections (element indices) whose M0 is tried on it."""

    task: tasks.Task
    sym: symmetry.SymmetryGroup
    reflections: list[int]
    transfer: int | None  # the held-out reflection of the transfer, on this row's task


class Options(NamedTuple):
    config: rfm.RFMConfig
    seeds: list[int]
    ridges: list[float]
    fraction: float
    bandwidth: float
    budget: int | None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.orbit_predictions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (a few minutes)")
    parser.add_argument("--p", type=int, default=None, help="modulus of x+y, x-y (29; quick 13)")
    parser.add_argument("--ops", nargs="*", default=["x+y", "x-y"], help="operations (x+y x-y)")
    parser.add_argument("--group", type=int, nargs="+", default=[5, 7], metavar="N")
    parser.add_argument("--product-reflection", default="2,3", help="the product's sr^k (2,3)")
    parser.add_argument("--no-product", action="store_true", help="skip the product group")
    parser.add_argument("--transfer-k", default="0", help="held-out sr^k of the transfer (0)")
    parser.add_argument("--no-transfer", action="store_true", help="skip the transfer")
    parser.add_argument("--ridges", type=float, nargs="+", default=[0.0, 1e-8], metavar="R")
    parser.add_argument("--fraction", type=float, default=0.5, help="random split (0.5)")
    parser.add_argument("--seeds", type=int, default=1, help="random splits (1)")
    parser.add_argument("--iters", type=int, default=None, help="iterations (60; quick 20)")
    parser.add_argument("--bandwidth", type=float, default=2.5, help="Gaussian L (2.5)")
    parser.add_argument("--memory-budget", type=float, default=None, metavar="GIB")
    parser.add_argument("--out", default="results/orbit_predictions", help="output folder")
    return parser.parse_args(argv)


def plan(args) -> tuple[list[Row], Options]:
    """The rows and options, validated before any compute."""
    p = args.p or (13 if args.quick else 29)
    config = rfm.RFMConfig("gaussian", args.iters or (20 if args.quick else 60)).validate()
    rfm.check_scalars(bandwidth=args.bandwidth, ridge=args.ridges)
    partition.check_fraction(args.fraction)
    rows = []
    for op in args.ops:
        if op not in ("x+y", "x-y"):
            raise InvalidArgument("ops", f"orbit predictions are for x+y and x-y, got {op!r}")
        task = tasks.make_task(op, p=p)
        sym = symmetry.symmetry_group(task)
        transfer = None
        if op == "x+y" and not args.no_transfer:
            transfer = sym.reflection(args.transfer_k, "transfer_k")
        rows.append(Row(task, sym, list(range(task.n, 2 * task.n)), transfer))
    if not args.no_product:
        task = tasks.make_task("x+y", group=args.group)
        sym = symmetry.symmetry_group(task)
        refl = sym.reflection(args.product_reflection, "product_reflection")
        rows.append(Row(task, sym, [refl], None))
    if not rows:
        raise InvalidArgument("ops", "nothing to run: give --ops or drop --no-product")
    for row in rows:
        partition.train_count(row.task.n_points, args.fraction)
    options = Options(
        config,
        cli.check_seeds(args.seeds),
        list(args.ridges),
        args.fraction,
        args.bandwidth,
        cli.memory_budget_from_args(args),
    )
    return rows, options


def run_orbits(row: Row, M: jax.Array, opts: Options):
    """Random splits from every M_k and from I, for every (ridge, seed): one batch.

    Returns ``(records, correct, orbit, splits)``, runs ordered ridge, seed, M0.
    """
    task, sym = row.task, row.sym
    per_seed = len(row.reflections) + 1
    eye = jnp.eye(2 * task.n, dtype=M.dtype)[None]
    M0_one = jnp.concatenate([M, eye])  # (R + 1, 2n, 2n)
    reps = len(opts.ridges) * len(opts.seeds)
    splits = partition.fraction_splits(task.n_points, opts.fraction, opts.seeds, per_seed)
    splits = jax.tree.map(lambda x: jnp.tile(x, (len(opts.ridges), 1)), splits)
    M0 = jnp.tile(M0_one, (reps, 1, 1))
    ridges = np.repeat(opts.ridges, len(opts.seeds) * per_seed)
    result, parts = sweep.run_splits(
        task, opts.config, splits, opts.bandwidth, ridges, M0=M0, memory_budget=opts.budget
    )
    masks = np.stack(
        [symmetry.subgroup_mask(sym, [e]) for e in row.reflections]
        + [symmetry.subgroup_mask(sym, [])]
    )
    masks = np.tile(masks, (reps, 1))
    correct, orbit = orbits.outcomes(
        sym, opts.config.kernel, result, parts, splits, masks, opts.bandwidth
    )
    labels = [sym.names[e] for e in row.reflections] + ["I"]
    settings = [
        {"task": task.name, "part": "orbits", "ridge": float(r), "M0": label, "seed": s}
        for r in opts.ridges
        for s in opts.seeds
        for label in labels
    ]
    records = sweep.run_records(settings, result, parts)
    for r, extra in zip(records, orbits.orbit_fields(correct, orbit, splits), strict=True):
        r.update(extra)
    return records, correct, orbit, splits


def run_transfer(row: Row, M: jax.Array, opts: Options):
    """Fix(sr^k) held out, M0 = M_m for every m, every ridge: one batch."""
    task, sym = row.task, row.sym
    R = len(row.reflections)
    held = partition.degenerate_splits(sym, [[row.transfer]] * (R * len(opts.ridges)))
    M0 = jnp.tile(M, (len(opts.ridges), 1, 1))
    ridges = np.repeat(opts.ridges, R)
    result, parts = sweep.run_splits(
        task, opts.config, held, opts.bandwidth, ridges, M0=M0, memory_budget=opts.budget
    )
    masks = np.tile(
        np.stack([symmetry.subgroup_mask(sym, [e]) for e in row.reflections]),
        (
            len(opts.ridges),
            1,
        ),
    )
    correct, orbit = orbits.outcomes(
        sym, opts.config.kernel, result, parts, held, masks, opts.bandwidth
    )
    settings = [
        {
            "task": task.name,
            "part": "transfer",
            "ridge": float(r),
            "held_out": sym.names[row.transfer],
            "M0": sym.names[e],
        }
        for r in opts.ridges
        for e in row.reflections
    ]
    records = sweep.run_records(settings, result, parts)
    for r, extra in zip(records, orbits.orbit_fields(correct, orbit, held), strict=True):
        r.update(extra)
    return records, correct, orbit, held


def _stats(values) -> tuple[float, float, float]:
    v = np.asarray(values, float)
    if v.size == 0 or np.isnan(v).all():
        return float("nan"), float("nan"), float("nan")
    return float(np.nanmean(v)), float(np.nanstd(v)), float(np.nanmin(v))


def orbit_summary(task: tasks.Task, records: list[dict], ridge: float, fraction: float):
    """Summary row and paper comparisons of one task's orbit runs at one ridge."""
    mine = [r for r in records if r["setting"]["ridge"] == ridge]
    learned = [r for r in mine if r["setting"]["M0"] != "I"]
    baseline = [r for r in mine if r["setting"]["M0"] == "I"]
    p_mean, p_std, p_min = _stats([r["precision"] for r in learned])
    r_mean, r_std, r_min = _stats([r["recall"] for r in learned])
    row = {
        "task": task.name,
        "part": "orbits",
        "ridge": ridge,
        "runs": len(learned),
        "train_acc_mean": float(np.mean([r["train_acc"][-1] for r in learned])),
        "test_acc_mean": float(np.mean([r["test_acc"][-1] for r in learned])),
        "baseline_test_acc": float(np.mean([r["test_acc"][-1] for r in baseline])),
        "precision_mean": p_mean,
        "precision_min": p_min,
        "recall_mean": r_mean,
        "recall_min": r_min,
        "exact": sum(r["n_both"] == r["n_predicted"] == r["n_correct_test"] for r in learned),
        "solve_failures": sum(not all(r["solve_ok"]) for r in learned),
    }
    setting = (
        f"gaussian {task.name}, M0 from Fix(sr^k) held out, random {fraction:.0%}, ridge {ridge:g}"
    )
    note = (
        f"C = T exactly in {row['exact']} of {row['runs']} runs; test acc "
        f"{row['test_acc_mean']:.3f} (M0 = I: {row['baseline_test_acc']:.3f}); "
        f"{row['solve_failures']} runs with a failed solve"
    )
    comparison = [
        {
            "quantity": f"{what} of Orbit_H(train) \\ train vs correct test points",
            "setting": setting,
            "paper": 1.0,
            "measured_mean": mean,
            "measured_std": std,
            "train_acc_mean": row["train_acc_mean"],
            "seeds": row["runs"],
            "note": note,
        }
        for what, mean, std in (("precision", p_mean, p_std), ("recall", r_mean, r_std))
    ]
    return row, comparison


def transfer_summary(row: Row, records: list[dict], ridge: float):
    mine = [r for r in records if r["setting"]["ridge"] == ridge]
    name = row.sym.names[row.transfer]
    other = [r for r in mine if r["setting"]["M0"] != name]
    same = [r for r in mine if r["setting"]["M0"] == name][0]
    finals = np.array([r["test_acc"][-1] for r in other])
    summary = {
        "task": row.task.name,
        "part": "transfer",
        "ridge": ridge,
        "held_out": name,
        "runs": len(other),
        "train_acc_mean": float(np.mean([r["train_acc"][-1] for r in other])),
        "test_acc_mean": float(finals.mean()),
        "test_acc_min": float(finals.min()),
        "all_correct": int((finals == 1.0).sum()),
        "same_reflection_test_acc": same["test_acc"][-1],
        "solve_failures": sum(not all(r["solve_ok"]) for r in other),
    }
    setting = f"gaussian {row.task.name}, test = Fix({name}), ridge {ridge:g}"
    comparison = [
        {
            "quantity": "test accuracy with M0 from Fix(sr^m) held out, m != k",
            "setting": setting,
            "paper": 1.0,
            "measured_mean": summary["test_acc_mean"],
            "measured_std": float(finals.std()),
            "train_acc_mean": summary["train_acc_mean"],
            "seeds": len(other),
            "note": f"every test point correct for {summary['all_correct']} of {len(other)} m; "
            f"{summary['solve_failures']} runs with a failed solve",
        },
        {
            "quantity": "test accuracy with M0 from the same reflection (m = k)",
            "setting": setting,
            "paper": experiment.DEGENERATE_TEST_ACC,
            "measured_mean": same["test_acc"][-1],
            "measured_std": 0.0,
            "train_acc_mean": same["train_acc"][-1],
            "seeds": 1,
            "note": "control: the partition keeps {id, sr^k}",
        },
    ]
    return summary, comparison


def grid_panel(sym, b, splits, correct, orbit, axis_element, title) -> dict:
    return {
        "n": sym.task.n,
        "train": np.asarray(splits.train[b]),
        "test": np.asarray(splits.test[b]),
        "correct": np.asarray(correct[b]),
        "predicted": np.asarray(orbit.predicted[b]),
        "axis": sym.fixed_points([axis_element]),
        "title": title,
    }


def print_runs(records: list[dict]) -> None:
    keys = ("ridge", "M0", "seed", "train", "test", "|T|", "|C|", "|T&C|", "precision", "recall")
    shown = [
        dict(
            zip(
                keys,
                (
                    r["setting"]["ridge"],
                    r["setting"]["M0"],
                    r["seed"],
                    r["train_acc"][-1],
                    r["test_acc"][-1],
                    r["n_predicted"],
                    r["n_correct_test"],
                    r["n_both"],
                    r["precision"],
                    r["recall"],
                ),
                strict=True,
            )
        )
        for r in records
    ]
    print(report.format_table(shown, [(k, k) for k in keys]))


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    rows, opts = plan(args)
    all_records, summary, comparison, panels = [], [], [], []
    for row in rows:
        task, sym = row.task, row.sym
        print(
            f"{task.name}: degenerate runs for {len(row.reflections)} reflections, then a random "
            f"{opts.fraction:.0%} split from each M0 and from I; ridges {opts.ridges}"
        )
        degenerate = partition.degenerate_splits(sym, [[e] for e in row.reflections])
        deg_result, _ = sweep.run_splits(
            task, opts.config, degenerate, opts.bandwidth, memory_budget=opts.budget
        )
        records, correct, orbit, splits = run_orbits(row, deg_result.M, opts)
        print_runs(records)
        all_records.extend(records)
        for ridge in opts.ridges:
            s, c = orbit_summary(task, records, ridge, opts.fraction)
            s["degenerate_test_acc_max"] = float(np.max(deg_result.metrics.test_acc[:, -1]))
            summary.append(s)
            comparison.extend(c)
        # Grid figures: the last ridge's first-seed runs for up to three reflections.
        R = len(row.reflections)
        offset = (len(opts.ridges) - 1) * len(opts.seeds) * (R + 1)
        for i in dict.fromkeys([0, R // 2, R - 1]):
            b = offset + i
            title = (
                f"{task.name}, M0 from {sym.names[row.reflections[i]]}, ridge {opts.ridges[-1]:g}"
                f"\nprecision {records[b]['precision']:.2f}, recall {records[b]['recall']:.2f}"
            )
            panels.append(grid_panel(sym, b, splits, correct, orbit, row.reflections[i], title))
        if row.transfer is None:
            continue
        t_records, t_correct, t_orbit, held = run_transfer(row, deg_result.M, opts)
        all_records.extend(t_records)
        print(f"transfer: test = Fix({sym.names[row.transfer]}), M0 from each sr^m")
        print_runs(t_records)
        for ridge in opts.ridges:
            s, c = transfer_summary(row, t_records, ridge)
            summary.append(s)
            comparison.extend(c)
        b = (len(opts.ridges) - 1) * R + next(
            i for i, e in enumerate(row.reflections) if e != row.transfer
        )
        m = t_records[b]["setting"]["M0"]
        title = (
            f"transfer: test = Fix({sym.names[row.transfer]}),\n"
            f"M0 from {m}, ridge {opts.ridges[-1]:g}"
        )
        panels.append(grid_panel(sym, b, held, t_correct, t_orbit, row.transfer, title))

    print(report.format_comparison(comparison))
    from grokrfm import plotting

    plotting.grid_outcomes(panels, f"{args.out}/orbits.png")
    payload = results.write_results(
        args.out,
        "orbit_predictions",
        {
            "quick": args.quick,
            "iterations": opts.config.iterations,
            "bandwidth": opts.bandwidth,
            "fraction": opts.fraction,
            "seeds": opts.seeds,
            "ridges": opts.ridges,
            "tasks": [r.task.name for r in rows],
        },
        summary,
        all_records,
        comparison,
        figures=[f"{args.out}/orbits.png"],
    )
    print(f"wrote {args.out}/results.json and {args.out}/orbits.png")
    return payload


if __name__ == "__main__":
    main()
