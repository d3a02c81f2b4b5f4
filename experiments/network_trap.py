"""The symmetry trap for networks (PAPER.md section 7): hold out the fixed points of the
reflection s on x+y mod p, move m random training points or m reflected pairs
{x, s x} to the test set, and train both a network and Gaussian RFM on every partition.

    python -m experiments.network_trap          # x+y mod 41, 5 seeds, 50 epochs; RFM 30 iterations
    python -m experiments.network_trap --quick  # x+y mod 19, 2 seeds, 100 epochs; RFM 15 iterations

The partitions are those of the RFM experiments (``grokrfm.experiment.check_sweep``
and ``grokrfm.sweep.moved_splits``: seed s moves the points chosen by ``PRNGKey(s)``);
RFM runs through ``grokrfm.experiment.perturbation_sweep`` (resumable chunks under
``OUT/rfm_<move>``), the networks (float32) through one vmapped
``grokrfm.network.train_batch`` over every partition and seed. A network's
initialisation is random, so unlike RFM it runs m = 0 once per seed too. Writes
``OUT/results.json`` and ``OUT/trap.png`` (final test accuracy against m, networks
and RFM side by side).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import (
    cli,
    experiment,
    network,
    partition,
    report,
    results,
    sweep,
    symmetry,
    tasks,
)


def _described(move: str) -> str:
    """What a move name moves, in words ("" for a name that is not a move)."""
    return partition.MOVES[move].description if move in partition.MOVES else ""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.network_trap", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (about a minute)")
    parser.add_argument("--op", default="x+y", help="operation (x+y)")
    parser.add_argument("--p", type=int, default=None, help="modulus (41; quick 19)")
    parser.add_argument(
        "--reflection", default="0", help="k of the held-out reflection sr^k (0: s)"
    )
    parser.add_argument(
        "--points", type=int, nargs="+", default=None, help="m random points (0 1 10 100)"
    )
    parser.add_argument(
        "--pairs", type=int, nargs="+", default=None, help="m reflected pairs (1 10 100)"
    )
    parser.add_argument("--seeds", type=int, default=None, help="seeds (5; quick 2)")
    parser.add_argument("--rfm-iters", type=int, default=None, help="RFM iterations (30; quick 15)")
    parser.add_argument("--no-rfm", action="store_true", help="networks only")
    cli.add_network_arguments(parser, epochs=cli.Sized(50, 100))
    parser.add_argument("--out", default="results/network_trap", help="output folder")
    return parser.parse_args(argv)


def network_splits(sym, refl, base, moves: dict, seeds):
    """Every (move, m, seed) partition, m = 0 once per seed (a network's initialisation
    is random), the moved points as in the RFM sweeps. Returns ``(splits, settings)``."""
    all_splits, settings = [], []
    for move, counts in moves.items():
        positive = [m for m in counts if m]
        if positive:
            splits, s = partition.moved_splits(
                base, positive, seeds, move, orbit_labels=sym.orbits(refl)
            )
            all_splits.append(splits)
            settings += [{"move": move, **d} for d in s]
    zero = any(0 in counts for counts in moves.values())
    if zero:
        all_splits.append(jax.tree.map(lambda x: jnp.stack([x] * len(seeds)), base))
        settings += [{"move": "none", "moved": 0, "seed": s} for s in seeds]
    splits = jax.tree.map(lambda *xs: jnp.concatenate(xs), *all_splits)
    return splits, settings


def summarize(records: list[dict], model: str) -> list[dict]:
    """One row per (move, m): final accuracies over seeds (mean, std, min, max)."""
    groups: dict = {}
    for r in records:
        groups.setdefault((r["setting"]["move"], r["setting"]["moved"]), []).append(r)
    rows = []
    for (move, moved), runs in groups.items():
        test = np.array([r["test_acc"][-1] for r in runs])
        rows.append(
            {
                "model": model,
                "move": move,
                "moved": moved,
                "seeds": len(runs),
                "n_train": int(np.mean([r["n_train"] for r in runs])),
                "n_test": int(np.mean([r["n_test"] for r in runs])),
                "train_acc_mean": float(np.mean([r["train_acc"][-1] for r in runs])),
                "test_acc_mean": float(test.mean()),
                "test_acc_std": float(test.std()),
                "test_acc_min": float(test.min()),
                "test_acc_max": float(test.max()),
                "grokking_epochs": [r.get("grokking_epoch") for r in runs],
                "stabilizer_orders": sorted({r.get("stabilizer_order") for r in runs} - {None}),
            }
        )
    return rows


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    config = cli.network_config_from_args(args)
    p = args.p or (19 if args.quick else 41)
    seeds = cli.check_seeds(args.seeds or (2 if args.quick else 5))
    iters = args.rfm_iters or (15 if args.quick else 30)
    task = tasks.make_task(args.op, p=p)
    moves = {
        "points": tuple(args.points if args.points is not None else (0, 1, 10, 100)),
        "pairs": tuple(args.pairs if args.pairs is not None else (1, 10, 100)),
    }
    if args.quick and args.points is None:
        moves["points"] = (0, 1, 10)
    if args.quick and args.pairs is None:
        moves["pairs"] = (1, 10)
    sym, refl, base = sweep.check_sweep(task, [args.reflection], "points", moves["points"])
    sweep.check_sweep(task, [args.reflection], "pairs", moves["pairs"])
    rfm_config = experiment.kernel_config("gaussian", iters)
    held_out = symmetry.reflection_label(sym, refl[0])

    splits, settings = network_splits(sym, refl, base, moves, seeds)
    parts = partition.to_partitions(splits)
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(d["seed"]), 1) for d in settings])
    print(
        f"networks: {task.name}, {held_out} held out, {len(settings)} runs, {config.epochs} epochs"
    )
    start = time.perf_counter()
    result = network.train_batch(task, config, keys, parts)
    jax.block_until_ready(result)
    network_wall = time.perf_counter() - start
    net_records = sweep.network_records(settings, result, parts)
    # Accuracy on the fixed points of the reflection alone (every run holds them out).
    fixed = np.asarray(sym.fixed_points(refl))
    x = jnp.asarray(task.inputs(np.float64)[fixed], result.params.w1.dtype)
    pred = np.asarray(jax.vmap(network.apply, (0, None))(result.params, x))
    fixed_acc = (pred.argmax(-1) == task.labels[fixed][None, :]).mean(axis=1)
    for record, acc in zip(net_records, fixed_acc, strict=True):
        record["fixed_point_acc"] = float(acc)
        record["setting"]["model"] = "network"

    rfm_records = []
    rfm_wall = 0.0
    if not args.no_rfm:
        for move, counts in moves.items():
            counts = tuple(sorted(set(counts) | {0}))
            print(f"RFM (Gaussian, {iters} iterations): {_described(move)} m = {list(counts)}")
            done = sweep.perturbation_sweep(
                task,
                rfm_config,
                [args.reflection],
                move,
                counts,
                seeds,
                f"{args.out}/rfm_{move}",
                setting={"move": move, "model": "rfm"},
            )
            rfm_wall += done.wall_s
            rfm_records += done.records
    for r in rfm_records:
        if r["setting"]["moved"] == 0:
            r["setting"]["move"] = "none"
    # m = 0 was run once per RFM sweep; keep one copy.
    seen, unique = set(), []
    for r in rfm_records:
        key = (r["setting"]["move"], r["setting"]["moved"], r["seed"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    rfm_records = unique

    rows = summarize(net_records, "network") + summarize(rfm_records, "rfm")
    for row in rows:
        if row["model"] == "network":
            accs = [
                r["fixed_point_acc"]
                for r in net_records
                if r["setting"]["move"] == row["move"] and r["setting"]["moved"] == row["moved"]
            ]
            row["fixed_point_acc_mean"] = float(np.mean(accs))
            row["fixed_point_acc_std"] = float(np.std(accs))
    print(
        report.format_table(
            rows,
            [
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
            ],
        )
    )
    comparison = [
        {
            "quantity": f"test acc, m = {row['moved']} {_described(row['move'])}".strip(),
            "setting": f"{row['model']} {task.name}, {held_out}",
            "paper": 0.0 if (row["model"] == "rfm" and row["moved"] == 0) else None,
            "measured_mean": row["test_acc_mean"],
            "measured_std": row["test_acc_std"],
            "train_acc_mean": row["train_acc_mean"],
            "seeds": row["seeds"],
            "note": "PAPER.md 5.2: degenerate partitions never generalise (RFM)"
            if row["moved"] == 0
            else "",
        }
        for row in rows
    ]
    run_config = {
        "quick": bool(args.quick),
        "task": task.name,
        "held_out": held_out,
        "moves": {k: list(v) for k, v in moves.items()},
        "seeds": seeds,
        "network": config._asdict(),
        "rfm": {**rfm_config._asdict(), "bandwidth": 2.5, "ridge": 0.0, "power": 0.5},
        "network_wall_s": network_wall,
        "rfm_wall_s": rfm_wall,
    }
    payload = results.write_results(
        args.out, "network_trap", run_config, rows, net_records + rfm_records, comparison
    )
    from grokrfm import plotting

    # Each curve starts at m = 0 (the degenerate partition), shared by both moves.
    plotted = []
    for r in net_records + rfm_records:
        for move in moves if r["setting"]["move"] == "none" else [r["setting"]["move"]]:
            model = "network" if r["setting"]["model"] == "network" else "RFM (Gaussian)"
            setting = {**r["setting"], "move": partition.MOVES[move].description, "model": model}
            plotted.append({**r, "setting": setting})
    plotting.final_accuracy_vs_moved(
        plotted,
        f"{args.out}/trap.png",
        curve_key="move",
        panel_key="model",
        metrics=("test_acc", "train_acc"),
        xlabel="m moved from train to test",
        title=f"{task.name}, fixed points of {held_out} held out ({len(seeds)} seeds)",
    )
    print(f"wrote {args.out}/results.json and {args.out}/trap.png")
    return payload


if __name__ == "__main__":
    main()
