"""Moving fixed points into training does not help (arXiv 2604.00316, App. D.1; docs/science.md R4):
Gaussian RFM mod 53 on x+y holding out the fixed points of s, and on x*y holding out
those of sr^13, with m of the held-out fixed points moved into the training set.

    python -m experiments.fixed_points            # paper-sized: p = 53, 60 iterations, 5 seeds
    python -m experiments.fixed_points --quick    # CPU-sized: p = 19, 20 iterations, 2 seeds

A fixed point of sr^k is its own mirror image, so training on it keeps the training set
invariant under {id, sr^k}: the symmetry is not broken and the paper finds no help. The
counts cannot exceed the number of fixed points (n), which is checked before any compute.
Writes ``OUT/results.json`` and ``OUT/fixed_points.png``.
"""

from __future__ import annotations

import argparse

from grokrfm import cli, experiment
from grokrfm.experiment import Row

CLAIM = dict(
    claim="~0%",
    note="arXiv 2604.00316, App. D.1: moving fixed points into training does not help",
)


def rows(quick: bool) -> list[Row]:
    """x+y with s and x*y with sr^13 (quick: sr^3, an element of every Z_p^* with p >= 5);
    at most 40 of the 53 (52 for x*y) fixed points move, 15 of 19 (18) in the quick run."""
    p, k = (19, "3") if quick else (53, "13")
    counts = (0, 1, 5, 15) if quick else (0, 1, 2, 5, 10, 20, 40)
    return [
        Row("x+y", p, "gaussian", ("0",), "fixed", counts, **CLAIM),
        Row("x*y", p, "gaussian", (k,), "fixed", counts, **CLAIM),
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.fixed_points", description=__doc__.split("\n\n")[0]
    )
    cli.add_experiment_arguments(
        parser, out="results/fixed_points", iterations=cli.Sized(60, 20), seeds=cli.Sized(5, 2)
    )
    return parser.parse_args(argv)


def figures(payload: dict, out: str) -> list[str]:
    """The module's figure from its results (``tools/redraw_figures.py`` redraws it)."""
    from grokrfm import plotting

    path = f"{out}/fixed_points.png"
    plotting.final_accuracy_vs_moved(
        payload["runs"],
        path=path,
        curve_key="label",
        metrics=("test_acc", "train_acc"),
        xlabel="fixed points moved into training",
        title="Moving fixed points into training",
    )
    return [path]


@cli.entry_point
def main(argv=None) -> dict:
    options = cli.options_from_args(parse_args(argv))
    return experiment.run_with_figures("fixed_points", rows(options.quick), options, figures)


if __name__ == "__main__":
    main()
