"""Networks grok modular arithmetic with RFM's features (arXiv 2407.20199, §4; docs/science.md P2):
a one-hidden-layer x^2 MLP (no bias, MSE, AdamW lr 1e-3, weight decay 1.0, batch 32) on x+y, x-y,
x*y, x/y at 50% training data, with the neural feature ansatz at the end.

    python -m experiments.network_grokking            # mod 61, 5 seeds, 100 epochs
    python -m experiments.network_grokking --quick    # mod 31, 2 seeds, 150 epochs
    python -m experiments.network_grokking --setups predecessor

Two training set-ups run side by side (``--setups``, default both): ``ours``, width 1024 as
arXiv 2407.20199, §4 states, with AdamW betas (0.9, 0.999) (optax's and torch's defaults),
and ``predecessor``, the predecessor's published code: width 256, betas (0.9, 0.98)
(docs/science.md §8). Everything else is shared; ``--width`` sets the width of every set-up.

Per operation and set-up one vmapped call trains every seed
(``grokrfm.network.train_batch``), in float32. Reports per run the set-up, the epoch at
which test accuracy first reaches 90% (the grokking epoch), final accuracies, the NFA
correlation corr(W1^T W1, AGOP^(1/2)) in the three conventions of
:class:`grokrfm.network.NFACorrelations` (all entries; off-diagonal entries only; all
entries with both diagonals set to zero, as the predecessor's code), the same with the AGOP
itself, and the representation score and circulant deviation of the final W1^T W1. The
paper's values (0.955, 0.942, 0.924, 0.929) are compared with two of them: all entries,
and diagonals zeroed, the two the predecessor's code logs. Writes ``OUT/results.json``,
``OUT/curves.png`` (test accuracy and NFA correlation against epoch, one row per set-up)
and ``OUT/matrices.png`` (W1^T W1 and AGOP^(1/2) of seed 0, reordered by the discrete
logarithm).
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import (
    agop,
    cli,
    families,
    network,
    paper_data,
    partition,
    report,
    results,
    sweep,
    symmetry,
    tasks,
)
from grokrfm.analysis import measure, structure
from grokrfm.errors import InvalidArgument, lookup

PAPER_NFA = paper_data.NFA
NOTE = "arXiv 2407.20199, §4 (docs/science.md P2): corr(W1^T W1, sqrt AGOP), p = 61, 50% train"
PAPER_P, PAPER_FRACTION = 61, 0.5  # the sizes PAPER_NFA was measured at


class Setup(NamedTuple):
    """A training set-up: the hidden width and AdamW's betas; every other choice is shared.

    Attributes:
      name: ``"ours"`` or ``"predecessor"`` (see :data:`SETUPS`).
      width: hidden units.
      b1, b2: AdamW's first and second moment decay rates.
    """

    name: str
    width: int
    b1: float
    b2: float

    def record(self) -> dict:
        """The set-up as recorded in ``results.json`` (every run, row and the config)."""
        return {"name": self.name, "width": self.width, "b1": self.b1, "b2": self.b2}

    def label(self) -> str:
        """``"predecessor set-up (width 256, AdamW betas (0.9, 0.98))"``."""
        return f"{self.name} set-up (width {self.width}, AdamW betas ({self.b1:g}, {self.b2:g}))"


PER_SETUP = ("width", "b1", "b2")  # the NetworkConfig fields a set-up chooses

SETUPS = {
    # The width arXiv 2407.20199, §4 states, with optax's (and torch's) default betas.
    "ours": Setup("ours", 1024, 0.9, 0.999),
    # The predecessor's published code (nmallinar/rfm-grokking, train_net.py; docs/science.md §8).
    "predecessor": Setup("predecessor", 256, 0.9, 0.98),
}

COLUMNS = [
    ("setup", "setup"),
    ("task", "task"),
    ("width", "width"),
    ("b2", "b2"),
    ("train_acc_mean", "train"),
    ("test_acc_mean", "test"),
    ("test_acc_std", "± std"),
    ("grokking_epoch_median", "epoch 90%"),
    ("nfa_paper", "paper"),
    ("nfa_mean", "NFA all*"),
    ("nfa_no_diagonal_mean", "NFA diag 0*"),
    ("nfa_off_diagonal_mean", "NFA off-diag"),
    ("nfa_power1_mean", "NFA (AGOP)"),
    ("circulant_deviation_mean", "circ dev"),
    ("nfm_top_element", "top g"),
    ("wall_s", "wall s"),
]
TABLE_NOTE = (
    "NFA: corr(W1^T W1, AGOP^1/2), mean over seeds. *: compared with the paper's value "
    "(arXiv 2407.20199, §4): 'all' over all entries; 'diag 0' over all entries with both "
    "diagonals set to 0 (the predecessor's code's nfa_no_diag_corr); 'off-diag' drops the "
    "diagonal; '(AGOP)': all entries, against the AGOP itself."
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.network_grokking", description=__doc__.split("\n\n")[0]
    )
    # No RFM here, so not cli.add_common_arguments (its --bandwidth and --memory-budget
    # would do nothing).
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (minutes)")
    cli.add_sized(parser, "--seeds", cli.Sized(5, 2), "seeds", type=int)
    cli.add_sized(parser, "--p", cli.Sized(61, 31), "modulus", type=int)
    parser.add_argument("--ops", nargs="+", default=list(tasks.OPERATIONS), help="operations")
    parser.add_argument("--fraction", type=float, default=0.5, help="training fraction (0.5)")
    parser.add_argument(
        "--setups",
        nargs="+",
        default=None,
        metavar="NAME",
        help="training set-ups to run side by side: 'ours' (width 1024, AdamW betas "
        "(0.9, 0.999)) and 'predecessor' (the predecessor's published code: width 256, "
        "betas (0.9, 0.98)) (default: both)",
    )
    cli.add_network_arguments(parser, epochs=cli.Sized(100, 150))
    # The width comes from the set-up unless --width is given.
    parser.set_defaults(width=None)
    for action in parser._actions:
        if action.dest == "width":
            action.help = "hidden units of every set-up (default: each set-up's own)"
    out = "results/network_grokking"
    parser.add_argument("--out", default=out, type=cli.output_folder, help=f"output folder ({out})")
    return parser.parse_args(argv)


class NetworkGrokkingOptions(NamedTuple):
    """The resolved, validated command line (:func:`options_from_args`).

    Attributes:
      config: the choices every set-up shares (its width and betas are the first
        set-up's; :meth:`config_for` gives each set-up's own).
      setups: the set-ups to run, in the order given, with ``--width`` applied.
    """

    tasks: list[tasks.Task]
    p: int
    fraction: float
    seeds: list[int]
    config: network.NetworkConfig
    setups: list[Setup]

    @property
    def paper_sized(self) -> bool:
        """Whether the runs are at the sizes the paper's NFA values were measured at."""
        return self.p == PAPER_P and self.fraction == PAPER_FRACTION

    def config_for(self, setup: Setup) -> network.NetworkConfig:
        """The network config of one set-up: the shared choices, its width and betas."""
        return self.config._replace(width=setup.width, b1=setup.b1, b2=setup.b2)


