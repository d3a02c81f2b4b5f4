"""Finding 4.1 (arXiv 2604.00316, Finding 4.1; docs/science.md R8): M0 from a degenerate run
predicts which test points RFM gets right on a random split; and the M0 transfer between
reflections.

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
exact solve interpolates them with huge coefficients; a ridge of 1e-8 averages them.
Both are run (``--ridges``, default ``0 1e-8``) and reported separately, each with two
solves (``--solves``): ``paper``, the published code's convention (the general LU solve,
squared distances clamped only below zero), and ``cholesky``, this package's default
(Cholesky, distances within a few ulps of zero set to 0), which at ridge 0 breaks down
on some of these systems (the kernel matrix is numerically indefinite); a run whose
solve failed is counted, never scored.
Writes ``OUT/results.json`` and ``OUT/orbits.png`` (the grid: train, correct and wrong
test points, T outlined, the reflection's axis).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import cli, experiment, partition, report, results, rfm, sweep, symmetry, tasks
from grokrfm.analysis import orbits
from grokrfm.errors import InvalidArgument

P = cli.Sized(29, 13)
ITERATIONS = cli.Sized(60, 20)
SEEDS = cli.Sized(1, 1)


class OrbitTask(NamedTuple):
    """One task and the reflections (element indices) whose M0 is tried on it."""

    task: tasks.Task
    sym: symmetry.SymmetryGroup
    reflections: tuple[int, ...]
    transfer: int | None  # the held-out reflection of the transfer, on this task


# The solves Finding 4.1 is run with, as RFMConfig fields. "paper" is the published
# code's solve, which checks no residual: a run counts as solved when its coefficients
# are finite, and each summary reports the largest residual its runs left.
SOLVES = {
    "paper": {**rfm.PAPER_SOLVE, "residual_limit": float("inf")},
    "cholesky": {"solver": "lapack", "distances": "tolerance", "residual_limit": None},
}


class OrbitOptions(NamedTuple):
    """The resolved command line every batch shares (``config``: one solve's)."""

    config: rfm.RFMConfig
    seeds: list[int]
    ridges: list[float]
    fraction: float
    bandwidth: float
    budget: int | None
    solves: tuple[str, ...] = tuple(SOLVES)

    def solve_name(self) -> str:
        """Which of :data:`SOLVES` ``config`` is."""
        return next(
            name
            for name, fields in SOLVES.items()
            if all(getattr(self.config, k) == v for k, v in fields.items())
        )


class OrbitRuns(NamedTuple):
    """The settings of the orbit batch, one ``(B,)`` array each (batch order).

    Attributes:
      ridge: the ridge of each run.
      seed: the seed of its random split.
      start: which M0 it starts from: ``i`` is M_k for the i-th reflection of the
        :class:`OrbitTask`, ``len(reflections)`` is the identity.
    """

    ridge: np.ndarray
    seed: np.ndarray
    start: np.ndarray


class TransferRuns(NamedTuple):
    """The settings of the transfer batch (test = Fix(transfer) in every run), ``(B,)``.

    Attributes:
      ridge: the ridge of each run.
      start: M0 = M_k for the ``start``-th reflection of the :class:`OrbitTask`.
    """

    ridge: np.ndarray
    start: np.ndarray


def product(runs: type[NamedTuple], *axes) -> NamedTuple:
    """``runs`` with one ``(B,)`` array per field: every combination of ``axes`` (one
    sequence per field), the first axis slowest."""
    grids = np.meshgrid(*(np.asarray(a) for a in axes), indexing="ij")
    return runs(*(g.ravel() for g in grids))


def first_run(runs: NamedTuple, **fields) -> int:
    """The batch index of the first run whose settings have the given values."""
    match = np.logical_and.reduce([getattr(runs, k) == v for k, v in fields.items()])
    return int(np.flatnonzero(match)[0])


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.orbit_predictions", description=__doc__.split("\n\n")[0]
    )
    cli.add_common_arguments(
        parser,
        out="results/orbit_predictions",
        seeds=SEEDS,
        iterations=ITERATIONS,
        seeds_help="random splits",
        chunks=False,
    )
    cli.add_sized(parser, "--p", P, "modulus of x+y, x-y", type=int)
    parser.add_argument("--ops", nargs="*", default=["x+y", "x-y"], help="operations (x+y x-y)")
    parser.add_argument(
        "--group", type=int, nargs="+", default=[5, 7], metavar="N", help="product factors (5 7)"
    )
    parser.add_argument("--product-reflection", default="2,3", help="the product's sr^k (2,3)")
    parser.add_argument("--no-product", action="store_true", help="skip the product group")
    parser.add_argument("--transfer-k", default="0", help="held-out sr^k of the transfer (0)")
    parser.add_argument("--no-transfer", action="store_true", help="skip the transfer")
    parser.add_argument(
        "--ridges",
        type=float,
        nargs="+",
        default=[0.0, 1e-8],
        metavar="R",
        help="ridges, each run and reported separately (0 1e-8)",
    )
    parser.add_argument(
        "--solves",
        nargs="+",
        choices=list(SOLVES),
        default=list(SOLVES),
        help="solves, each run and reported separately (paper cholesky)",
    )
    parser.add_argument("--fraction", type=float, default=0.5, help="random split (0.5)")
    return parser.parse_args(argv)


