"""RFM on random partitions of groups beyond Z_p: does it grok, and at which training
fraction? With the representation score naming what the learned M encodes.

    python -m experiments.groups_random            # 9 groups, fractions 0.2-0.9, 5 seeds
    python -m experiments.groups_random --quick    # CPU minute: 4 groups, 3 fractions, 2 seeds
    python -m experiments.groups_random --networks # and the x^2 network on the same splits

Each group's task is ``a . b`` (:func:`grokrfm.tasks.group_task`); the Gaussian kernel
(L = 2.5) throughout. The score is taken over the task's computed symmetry group
(:func:`grokrfm.computed_symmetry.feature_group`: the whole autotopism group when small,
else a subgroup holding the label-preserving elements); ``top`` is the element class
with the largest partial cosine (in a summary row: the most frequent over the seeds, ties
going to the lowest seed), ``lp_energy`` the fraction of M~'s energy in the span of the
label-preserving elements' Pi(g). Writes ``OUT/results.json`` and ``OUT/transition.png``
(final test accuracy against training fraction, one curve per group). With
``--networks`` the network of :mod:`grokrfm.network` (float32, AdamW; the network flags
set its width and epochs) trains on the very same splits, seeded by the run's seed, and
each row gains ``network_test_acc``: does a network learn the group where RFM does not?
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import cli, experiment, families, network, report, results, rfm, sweep, tasks
from grokrfm import computed_symmetry as cs
from grokrfm.analysis import curves, representation
from grokrfm.symmetry import SymmetryGroup
from grokrfm.tasks import Task

GROUPS = ("Z3xZ3", "Z2xZ4", "Z2^3", "Z3^3", "S3", "D4", "Q8", "A4", "S4")
QUICK_GROUPS = ("Z3xZ3", "S3", "Q8", "A4")
FRACTIONS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
QUICK_FRACTIONS = (0.3, 0.6, 0.9)
THRESHOLD = 0.9  # "groks": final test accuracy at least this


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.groups_random", description=__doc__.split("\n\n")[0]
    )
    cli.add_common_arguments(
        parser,
        out="results/groups_random",
        seeds=cli.Sized(5, 2),
        iterations=cli.Sized(60, 20),
        chunks=False,
    )
    cli.add_sized(parser, "--groups", cli.Sized(GROUPS, QUICK_GROUPS), "groups", nargs="+")
    cli.add_sized(
        parser,
        "--fractions",
        cli.Sized(FRACTIONS, QUICK_FRACTIONS),
        "training fractions",
        type=float,
        nargs="+",
    )
    parser.add_argument(
        "--networks",
        action="store_true",
        help="also train the x^2 network (grokrfm.network) on the very same splits",
    )
    cli.add_network_arguments(parser, epochs=cli.Sized(400, 100))
    return parser.parse_args(argv)


class GroupsRandomOptions(NamedTuple):
    """The resolved, validated command line (:func:`options_from_args`).

    Attributes:
      network: the network's config with ``--networks``, else None.
    """

    groups: tuple[str, ...]
    tasks: list[Task]
    fractions: tuple[float, ...]
    seeds: list[int]
    config: rfm.RFMConfig
    bandwidth: float
    memory_budget: int | None
    network: network.NetworkConfig | None


def options_from_args(args: argparse.Namespace) -> GroupsRandomOptions:
    """Every flag resolved and validated, before any compute.

    Raises:
      InvalidArgument: naming ``groups``, ``fractions``, ``seeds``, ``iters``,
        ``bandwidth``, ``memory_budget`` or a network flag.
    """
    names = tuple(cli.sized(args, "groups"))
    group_tasks = families.group_tasks(names)
    sizes = [task.n_points for task in group_tasks]
    fractions = families.check_fractions(cli.sized(args, "fractions"), sizes)
    rfm.check_scalars(bandwidth=args.bandwidth)
    return GroupsRandomOptions(
        groups=names,
        tasks=group_tasks,
        fractions=fractions,
        seeds=cli.check_seeds(cli.sized(args, "seeds")),
        config=experiment.kernel_config("gaussian", cli.sized(args, "iters")),
        bandwidth=args.bandwidth,
        memory_budget=cli.memory_budget_from_args(args),
        # The network flags are validated even when --networks is off.
        network=net if (net := cli.network_config_from_args(args)) and args.networks else None,
    )


def feature_fields(fsym: SymmetryGroup, lp: SymmetryGroup, M: jax.Array) -> list[dict]:
    """What each final M of a batch ``(B, 2n, 2n)`` encodes: the top element of the
    feature group ``fsym``, its score, the identity's share, and the energy in the span
    of the label-preserving (``lp``) elements beyond the identity."""
    scores = representation.batch_scores(M, representation.score_basis(fsym))
    # The energy in span{Pi(g): g label-preserving} needs a least-squares solve on that
    # span's Gram matrix, so it is taken in the small lp basis, not the big one.
    lp_basis = representation.score_basis(lp)
    lp_mask = np.ones(lp.order, bool)
    fields = []
    for b in range(M.shape[0]):
        one = jax.tree.map(lambda x, b=b: np.asarray(x)[b], scores)
        encoded = representation.matrix_report(fsym, one, top=3)
        lp_energy = representation.energy_report(M[b], lp_basis, {"lp": lp_mask})["lp"]
        fields.append(
            {
                "top": encoded["top_name"],
                "top_score": encoded["top"][0]["score"],
                "identity_share": encoded["identity_share"],
                "lp_energy_beyond_identity": lp_energy["beyond_identity"],
            }
        )
    return fields


def network_fields(task: Task, config: network.NetworkConfig, runs, partitions) -> list[dict]:
    """The network trained on every split of a batch in one vmapped call, each seeded
    by its run's seed: final accuracies and the epoch test accuracy first reaches
    THRESHOLD."""
    keys = jnp.stack([jax.random.PRNGKey(r["seed"]) for r in runs])
    nets = network.train_batch(task, config, keys, partitions)
    test_acc, train_acc = np.asarray(nets.metrics.test_acc), np.asarray(nets.metrics.train_acc)
    return [
        {
            "test_acc": float(test_acc[b, -1]),
            "train_acc": float(train_acc[b, -1]),
            "grokking_epoch": curves.first_iteration_at(test_acc[b], THRESHOLD, start=1),
        }
        for b in range(len(runs))
    ]


def summary_rows(runs: list[dict], with_network: bool) -> list[dict]:
    """:func:`grokrfm.report.summarize` rows per fraction, with the most frequent top
    element (ties: the lowest seed's), the mean lp energy and the network's accuracy."""
    rows = report.summarize(runs)
    for row in rows:
        same = [r for r in runs if r["setting"]["fraction"] == row["fraction"]]
        tops = [r["features"]["top"] for r in same]
        row["top"] = max(tops, key=tops.count)
        row["lp_energy"] = float(
            np.mean([r["features"]["lp_energy_beyond_identity"] for r in same])
        )
        if with_network:
            accs = [r["network"]["test_acc"] for r in same]
            row["network_test_acc_mean"], row["network_test_acc_std"] = report.mean_std(accs)
    return rows


def run_group(task: Task, options: GroupsRandomOptions) -> tuple[dict, list[dict], list[dict]]:
    """Every (fraction, seed) split of one group in one batch.

    Returns:
      ``(info, rows, runs)``: the group's description with its transition fraction, the
      summary rows and the run records.
    """
    kind, fsym = cs.feature_group(task)
    lp = cs.label_preserving_group(task)
    batch = families.fraction_batch(task.n_points, options.fractions, options.seeds)
    batch = batch.labelled(group=task.group.name)
    result, partitions = sweep.run_splits(
        task,
        options.config,
        batch.splits,
        bandwidth=options.bandwidth,
        memory_budget=options.memory_budget,
    )
    runs = sweep.run_records(batch.settings, result, partitions)
    for run, fields in zip(runs, feature_fields(fsym, lp, result.M), strict=True):
        run["features"] = fields
    if options.network is not None:
        nets = network_fields(task, options.network, runs, partitions)
        for run, fields in zip(runs, nets, strict=True):
            run["network"] = fields
    rows = summary_rows(runs, options.network is not None)
    hit = curves.first_iteration_at([row["test_acc_mean"] for row in rows], THRESHOLD)
    info = {
        "group": task.group.name,
        "order": task.n,
        "abelian": tasks.is_abelian(task.group),
        "feature_group": kind,
        "feature_group_order": fsym.order,
        "label_preserving_order": lp.order,
        # The smallest training fraction whose mean final test accuracy reaches THRESHOLD.
        "transition_fraction": None if hit is None else rows[hit]["fraction"],
    }
    return info, rows, runs


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    options = options_from_args(args)
    records, summary, groups_info = [], [], []
    for task in options.tasks:
        info, rows, runs = run_group(task, options)
        print(f"{task.name}: transition at {info['transition_fraction']}")
        groups_info.append(info)
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
    if options.network is not None:
        columns += [("network_test_acc_mean", "network test acc"), ("network_test_acc_std", "std")]
    print(report.format_table(summary, columns))
    print(report.format_table(groups_info, [(k, k) for k in groups_info[0]]))
    run_config = {
        "groups": list(options.groups),
        "fractions": list(options.fractions),
        "seeds": options.seeds,
        "iterations": options.config.iterations,
        "kernel": "gaussian",
        "bandwidth": options.bandwidth,
        "threshold": THRESHOLD,
        "quick": args.quick,
        "network": options.network._asdict() if options.network is not None else None,
    }
    payload = results.write_results(
        args.out, "groups_random", run_config, summary, records, groups=groups_info
    )
    from grokrfm import plotting

    plotting.accuracy_vs_fraction(summary, path=f"{args.out}/transition.png", threshold=THRESHOLD)
    print(f"wrote {args.out}/results.json and {args.out}/transition.png")
    return payload


if __name__ == "__main__":
    main()