def options_from_args(args: argparse.Namespace) -> NetworkGrokkingOptions:
    """Every flag resolved and validated, before any compute.

    Raises:
      InvalidArgument: naming ``setups``, ``ops``, ``p``, ``fraction``, ``seeds`` or a
        network flag.
    """
    names = list(SETUPS) if args.setups is None else list(args.setups)
    if len(set(names)) != len(names):
        raise InvalidArgument("setups", f"repeated set-ups in {names}")
    setups = [lookup(SETUPS, name, "setups", "set-up") for name in names]
    if args.width is not None:
        setups = [setup._replace(width=args.width) for setup in setups]
    # The shared flags are checked once, with the first set-up's width (an explicit
    # --width is checked here too).
    shared = argparse.Namespace(**{**vars(args), "width": setups[0].width})
    config = cli.network_config_from_args(shared)
    for setup in setups:
        config._replace(width=setup.width, b1=setup.b1, b2=setup.b2).validate()
    p = cli.sized(args, "p")
    if len(set(args.ops)) != len(args.ops):
        raise InvalidArgument("ops", f"repeated operations in {args.ops}")
    for op in args.ops:
        if op not in tasks.OPERATIONS:
            raise InvalidArgument("ops", f"unknown {op!r}; choose from {tasks.OPERATIONS}")
    op_tasks = [tasks.make_task(op, p=p) for op in args.ops]
    sizes = [task.n_points for task in op_tasks]
    (fraction,) = families.check_fractions([args.fraction], sizes, "fraction")
    seeds = cli.check_seeds(cli.sized(args, "seeds"))
    return NetworkGrokkingOptions(op_tasks, p, fraction, seeds, config, setups)