def plan(args) -> tuple[list[OrbitTask], OrbitOptions]:
    """The tasks and options, validated before any compute."""
    config = rfm.RFMConfig("gaussian", cli.sized(args, "iters")).validate()
    seeds = cli.check_seeds(cli.sized(args, "seeds"))
    rfm.check_scalars(bandwidth=args.bandwidth)
    for r in args.ridges:
        if not (np.isfinite(r) and r >= 0):
            raise InvalidArgument("ridges", f"must be finite and >= 0, got {r}")
    if len(set(args.ridges)) != len(args.ridges):
        raise InvalidArgument("ridges", f"give each ridge once, got {args.ridges}")
    if len(set(args.solves)) != len(args.solves):
        raise InvalidArgument("solves", f"give each solve once, got {args.solves}")
    partition.check_fraction(args.fraction)
    budget = cli.memory_budget_from_args(args)
    rows = []
    for op in args.ops:
        if op not in ("x+y", "x-y"):
            raise InvalidArgument("ops", f"orbit predictions are for x+y and x-y, got {op!r}")
        task = tasks.make_task(op, p=cli.sized(args, "p"))
        sym = symmetry.symmetry_group(task)
        transfer = None
        if op == "x+y" and not args.no_transfer:
            transfer = sym.reflection(args.transfer_k, "transfer_k")
        rows.append(OrbitTask(task, sym, tuple(range(task.n, 2 * task.n)), transfer))
    if not args.no_product:
        task = tasks.make_task("x+y", group=args.group)
        sym = symmetry.symmetry_group(task)
        refl = sym.reflection(args.product_reflection, "product_reflection")
        rows.append(OrbitTask(task, sym, (refl,), None))
    if not rows:
        raise InvalidArgument("ops", "nothing to run: give --ops or drop --no-product")
    for row in rows:
        partition.train_count(row.task.n_points, args.fraction)
    options = OrbitOptions(
        config, seeds, list(args.ridges), args.fraction, args.bandwidth, budget, tuple(args.solves)
    )
    return rows, options


class OrbitBatch(NamedTuple):
    """A finished batch: its records (with the fields of :func:`orbits.orbit_fields`),
    which grid points each run got right, Finding 4.1's prediction and the splits."""

    records: list[dict]
    correct: jax.Array
    orbit: orbits.OrbitPrediction
    splits: partition.Split


