"""Table 1 of the paper: Gaussian and quadratic kernels on x+y (test = fixed points of s)
and x*y (fixed points of sr^35), p = 61, m random training points moved to the test set.

    python -m experiments.table1            # paper-sized: p = 61, 60 iterations, 5 seeds
    python -m experiments.table1 --quick    # CPU minutes: p = 23, 25 iterations, 2 seeds

Each (kernel, operation) row group is one batched sweep over (m, seed), saved in chunks
under ``OUT/<kernel>_<op>_<reflection>/`` so that an interrupted run resumes. Writes
``OUT/results.json`` (with every measured value beside the paper's) and
``OUT/table1.png``, and prints the table.
"""

from __future__ import annotations

import argparse

from grokrfm import cli, experiment, report, results, rfm, sweep, tasks
from grokrfm.errors import InvalidArgument

# (kernel, op, reflection, counts, {m: the paper's value}); PAPER.md section 5 item 2.
# The paper's x*y rows are not quoted in PAPER.md, so they are reported without one.
PAPER_ROWS = [
    ("gaussian", "x+y", "0", [0, 1], {0: 0.0, 1: 0.98}),
    ("quadratic", "x+y", "0", [0, 100, 200], {0: 0.0, 100: "62-70%", 200: "80-91%"}),
    ("gaussian", "x*y", "35", [0, 1, 10], {}),
    ("quadratic", "x*y", "35", [0, 100, 200], {}),
]
# The same row groups scaled down: p = 23 has 529 points instead of 3721 (about 1/7).
QUICK_ROWS = [
    ("gaussian", "x+y", "0", [0, 1], {}),
    ("quadratic", "x+y", "0", [0, 15, 30], {}),
    ("gaussian", "x*y", "7", [0, 1, 3], {}),
    ("quadratic", "x*y", "7", [0, 15, 30], {}),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.table1", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (minutes)")
    parser.add_argument("--p", type=int, default=None, help="modulus (default 61; quick 23)")
    parser.add_argument("--iters", type=int, default=None, help="iterations (60; quick 25)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per row (5; quick 2)")
    parser.add_argument("--bandwidth", type=float, default=2.5, help="Gaussian L (2.5)")
    parser.add_argument(
        "--chunk-runs", type=int, default=1, metavar="R", help="runs per saved chunk (1)"
    )
    parser.add_argument("--memory-budget", type=float, default=None, metavar="GIB")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="TEXT",
        help="run only the row groups whose folder name contains one of these "
        "(e.g. gaussian, or quadratic_add)",
    )
    parser.add_argument("--out", default="results/table1", help="output folder")
    return parser.parse_args(argv)


def reflection_name(reflection: str) -> str:
    return "s" if reflection == "0" else f"sr^{reflection}"


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    p = args.p or (23 if args.quick else 61)
    iters = args.iters or (25 if args.quick else 60)
    seeds = cli.check_seeds(args.seeds or (2 if args.quick else 5))
    budget = cli.memory_budget_from_args(args)
    chunk_runs = cli.chunk_runs_from_args(args)
    rfm.check_scalars(bandwidth=args.bandwidth)
    rows = QUICK_ROWS if args.quick else PAPER_ROWS
    # Validate every row group (tasks, reflections, counts) before any compute.
    plans = []
    for kernel, op, reflection, counts, paper in rows:
        task = tasks.make_task(op, p=p)
        config = experiment.kernel_config(kernel, iters)
        sweep.check_sweep(task, [reflection], "points", counts)
        folder = (
            f"{kernel}_{tasks.OPERATION_SLUGS[op]}_{reflection_name(reflection).replace('^', '')}"
        )
        if args.only and not any(text in folder for text in args.only):
            continue
        plans.append((task, config, kernel, op, reflection, counts, paper, folder))
    if not plans:
        raise InvalidArgument("only", f"no row group's folder contains any of {args.only}")

    summary, runs, comparison = [], [], []
    for task, config, kernel, op, reflection, counts, paper, folder in plans:
        name = reflection_name(reflection)
        label = f"{kernel} {op}, {name}"
        print(f"{label} mod {p}: m = {counts}, {len(seeds)} seeds, {iters} iterations")
        done = sweep.perturbation_sweep(
            task,
            config,
            [reflection],
            "points",
            counts,
            seeds,
            f"{args.out}/{folder}",
            bandwidth=args.bandwidth,
            chunk_runs=chunk_runs,
            memory_budget=budget,
            setting={"kernel": kernel, "op": op, "reflection": name},
        )
        rows = report.summarize(done.records)
        summary.extend(rows)
        runs.extend(done.records)
        for row in rows:
            m = row["moved"]
            entry = report.comparison(
                f"test accuracy, m = {m}", f"{label} mod {p}", paper.get(m), row
            )
            comparison.append({**entry, "stabilizer_order": row["stabilizer_order_max"]})

    print(report.format_comparison(comparison))
    payload = results.write_results(
        args.out,
        "table1",
        {
            "p": p,
            "iterations": iters,
            "seeds": seeds,
            "bandwidth": args.bandwidth,
            "quick": args.quick,
            "only": args.only,
            "rows": [plan[2:6] for plan in plans],
        },
        summary,
        runs,
        comparison,
    )
    from grokrfm import plotting

    plotting.comparison_bars(comparison, f"{args.out}/table1.png", title=f"Table 1, p = {p}")
    print(f"wrote {args.out}/results.json and {args.out}/table1.png")
    return payload


if __name__ == "__main__":
    main()