def run_op(
    task, setup: Setup, options: NetworkGrokkingOptions
) -> tuple[list[dict], network.NetworkResult]:
    """Every seed of one operation under one set-up in one call: split
    ``PRNGKey(seed)``, initialisation and minibatches from ``fold_in(PRNGKey(seed), 1)``
    (the same keys for every set-up). Each record's setting names the set-up, and
    ``record["setup"]`` gives its width and betas."""
    batch = families.fraction_batch(task.n_points, [options.fraction], options.seeds, "fraction")
    batch = batch.labelled(op=task.op, task=task.name, setup=setup.name)
    parts = partition.to_partitions(batch.splits)
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(s), 1) for s in options.seeds])
    start = time.perf_counter()
    result = network.train_batch(task, options.config_for(setup), keys, parts)
    jax.block_until_ready(result)
    wall = time.perf_counter() - start
    records = sweep.network_records(batch.settings, result, parts)
    sym = symmetry.symmetry_group(task)
    measures = measure.matrix_measures(sym, np.asarray(result.features.nfm[:, -1]))
    for record, measured in zip(records, measures, strict=True):
        record["setup"] = setup.record()
        record["nfm_features"] = measured
        record["wall_s"] = wall / len(records)
    return records, result


def summary_row(task, setup: Setup, records, paper_sized: bool) -> dict:
    """One row per operation and set-up: final accuracies, grokking epochs and the NFA
    correlations (mean over seeds; ``nfa_paper`` is the paper's value when the runs are
    at its sizes)."""

    def finals(key):
        return [r[key][-1] for r in records]

    def stat(key):
        return report.mean_std(finals(key))

    jumps = [r["grokking_epoch"] for r in records]
    reached = [j for j in jumps if j is not None]
    nfa, nfa_std = stat("nfa")
    no_diagonal, no_diagonal_std = stat("nfa_no_diagonal")
    return {
        "setup": setup.name,
        "width": setup.width,
        "b1": setup.b1,
        "b2": setup.b2,
        "task": task.name,
        "op": task.op,
        "fraction": records[0]["setting"]["fraction"],
        "seeds": len(records),
        "train_acc_mean": stat("train_acc")[0],
        "test_acc_mean": stat("test_acc")[0],
        "test_acc_std": stat("test_acc")[1],
        "test_acc_median": float(np.median(finals("test_acc"))),
        "test_acc_final": finals("test_acc"),
        "test_mse_mean": stat("test_mse")[0],
        "grokked": len(reached),
        "grokking_epochs": jumps,
        "grokking_epoch_median": float(np.median(reached)) if reached else None,
        "nfa_mean": nfa,
        "nfa_std": nfa_std,
        "nfa_final": finals("nfa"),
        "nfa_off_diagonal_mean": stat("nfa_off_diagonal")[0],
        "nfa_no_diagonal_mean": no_diagonal,
        "nfa_no_diagonal_std": no_diagonal_std,
        "nfa_no_diagonal_final": finals("nfa_no_diagonal"),
        "nfa_power1_mean": stat("nfa_power1")[0],
        "nfa_power1_off_diagonal_mean": stat("nfa_power1_off_diagonal")[0],
        "nfa_power1_no_diagonal_mean": stat("nfa_power1_no_diagonal")[0],
        "nfa_paper": PAPER_NFA[task.op] if paper_sized else None,
        "circulant_deviation_mean": float(
            np.mean([r["nfm_features"]["circulant_deviation"] for r in records])
        ),
        "nfm_top_element": records[0]["nfm_features"]["top"][0]["name"],
        "wall_s": float(sum(r["wall_s"] for r in records)),
    }