def run_batch(row: OrbitTask, opts: OrbitOptions, splits, ridges, M0, masks, settings):
    """Run ``splits`` from ``M0`` at ``ridges`` (one per run) in one call, and compare
    what each run got right with the orbit of its subgroup ``masks`` (one per run)."""
    result, parts = sweep.run_splits(
        row.task, opts.config, splits, opts.bandwidth, ridges, M0=M0, memory_budget=opts.budget
    )
    correct, orbit = orbits.outcomes(
        row.sym, opts.config.kernel, result, parts, splits, masks, opts.bandwidth
    )
    records = sweep.run_records(settings, result, parts)
    for r, extra in zip(records, orbits.orbit_fields(correct, orbit, splits), strict=True):
        r.update(extra)
    return OrbitBatch(records, correct, orbit, splits)


def reflection_masks(row: OrbitTask) -> np.ndarray:
    """``(R, |G|)`` the subgroup {id, sr^k} of each of the row's reflections."""
    return np.stack([symmetry.subgroup_mask(row.sym, [e]) for e in row.reflections])


def run_orbits(row: OrbitTask, M: jax.Array, opts: OrbitOptions) -> tuple[OrbitRuns, OrbitBatch]:
    """Random splits from every M_k and from I, for every (ridge, seed): one batch."""
    sym, R = row.sym, len(row.reflections)
    runs = product(OrbitRuns, opts.ridges, opts.seeds, np.arange(R + 1))
    starts = jnp.concatenate([M, jnp.eye(2 * row.task.n, dtype=M.dtype)[None]])
    masks = np.concatenate([reflection_masks(row), symmetry.subgroup_mask(sym, [])[None]])
    labels = [sym.names[e] for e in row.reflections] + ["I"]
    settings = [
        {
            "task": row.task.name,
            "part": "orbits",
            "solve": opts.solve_name(),
            "ridge": float(r),
            "M0": labels[k],
            "seed": int(s),
        }
        for r, s, k in zip(*runs, strict=True)
    ]
    splits = partition.fraction_splits(row.task.n_points, opts.fraction, runs.seed)
    batch = run_batch(
        row, opts, splits, runs.ridge, starts[runs.start], masks[runs.start], settings
    )
    return runs, batch


def run_transfer(
    row: OrbitTask, M: jax.Array, opts: OrbitOptions
) -> tuple[TransferRuns, OrbitBatch]:
    """Fix(sr^k) held out, M0 = M_m for every m, every ridge: one batch."""
    sym = row.sym
    runs = product(TransferRuns, opts.ridges, np.arange(len(row.reflections)))
    settings = [
        {
            "task": row.task.name,
            "part": "transfer",
            "solve": opts.solve_name(),
            "ridge": float(r),
            "held_out": sym.names[row.transfer],
            "M0": sym.names[row.reflections[k]],
        }
        for r, k in zip(*runs, strict=True)
    ]
    held = partition.degenerate_splits(sym, [[row.transfer]] * len(runs.start))
    masks = reflection_masks(row)[runs.start]
    return runs, run_batch(row, opts, held, runs.ridge, M[runs.start], masks, settings)


def _stats(values) -> tuple[float | None, float | None, float | None]:
    """Mean, sample std and minimum of the measured values (None/NaN left out)."""
    mean, std = report.mean_std(values)
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return mean, std, (min(finite) if finite else None)


