"""The symmetry trap for networks (beyond arXiv 2604.00316; docs/science.md Q): hold out the fixed
points of the reflection s on x+y mod p, move m random training points or m reflected pairs {x, s x}
to the test set, and train both a network and Gaussian RFM on every partition.

    python -m experiments.network_trap          # x+y mod 41, 5 seeds, 50 epochs; RFM 30 iterations
    python -m experiments.network_trap --quick  # x+y mod 19, 2 seeds, 100 epochs; RFM 15 iterations

The partitions are those of the RFM experiments (``grokrfm.partition.moved_splits``:
seed s moves the points chosen by ``PRNGKey(s)``); RFM runs through
``grokrfm.sweep.perturbation_sweep`` (resumable chunks under ``OUT/rfm_<move>``), the
networks (float32) through one vmapped ``grokrfm.network.train_batch`` over every
partition and seed. A network's initialisation is random, so unlike RFM it runs m = 0
once per seed too. Writes ``OUT/results.json`` and ``OUT/trap.png`` (final test accuracy
against m, networks and RFM side by side).
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import (
    cli,
    experiment,
    families,
    network,
    partition,
    report,
    results,
    rfm,
    sweep,
    symmetry,
    tasks,
)
from grokrfm.errors import InvalidArgument

# The moves swept, each with its counts m (paper-sized and --quick).
MOVED = {
    "points": cli.Sized((0, 1, 10, 100), (0, 1, 10)),
    "pairs": cli.Sized((1, 10, 100), (1, 10)),
}
RFM_POWER, RFM_RIDGE = 0.5, 0.0
COLUMNS = [
    ("model", "model"),
    ("move", "move"),
    ("moved", "m"),
    ("seeds", "seeds"),
    ("train_acc_mean", "train"),
    ("test_acc_mean", "test"),
    ("test_acc_std", "± std"),
    ("test_acc_min", "min"),
    ("test_acc_max", "max"),
    ("fixed_point_acc_mean", "fixed pts"),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.network_trap", description=__doc__.split("\n\n")[0]
    )
    cli.add_common_arguments(
        parser, out="results/network_trap", seeds=cli.Sized(5, 2), iterations=cli.Sized(30, 15)
    )
    parser.add_argument("--op", default="x+y", help=f"operation, one of {tasks.OPERATIONS} (x+y)")
    cli.add_sized(parser, "--p", cli.Sized(41, 19), "modulus", type=int)
    parser.add_argument(
        "--reflection", default="0", help="k of the held-out reflection sr^k (0: s)"
    )
    for move, counts in MOVED.items():
        text = f"m {partition.MOVES[move].description} moved to test"
        cli.add_sized(parser, f"--{move}", counts, text, type=int, nargs="+", metavar="M")
    parser.add_argument("--no-rfm", action="store_true", help="networks only")
    cli.add_network_arguments(parser, epochs=cli.Sized(50, 100))
    return parser.parse_args(argv)


class NetworkTrapOptions(NamedTuple):
    """The resolved, validated command line (:func:`options_from_args`).

    Attributes:
      k: the held-out reflection sr^k's k, as given.
      reflection: its element index in ``sym``.
      base: the degenerate split (test = its fixed points).
      moves: ``{move: counts m}``, as given.
      with_rfm: run RFM beside the networks (no ``--no-rfm``).
    """

    task: tasks.Task
    sym: symmetry.SymmetryGroup
    k: str
    reflection: int
    base: partition.Split
    moves: dict[str, tuple[int, ...]]
    seeds: list[int]
    network_config: network.NetworkConfig
    rfm_config: rfm.RFMConfig
    with_rfm: bool
    bandwidth: float
    chunk_runs: int | None
    memory_budget: int | None


def options_from_args(args: argparse.Namespace) -> NetworkTrapOptions:
    """Every flag resolved and validated, before any compute.

    Raises:
      InvalidArgument: naming ``op``, ``p``, ``reflection``, ``points``, ``pairs``,
        ``seeds``, ``iters``, ``bandwidth``, ``chunk_runs``, ``memory_budget`` or a
        network flag.
    """
    task = tasks.make_task(args.op, p=cli.sized(args, "p"))
    sym = symmetry.symmetry_group(task)
    (reflection,) = symmetry.reflections(sym, [args.reflection], "reflection")
    base = partition.degenerate_split(sym, [reflection])
    moves = {}
    for name in MOVED:
        counts = tuple(cli.sized(args, name))
        move = partition.MOVES[name]
        labels = sym.orbits([reflection]) if move.by_orbit else None
        partition.check_move_count(base, counts, move.source, name, orbit_labels=labels)
        if len(set(counts)) != len(counts):
            raise InvalidArgument(name, f"repeated counts in {list(counts)}")
        moves[name] = counts
    rfm.check_scalars(bandwidth=args.bandwidth)
    return NetworkTrapOptions(
        task=task,
        sym=sym,
        k=args.reflection,
        reflection=reflection,
        base=base,
        moves=moves,
        seeds=cli.check_seeds(cli.sized(args, "seeds")),
        network_config=cli.network_config_from_args(args),
        rfm_config=experiment.kernel_config("gaussian", cli.sized(args, "iters")),
        with_rfm=not args.no_rfm,
        bandwidth=args.bandwidth,
        chunk_runs=cli.chunk_runs_from_args(args),
        memory_budget=cli.memory_budget_from_args(args),
    )


def _described(move: str) -> str:
    """What a move name moves, in words ("" for m = 0, move ``"none"``)."""
    return partition.MOVES[move].description if move in partition.MOVES else ""


def network_batch(options: NetworkTrapOptions) -> families.Batch:
    """Every (move, m, seed) partition, m = 0 (move ``"none"``) once per seed since a
    network's initialisation is random, the moved points as in the RFM sweeps."""
    parts = []
    labels = options.sym.orbits([options.reflection])
    for move, counts in options.moves.items():
        positive = [m for m in counts if m]
        if positive:
            splits, settings = partition.moved_splits(
                options.base, positive, options.seeds, move, orbit_labels=labels
            )
            parts.append(families.Batch(splits, settings).labelled(move=move))
    if any(0 in counts for counts in options.moves.values()):
        zero = [{"move": "none", "moved": 0, "seed": s} for s in options.seeds]
        parts.append(families.replicate(options.base, zero))
    return families.concatenate(parts).labelled(model="network")