def comparisons(row: dict) -> list[dict]:
    """The final test accuracy (networks grok) and the paper's NFA correlation beside
    two of ours, for one set-up: over all entries (``nfa``) and with both diagonals set
    to zero (``nfa_no_diagonal``), the two the predecessor's published code logs; the
    quantity and the setting say which."""
    setup = Setup(row["setup"], row["width"], row["b1"], row["b2"])
    setting = f"network {row['task']}, {row['fraction']:.0%} train, {setup.label()}"
    test = report.comparison(
        "final test acc (groks)",
        setting,
        1.0,
        row,
        "arXiv 2407.20199, §4 (docs/science.md P2): networks grok",
    )
    entries = [test]
    for key, convention, note in (
        ("nfa", "all entries", NOTE),
        (
            "nfa_no_diagonal",
            "both diagonals set to 0",
            f"{NOTE}; diagonals zeroed and kept in the correlation, as the predecessor's "
            "published code's nfa_no_diag_corr (docs/science.md §8)",
        ),
    ):
        quantity = f"NFA corr(W1^T W1, sqrt AGOP), {convention} (shown as %)"
        entry = report.comparison(quantity, setting, row["nfa_paper"], row, note)
        seeds = row[f"{key}_final"]
        entry.update(
            measured_mean=row[f"{key}_mean"],
            measured_std=row[f"{key}_std"],
            measured_median=float(np.median(seeds)),
            measured_seeds=seeds,
        )
        entries.append(entry)
    return entries


def matrix_panels(task, setup: Setup, measured: network.FeatureMeasures) -> list[dict]:
    """W1^T W1 and AGOP^(1/2) of the first seed after training, reordered so that
    circulant blocks show (:func:`grokrfm.analysis.structure.block_forms`)."""
    order = structure.block_forms(task).order
    nfm = np.asarray(measured.nfm[0, -1])
    root = np.asarray(agop.matrix_power(measured.agop[0, -1], 0.5))
    name = f"{task.name}, {setup.name}"
    return [
        {"title": f"{name}: $W_1^\\top W_1$", "matrix": structure.reorder(nfm, order)},
        {"title": f"{name}: $\\mathrm{{AGOP}}^{{1/2}}$", "matrix": structure.reorder(root, order)},
    ]


def plot_curves(runs: list[dict], setups: list[Setup], path: str, title: str) -> None:
    """``curves.png``: one row of :func:`grokrfm.plotting.network_curves` per set-up."""
    from grokrfm import plotting

    fig, grid = plotting.plt.subplots(
        len(setups), 2, squeeze=False, figsize=(11, 3.9 * len(setups)), layout="constrained"
    )
    for setup, axes in zip(setups, grid, strict=True):
        mine = [r for r in runs if r["setting"]["setup"] == setup.name]
        plotting.network_curves(mine, axes=axes)
        axes[0].set_title(setup.label(), fontsize=9)
    fig.suptitle(title)
    plotting.save(fig, path)


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    options = options_from_args(args)
    runs, rows, comparison, panels = [], [], [], []
    for setup in options.setups:
        for task in options.tasks:
            seeds, epochs = len(options.seeds), options.config.epochs
            print(f"{task.name}, {setup.label()}: {seeds} seeds, {epochs} epochs")
            records, result = run_op(task, setup, options)
            runs.extend(records)
            row = summary_row(task, setup, records, options.paper_sized)
            rows.append(row)
            comparison.extend(comparisons(row))
            panels.extend(matrix_panels(task, setup, result.features))
    print(report.format_table(rows, COLUMNS))
    print(TABLE_NOTE)
    run_config = {
        "quick": bool(args.quick),
        "paper_sized": options.paper_sized,
        "p": options.p,
        "ops": list(args.ops),
        "fraction": options.fraction,
        "seeds": options.seeds,
        # Each set-up's width and betas; "network" holds the choices they share.
        "setups": [setup.record() for setup in options.setups],
        "width_override": args.width,
        "network": {k: v for k, v in options.config._asdict().items() if k not in PER_SETUP},
    }
    payload = results.write_results(
        args.out, "network_grokking", run_config, rows, runs, comparison
    )
    from grokrfm import plotting

    title = f"Networks, mod {options.p}, {options.fraction:.0%} train"
    plot_curves(runs, options.setups, f"{args.out}/curves.png", title)
    plotting.feature_matrices(panels, path=f"{args.out}/matrices.png", ncols=2)
    print(f"wrote {args.out}/results.json, curves.png and matrices.png")
    return payload


if __name__ == "__main__":
    main()