def _fraction(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _fraction_e(value) -> str:
    return "-" if value is None else f"{value:.1e}"


def _largest(curves) -> float | None:
    """The largest finite value over every run's curve (None if there is none)."""
    values = report.finite([v for curve in curves for v in curve])
    return float(values.max()) if values.size else None


def _at(records: list[dict], solve: str, ridge: float) -> list[dict]:
    return [r for r in records if r["setting"]["ridge"] == ridge and r["setting"]["solve"] == solve]


def orbit_summary(task: tasks.Task, records: list[dict], solve: str, ridge: float, fraction: float):
    """Summary row and paper comparisons of one task's orbit runs at one solve and ridge."""
    mine = _at(records, solve, ridge)
    learned = [r for r in mine if r["setting"]["M0"] != "I"]
    baseline = [r for r in mine if r["setting"]["M0"] == "I"]
    # A run whose solve failed has no predictor to compare: it is counted, not averaged.
    solved = [r for r in learned if all(r["solve_ok"])]
    p_mean, p_std, p_min = _stats([r["precision"] for r in solved])
    r_mean, r_std, r_min = _stats([r["recall"] for r in solved])
    row = {
        "task": task.name,
        "part": "orbits",
        "solve": solve,
        "ridge": ridge,
        "runs": len(learned),
        "train_acc_mean": report.mean_std([r["train_acc"][-1] for r in learned])[0],
        "test_acc_mean": report.mean_std([r["test_acc"][-1] for r in learned])[0],
        "baseline_test_acc": report.mean_std([r["test_acc"][-1] for r in baseline])[0],
        "precision_mean": p_mean,
        "precision_min": p_min,
        "recall_mean": r_mean,
        "recall_min": r_min,
        "exact": sum(r["n_both"] == r["n_predicted"] == r["n_correct_test"] for r in solved),
        "solve_failures": sum(not all(r["solve_ok"]) for r in learned),
        "residual_max": _largest([r["residual"] for r in learned]),
    }
    setting = (
        f"gaussian {task.name}, M0 from Fix(sr^k) held out, random {fraction:.0%}, "
        f"{solve} solve, ridge {ridge:g}"
    )
    note = (
        f"C = T exactly in {row['exact']} of {len(solved)} solved runs; test acc "
        f"{_fraction(row['test_acc_mean'])} (M0 = I: {_fraction(row['baseline_test_acc'])}); "
        f"{row['solve_failures']} runs with a failed solve, left out; largest solve "
        f"residual {_fraction_e(row['residual_max'])}"
    )
    comparison = [
        {
            "quantity": f"{what} of Orbit_H(train) \\ train vs correct test points",
            "setting": setting,
            "paper": 1.0,
            "measured_mean": mean,
            "measured_std": std,
            "train_acc_mean": row["train_acc_mean"],
            "seeds": len(solved),
            "failed_runs": row["solve_failures"],
            "note": note,
        }
        for what, mean, std in (("precision", p_mean, p_std), ("recall", r_mean, r_std))
    ]
    return row, comparison


def transfer_summary(row: OrbitTask, records: list[dict], solve: str, ridge: float):
    mine = _at(records, solve, ridge)
    name = row.sym.names[row.transfer]
    other = [r for r in mine if r["setting"]["M0"] != name]
    same = [r for r in mine if r["setting"]["M0"] == name][0]
    finals = report.finite([r["test_acc"][-1] for r in other])
    summary = {
        "task": row.task.name,
        "part": "transfer",
        "solve": solve,
        "ridge": ridge,
        "held_out": name,
        "runs": len(other),
        "train_acc_mean": report.mean_std([r["train_acc"][-1] for r in other])[0],
        "test_acc_mean": float(finals.mean()) if finals.size else None,
        "test_acc_min": float(finals.min()) if finals.size else None,
        "all_correct": int((finals == 1.0).sum()),
        "same_reflection_test_acc": same["test_acc"][-1],
        "solve_failures": sum(not all(r["solve_ok"]) for r in other),
    }
    setting = f"gaussian {row.task.name}, test = Fix({name}), {solve} solve, ridge {ridge:g}"
    comparison = [
        {
            "quantity": "test accuracy with M0 from Fix(sr^m) held out, m != k",
            "setting": setting,
            "paper": 1.0,
            "measured_mean": summary["test_acc_mean"],
            "measured_std": report.mean_std(finals)[1],
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


def grid_panel(sym, batch: OrbitBatch, b: int, axis_element: int, title: str) -> dict:
    """Run ``b`` of ``batch`` on the grid, with the fixed points of ``axis_element``."""
    return {
        "n": sym.task.n,
        "train": np.asarray(batch.splits.train[b]),
        "test": np.asarray(batch.splits.test[b]),
        "correct": np.asarray(batch.correct[b]),
        "predicted": np.asarray(batch.orbit.predicted[b]),
        "axis": sym.fixed_points([axis_element]),
        "title": title,
    }


def print_runs(records: list[dict]) -> None:
    keys = (
        "solve",
        "ridge",
        "M0",
        "seed",
        "train",
        "test",
        "|T|",
        "|C|",
        "|T&C|",
        "precision",
        "recall",
    )
    shown = [
        dict(
            zip(
                keys,
                (
                    r["setting"]["solve"],
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


def run_row(row: OrbitTask, opts: OrbitOptions, panels: list) -> tuple[list, list, list]:
    """One task under one solve (``opts.config``): the degenerate runs that learn every
    M_k, the orbit batch and the transfer. Returns ``(records, summary, comparison)``
    and appends grid panels (first solve only) to ``panels``."""
    task, sym, solve = row.task, row.sym, opts.solve_name()
    records_out, summary, comparison = [], [], []
    draw = solve == opts.solves[0]
    print(
        f"{task.name}, {solve} solve: degenerate runs for {len(row.reflections)} reflections, "
        f"then a random {opts.fraction:.0%} split from each M0 and from I; ridges {opts.ridges}"
    )
    degenerate = partition.degenerate_splits(sym, [[e] for e in row.reflections])
    deg_result, _ = sweep.run_splits(
        task, opts.config, degenerate, opts.bandwidth, memory_budget=opts.budget
    )
    runs, batch = run_orbits(row, deg_result.M, opts)
    records = batch.records
    print_runs(records)
    records_out.extend(records)
    for ridge in opts.ridges:
        s, c = orbit_summary(task, records, solve, ridge, opts.fraction)
        s["degenerate_test_acc_max"] = float(np.max(deg_result.metrics.test_acc[:, -1]))
        s["degenerate_solve_failures"] = int(
            (~np.asarray(deg_result.metrics.solve_ok)).any(-1).sum()
        )
        summary.append(s)
        comparison.extend(c)
    # Grid figures: the last ridge's first-seed runs for up to three reflections.
    R = len(row.reflections)
    for i in dict.fromkeys([0, R // 2, R - 1]) if draw else ():
        b = first_run(runs, ridge=opts.ridges[-1], seed=opts.seeds[0], start=i)
        title = (
            f"{task.name}, $M_0$ from {sym.names[row.reflections[i]]}, "
            f"{solve} solve, ridge {opts.ridges[-1]:g}"
            f"\nprecision {records[b]['precision']:.2f}, recall {records[b]['recall']:.2f}"
        )
        panels.append(grid_panel(sym, batch, b, row.reflections[i], title))
    if row.transfer is None:
        return records_out, summary, comparison
    t_runs, transfer = run_transfer(row, deg_result.M, opts)
    records_out.extend(transfer.records)
    print(f"transfer: test = Fix({sym.names[row.transfer]}), M0 from each sr^m")
    print_runs(transfer.records)
    for ridge in opts.ridges:
        s, c = transfer_summary(row, transfer.records, solve, ridge)
        summary.append(s)
        comparison.extend(c)
    if draw:
        other = next(i for i, e in enumerate(row.reflections) if e != row.transfer)
        b = first_run(t_runs, ridge=opts.ridges[-1], start=other)
        title = (
            f"transfer: test = Fix({sym.names[row.transfer]}),\n"
            f"$M_0$ from {sym.names[row.reflections[other]]}, {solve} solve, "
            f"ridge {opts.ridges[-1]:g}"
        )
        panels.append(grid_panel(sym, transfer, b, row.transfer, title))
    return records_out, summary, comparison


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    rows, opts = plan(args)
    all_records, summary, comparison, panels = [], [], [], []
    for row in rows:
        for solve in opts.solves:
            config = opts.config._replace(**SOLVES[solve]).validate()
            records, s, c = run_row(row, opts._replace(config=config), panels)
            all_records.extend(records)
            summary.extend(s)
            comparison.extend(c)

    print(report.format_comparison(comparison))
    from grokrfm import plotting

    plotting.grid_outcomes(panels, path=f"{args.out}/orbits.png")
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
            "solves": {
                name: {k: str(v) if k == "residual_limit" else v for k, v in SOLVES[name].items()}
                for name in opts.solves
            },
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
