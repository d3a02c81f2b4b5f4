"""Symmetry breaking (arXiv 2604.00316, §3, Table 1; docs/science.md R1–R2): hold out the fixed
points of reflections, move m random training points to the test set, and watch RFM generalise.

    python -m experiments.symmetry_breaking                       # CPU-sized default
    python -m experiments.symmetry_breaking --p 61 --iters 60     # the paper's headline

All (moved x seeds) runs are one vmapped call, or chunks of one (``--chunk-runs``) saved
as they finish, so a rerun resumes. Writes ``OUT/results.json`` and
``OUT/test_accuracy.png`` and prints a summary table.
"""

from __future__ import annotations

import argparse

from grokrfm import cli, partition, report, results, sweep


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
        choices=sorted(partition.MOVES),
        default="points",
        help="what --moved counts: random training points moved to test (default), "
        "reflected pairs (whole orbits of the reflections' subgroup) moved to test, or "
        "fixed points moved from test into training",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per setting (default 3)")
    parser.add_argument(
        "--out", default="results/symmetry_breaking", type=cli.output_folder, help="output folder"
    )
    return parser.parse_args(argv)


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    # Every flag is validated before any compute.
    task = cli.task_from_args(args)
    config = cli.config_from_args(args)
    sweep.check_sweep(task, args.reflections, args.move, args.moved)
    seeds = cli.check_seeds(args.seeds)
    budget = cli.memory_budget_from_args(args)
    chunk_runs = cli.chunk_runs_from_args(args)
    print(
        f"{task.name}: {config.kernel} kernel, {config.iterations} iterations; moving "
        f"{args.move} {args.moved} with {len(seeds)} seeds"
    )
    done = sweep.perturbation_sweep(
        task,
        config,
        args.reflections,
        args.move,
        args.moved,
        seeds,
        args.out,
        bandwidth=args.bandwidth,
        ridge=args.ridge,
        power=args.power,
        chunk_runs=chunk_runs,
        memory_budget=budget,
    )
    records, names, wall = done
    rows = report.summarize(records)
    print(
        report.format_table(
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

    run_config = {
        **cli.run_config(task, config, args),
        "reflections": names,
        "moved": args.moved,
        "move": args.move,
        "seeds": seeds,
    }
    arrays = {"arrays": "runs.npz"} if config.save_every else {}
    payload = results.write_results(
        args.out, "symmetry_breaking", run_config, rows, records, wall_time_s=wall, **arrays
    )
    from grokrfm import plotting

    plotting.accuracy_curves(
        records,
        "moved",
        path=f"{args.out}/test_accuracy.png",
        title=f"{task.name}, test = fixed points of "
        f"{', '.join(plotting.element_tex(name) for name in names)} ({config.kernel})",
    )
    print(f"wrote {args.out}/results.json and {args.out}/test_accuracy.png")
    return payload


if __name__ == "__main__":
    main()
