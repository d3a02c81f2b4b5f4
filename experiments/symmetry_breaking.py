"""Symmetry breaking (PAPER.md section 5, items 1-2): hold out the fixed points of
reflections, move m random training points to the test set, and watch RFM generalise.

    python -m experiments.symmetry_breaking                       # CPU-sized default
    python -m experiments.symmetry_breaking --p 61 --iters 60     # the paper's headline

All (moved x seeds) runs are one vmapped call, or chunks of one (``--chunk-runs``) saved
as they finish, so a rerun resumes. Writes ``OUT/results.json`` and
``OUT/test_accuracy.png`` and prints a summary table.
"""

from __future__ import annotations

import argparse
import time

from grokrfm import runtime

runtime.configure()

from grokrfm import cli, partition, results, sweep, symmetry  # noqa: E402

MOVES = {"points": "train_to_test", "pairs": "orbits_to_test", "fixed": "test_to_train"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.symmetry_breaking",
        description=__doc__.split("\n\n")[0],
    )
    cli.add_task_arguments(parser, op="x+y", p=41)
    cli.add_rfm_arguments(parser, iters=30)
    parser.add_argument(
        "--reflections",
        nargs="+",
        default=None,
        metavar="K",
        help="hold out the fixed points of sr^K (K an element: 35, or 3,2 for products); "
        "default: the identity, i.e. s",
    )
    parser.add_argument(
        "--moved",
        type=int,
        nargs="+",
        default=[0, 1, 10],
        metavar="M",
        help="numbers of random training points moved to the test set (default 0 1 10)",
    )
    parser.add_argument(
        "--move",
        choices=sorted(MOVES),
        default="points",
        help="what --moved counts: random training points moved to test (default), "
        "reflected pairs (whole orbits of the reflections' subgroup) moved to test, or "
        "fixed points moved from test into training",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per setting (default 3)")
    parser.add_argument("--out", default="results/symmetry_breaking", help="output folder")
    return parser.parse_args(argv)


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    # Everything is validated before any compute.
    task = cli.task_from_args(args)
    config = cli.config_from_args(args)
    seeds = cli.check_seeds(args.seeds)
    budget = cli.memory_budget_from_args(args)
    chunk_runs = cli.chunk_runs_from_args(args)
    sym = symmetry.symmetry_group(task)
    reflection_values = args.reflections or [task.group.element_names[task.group.identity]]
    refl = symmetry.reflections(sym, reflection_values)
    base = partition.degenerate_split(sym, refl)
    splits, settings = sweep.moved_splits(
        base, args.moved, seeds, MOVES[args.move], orbit_labels=sym.orbits(refl)
    )
    names = [sym.names[e] for e in refl]
    print(
        f"{task.name}: test = fixed points of {', '.join(names)}; moving {args.move}; "
        f"{config.kernel} kernel, {config.iterations} iterations; {len(settings)} runs"
    )

    def stabilizer_orders(records, chunk_splits, _result):
        # Finding 3.1's diagnosis beside each run: how large a symmetry its partition keeps.
        kept = symmetry.stabilizing_elements(sym, chunk_splits.train, chunk_splits.test)
        for record, order in zip(records, kept.sum(axis=-1), strict=True):
            record["stabilizer_order"] = int(order)

    start = time.perf_counter()
    records = sweep.run_chunked(
        task,
        config,
        splits,
        settings,
        args.out,
        chunk_runs=chunk_runs,
        bandwidth=args.bandwidth,
        ridge=args.ridge,
        power=args.power,
        memory_budget=budget,
        annotate=stabilizer_orders,
    )
    wall = time.perf_counter() - start
    rows = sweep.summarize(records)
    print(
        sweep.format_table(
            rows,
            [
                ("moved", "moved"),
                ("n_train", "n_train"),
                ("n_test", "n_test"),
                ("seeds", "seeds"),
                ("train_acc_mean", "train acc"),
                ("test_acc_mean", "test acc"),
                ("test_acc_std", "± std"),
                ("test_acc_min", "min"),
                ("test_acc_max", "max"),
                ("median_iteration_reached", "iter ≥90%"),
                ("stabilizer_order_max", "|stab|"),
                ("solve_failures", "solve fails"),
            ],
        )
    )
    print(f"wall time {wall:.1f} s for {len(records)} runs (compile included)")

    payload = {
        "experiment": "symmetry_breaking",
        "config": {
            "task": task.name,
            "op": task.op,
            "group": task.group.name,
            "kernel": config.kernel,
            "bandwidth": args.bandwidth,
            "ridge": args.ridge,
            "power": args.power,
            "iterations": config.iterations,
            "centre": config.centre,
            "normalize": config.normalize,
            "reflections": names,
            "moved": args.moved,
            "move": args.move,
            "seeds": seeds,
        },
        "environment": results.environment(),
        "wall_time_s": wall,
        "summary": rows,
        "runs": records,
    }
    path = results.write_json(f"{args.out}/results.json", payload)
    from grokrfm import plotting

    plotting.accuracy_curves(
        records,
        "moved",
        f"{args.out}/test_accuracy.png",
        title=f"{task.name}, test = fixed points of {', '.join(names)} ({config.kernel})",
    )
    print(f"wrote {path} and {args.out}/test_accuracy.png")
    return payload


if __name__ == "__main__":
    main()
