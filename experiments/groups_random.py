"""RFM on random partitions of groups beyond Z_p: does it grok, and at which training
fraction? With the representation score naming what the learned M encodes.

    python -m experiments.groups_random            # 9 groups, fractions 0.2-0.9, 5 seeds
    python -m experiments.groups_random --quick    # CPU minute: 4 groups, 3 fractions, 2 seeds
    python -m experiments.groups_random --networks # and the x^2 network on the same splits

Each group's task is ``a . b`` (:func:`grokrfm.tasks.group_task`); the Gaussian kernel
(L = 2.5) throughout. The score is taken over the task's computed symmetry group
(:func:`grokrfm.computed_symmetry.feature_group`: the whole autotopism group when small,
else a subgroup holding the label-preserving elements); ``top`` is the element class
with the largest partial cosine, ``lp_energy`` the fraction of M~'s energy in the span of
the label-preserving elements' Pi(g). Writes ``OUT/results.json`` and
``OUT/transition.png`` (final test accuracy against training fraction, one curve per
group). With ``--networks`` the network of :mod:`grokrfm.network` (float32, AdamW; the
network flags set its width and epochs) trains on the very same splits, seeded by the
run's seed, and each row gains ``network_test_acc``: does a network learn the group
where RFM does not?
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import cli, experiment, network, partition, report, results, sweep, tasks
from grokrfm import computed_symmetry as cs
from grokrfm.analysis import curves, representation

GROUPS = ("Z3xZ3", "Z2xZ4", "Z2^3", "Z3^3", "S3", "D4", "Q8", "A4", "S4")
QUICK_GROUPS = ("Z3xZ3", "S3", "Q8", "A4")
FRACTIONS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
QUICK_FRACTIONS = (0.3, 0.6, 0.9)
THRESHOLD = 0.9  # "groks": final test accuracy at least this


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.groups_random", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (a minute)")
    parser.add_argument("--groups", nargs="+", default=None, help=f"default {GROUPS}")
    parser.add_argument("--fractions", type=float, nargs="+", default=None)
    parser.add_argument("--seeds", type=int, default=None, help="seeds (5; quick 2)")
    parser.add_argument("--iters", type=int, default=None, help="RFM iterations (60; quick 20)")
    parser.add_argument("--bandwidth", type=float, default=2.5, help="Gaussian L (2.5)")
    parser.add_argument(
        "--networks",
        action="store_true",
        help="also train the x^2 network (grokrfm.network) on the very same splits",
    )
    cli.add_network_arguments(parser, epochs=cli.Sized(400, 100))
    parser.add_argument("--out", default="results/groups_random", help="output folder")
    return parser.parse_args(argv)


def transition(rows: list[dict]) -> float | None:
    """The smallest training fraction whose mean final test accuracy reaches THRESHOLD."""
    hits = [r["fraction"] for r in rows if r["test_acc_mean"] >= THRESHOLD]
    return min(hits) if hits else None


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    names = args.groups or (QUICK_GROUPS if args.quick else GROUPS)
    fractions = args.fractions or (QUICK_FRACTIONS if args.quick else FRACTIONS)
    for r in fractions:
        partition.check_fraction(r, "fractions")
    seeds = cli.check_seeds(args.seeds if args.seeds is not None else (2 if args.quick else 5))
    iterations = args.iters if args.iters is not None else (20 if args.quick else 60)
    config = experiment.kernel_config("gaussian", iterations)
    net_config = cli.network_config_from_args(args) if args.networks else None
    task_list = [tasks.group_task(name) for name in names]  # validates every name first

    records, summary, groups_info = [], [], []
    for task in task_list:
        kind, fsym = cs.feature_group(task)
        lp = cs.label_preserving_group(task)
        basis = representation.score_basis(fsym)
        # The energy in span{Pi(g): g label-preserving} needs a least-squares solve on
        # that span's Gram matrix, so it is taken in the small lp basis, not the big one.
        lp_basis = representation.score_basis(lp)
        lp_mask = np.ones(lp.order, bool)
        settings = []
        parts = []
        for r in fractions:
            parts.append(partition.fraction_splits(task.n_points, r, seeds))
            settings += [{"group": task.group.name, "fraction": r, "seed": s} for s in seeds]
        splits = partition.concatenate(parts)
        result, partitions = sweep.run_splits(task, config, splits, bandwidth=args.bandwidth)
        runs = sweep.run_records(settings, result, partitions)
        scores = representation.batch_scores(result.M, basis)
        for b, run in enumerate(runs):
            one = jax.tree.map(lambda x, b=b: np.asarray(x)[b], scores)
            encoded = representation.matrix_report(fsym, one, top=3)
            lp_energy = representation.energy_report(result.M[b], lp_basis, {"lp": lp_mask})["lp"]
            run["features"] = {
                "top": encoded["top_name"],
                "top_score": encoded["top"][0]["score"],
                "identity_share": encoded["identity_share"],
                "lp_energy_beyond_identity": lp_energy["beyond_identity"],
            }
        if net_config is not None:
            # One vmapped call over every split of this group, each seeded by its run.
            keys = jnp.stack([jax.random.PRNGKey(r["seed"]) for r in runs])
            nets = network.train_batch(task, net_config, keys, partitions)
            net_acc = np.asarray(nets.metrics.test_acc)
            for b, run in enumerate(runs):
                run["network"] = {
                    "test_acc": float(net_acc[b, -1]),
                    "train_acc": float(np.asarray(nets.metrics.train_acc)[b, -1]),
                    "grokking_epoch": curves.first_iteration_at(net_acc[b], THRESHOLD, start=1),
                }
        rows = report.summarize(runs)
        for row in rows:
            same = [r for r in runs if r["setting"]["fraction"] == row["fraction"]]
            tops = [r["features"]["top"] for r in same]
            row["top"] = max(set(tops), key=tops.count)
            row["lp_energy"] = float(
                np.mean([r["features"]["lp_energy_beyond_identity"] for r in same])
            )
            if net_config is not None:
                accs = [r["network"]["test_acc"] for r in same]
                row["network_test_acc_mean"] = float(np.mean(accs))
                row["network_test_acc_std"] = float(np.std(accs))
        groups_info.append(
            {
                "group": task.group.name,
                "order": task.n,
                "abelian": tasks.is_abelian(task.group),
                "feature_group": kind,
                "feature_group_order": fsym.order,
                "label_preserving_order": lp.order,
                "transition_fraction": transition(rows),
            }
        )
        print(f"{task.name}: transition at {groups_info[-1]['transition_fraction']}")
        summary += rows
        records += runs

    columns = [
        ("group", "group"),
        ("fraction", "train frac"),
        ("seeds", "seeds"),
        ("test_acc_mean", "test acc"),
        ("test_acc_std", "std"),
        ("train_acc_mean", "train acc"),
        ("top", "top element of M"),
        ("lp_energy", "lp energy"),
    ]
    if net_config is not None:
        columns += [("network_test_acc_mean", "network test acc"), ("network_test_acc_std", "std")]
    print(report.format_table(summary, columns))
    print(report.format_table(groups_info, [(k, k) for k in groups_info[0]]))
    run_config = {
        "groups": list(names),
        "fractions": list(fractions),
        "seeds": seeds,
        "iterations": iterations,
        "kernel": "gaussian",
        "bandwidth": args.bandwidth,
        "threshold": THRESHOLD,
        "quick": args.quick,
        "network": net_config._asdict() if net_config is not None else None,
    }
    payload = results.write_results(
        args.out, "groups_random", run_config, summary, records, groups=groups_info
    )
    from grokrfm import plotting

    plotting.accuracy_vs_fraction(summary, f"{args.out}/transition.png", THRESHOLD)
    print(f"wrote {args.out}/results.json and {args.out}/transition.png")
    return payload


if __name__ == "__main__":
    main()