def fixed_point_accuracy(options: NetworkTrapOptions, params: network.Params) -> np.ndarray:
    """``(B,)``: each network's accuracy on the fixed points of the held-out reflection
    (every run holds them out)."""
    task = options.task
    fixed = np.asarray(options.sym.fixed_points([options.reflection]))
    x = jnp.asarray(task.inputs(np.float64)[fixed], params.w1.dtype)
    pred = np.asarray(jax.vmap(network.apply, (0, None))(params, x))
    return (pred.argmax(-1) == task.labels[fixed][None, :]).mean(axis=1)


def run_networks(options: NetworkTrapOptions) -> tuple[list[dict], float]:
    """Train a network on every partition of :func:`network_batch` in one call; its
    initialisation and minibatches come from ``fold_in(PRNGKey(seed), 1)``."""
    batch = network_batch(options)
    parts = partition.to_partitions(batch.splits)
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(d["seed"]), 1) for d in batch.settings])
    held_out = symmetry.reflection_label(options.sym, options.reflection)
    print(
        f"networks: {options.task.name}, {held_out} held out, {batch.size} runs, "
        f"{options.network_config.epochs} epochs"
    )
    start = time.perf_counter()
    result = network.train_batch(options.task, options.network_config, keys, parts)
    jax.block_until_ready(result)
    wall = time.perf_counter() - start
    records = sweep.network_records(batch.settings, result, parts)
    for record, acc in zip(records, fixed_point_accuracy(options, result.params), strict=True):
        record["fixed_point_acc"] = float(acc)
    return records, wall


def run_rfm(options: NetworkTrapOptions, out: str) -> tuple[list[dict], float]:
    """One resumable RFM sweep per move over m = 0 and its counts; m = 0 (move
    ``"none"``) kept once."""
    records, wall = {}, 0.0
    for move, counts in options.moves.items():
        counts = tuple(sorted(set(counts) | {0}))
        print(
            f"RFM (Gaussian, {options.rfm_config.iterations} iterations): {_described(move)} "
            f"m = {list(counts)}"
        )
        done = sweep.perturbation_sweep(
            options.task,
            options.rfm_config,
            [options.k],
            move,
            counts,
            options.seeds,
            f"{out}/rfm_{move}",
            bandwidth=options.bandwidth,
            ridge=RFM_RIDGE,
            power=RFM_POWER,
            chunk_runs=options.chunk_runs,
            memory_budget=options.memory_budget,
            setting={"move": move, "model": "rfm"},
        )
        wall += done.wall_s
        for r in done.records:
            if r["setting"]["moved"] == 0:
                r["setting"]["move"] = "none"
            records.setdefault((r["setting"]["move"], r["setting"]["moved"], r["seed"]), r)
    return list(records.values()), wall


def summarize(records: list[dict]) -> list[dict]:
    """One row per (model, move, m), in the order first met: final accuracies over the
    seeds (mean, std, min, max), and for networks the accuracy on the fixed points.

    (:func:`grokrfm.report.summarize` needs RFM's ``solve_ok``, which network records
    do not have.)
    """
    groups: dict = {}
    for r in records:
        s = r["setting"]
        groups.setdefault((s["model"], s["move"], s["moved"]), []).append(r)
    rows = []
    for (model, move, moved), runs in groups.items():
        test = np.array([r["test_acc"][-1] for r in runs])
        row = {
            "model": model,
            "move": move,
            "moved": moved,
            "seeds": len(runs),
            "n_train": int(np.mean([r["n_train"] for r in runs])),
            "n_test": int(np.mean([r["n_test"] for r in runs])),
            "train_acc_mean": report.mean_std([r["train_acc"][-1] for r in runs])[0],
            "test_acc_mean": report.mean_std(test)[0],
            "test_acc_std": report.mean_std(test)[1],
            "test_acc_min": float(np.nanmin(test)),
            "test_acc_max": float(np.nanmax(test)),
            "grokking_epochs": [r.get("grokking_epoch") for r in runs],
            "stabilizer_orders": sorted({r.get("stabilizer_order") for r in runs} - {None}),
        }
        if model == "network":
            fixed = [r["fixed_point_acc"] for r in runs]
            row.update(
                fixed_point_acc_mean=report.mean_std(fixed)[0],
                fixed_point_acc_std=report.mean_std(fixed)[1],
            )
        rows.append(row)
    return rows


def comparison(row: dict, setting: str) -> dict:
    """A summary row beside the paper: RFM never generalises on the degenerate
    partition (m = 0); the paper says nothing of the rest."""
    degenerate = row["moved"] == 0
    return report.comparison(
        f"test acc, m = {row['moved']} {_described(row['move'])}".strip(),
        f"{row['model']} {setting}",
        experiment.DEGENERATE_TEST_ACC if (row["model"] == "rfm" and degenerate) else None,
        row,
        "arXiv 2604.00316, Table 1: degenerate partitions never generalise (RFM)"
        if degenerate
        else "",
    )


def plot(records: list[dict], moves, path: str, title: str) -> None:
    """Final test and train accuracy against m, one curve per move and a panel per
    model; each curve starts at m = 0 (the degenerate partition), shared by both moves."""
    from grokrfm import plotting

    plotted = []
    for r in records:
        for move in moves if r["setting"]["move"] == "none" else [r["setting"]["move"]]:
            model = "network" if r["setting"]["model"] == "network" else "RFM (Gaussian)"
            setting = {**r["setting"], "move": partition.MOVES[move].description, "model": model}
            plotted.append({**r, "setting": setting})
    plotting.final_accuracy_vs_moved(
        plotted,
        path=path,
        curve_key="move",
        panel_key="model",
        metrics=("test_acc", "train_acc"),
        xlabel="m moved from train to test",
        title=title,
    )


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    options = options_from_args(args)
    task = options.task
    held_out = symmetry.reflection_label(options.sym, options.reflection)
    net_records, network_wall = run_networks(options)
    rfm_records, rfm_wall = run_rfm(options, args.out) if options.with_rfm else ([], 0.0)
    rows = summarize(net_records) + summarize(rfm_records)
    print(report.format_table(rows, COLUMNS))
    run_config = {
        "quick": bool(args.quick),
        "task": task.name,
        "held_out": held_out,
        "moves": {k: list(v) for k, v in options.moves.items()},
        "seeds": options.seeds,
        "network": options.network_config._asdict(),
        "rfm": {
            **options.rfm_config._asdict(),
            "bandwidth": options.bandwidth,
            "ridge": RFM_RIDGE,
            "power": RFM_POWER,
        },
        "network_wall_s": network_wall,
        "rfm_wall_s": rfm_wall,
    }
    payload = results.write_results(
        args.out,
        "network_trap",
        run_config,
        rows,
        net_records + rfm_records,
        [comparison(row, f"{task.name}, {held_out}") for row in rows],
    )
    from grokrfm import plotting

    plot(
        net_records + rfm_records,
        options.moves,
        f"{args.out}/trap.png",
        f"{task.name}, fixed points of {plotting.element_tex(held_out)} held out "
        f"({len(options.seeds)} seeds)",
    )
    print(f"wrote {args.out}/results.json and {args.out}/trap.png")
    return payload


if __name__ == "__main__":
    main()
