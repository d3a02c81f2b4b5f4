"""Figure 1 of the paper: test accuracy against the number of points moved, random
training points (move "points") against whole reflected pairs (move "pairs"), Gaussian
and quadratic kernels, x+y mod 61 with the fixed points of s held out.

    python -m experiments.fig1            # paper-sized: p = 61, 60 iterations, 5 seeds
    python -m experiments.fig1 --quick    # CPU-sized: p = 19, 20 iterations, 2 seeds

Random moves break the partition's symmetry {id, s} and RFM generalises; moving a pair {x, s x}
keeps it and RFM does not (arXiv 2604.00316, §3.1; docs/science.md R2–R3). Each (kernel, move) row
is one resumable sweep under ``OUT/<row>/``. Writes ``OUT/results.json`` and ``OUT/fig1.png`` (final
test accuracy against m, one panel per kernel) and prints the table of measured values beside the
paper's.
"""

from __future__ import annotations

import argparse

from grokrfm import cli, experiment
from grokrfm.experiment import TABLE1, Row

KERNELS = ("gaussian", "quadratic")
PAIRS_CLAIM = dict(
    claim="~0%",
    note="arXiv 2604.00316, §3.1, Fig. 1 (docs/science.md R3): moving reflected pairs never helps",
)


def rows(quick: bool) -> list[Row]:
    """Per kernel: random points moved (to 200; quick 20 of 342), reflected pairs moved
    (to 50; quick 20 of 171)."""
    p = 19 if quick else 61
    points = (0, 1, 5, 20) if quick else (0, 1, 2, 5, 10, 20, 50, 100, 200)
    pairs = (0, 1, 5, 20) if quick else (0, 1, 2, 5, 10, 20, 50)
    out = []
    for kernel in KERNELS:
        # Table 1 gives the random-move values at p = 61.
        table1 = TABLE1[kernel, "x+y"]
        out.append(Row("x+y", p, kernel, ("0",), "points", points, table1, note="Table 1"))
        out.append(Row("x+y", p, kernel, ("0",), "pairs", pairs, **PAIRS_CLAIM))
    return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.fig1", description=__doc__.split("\n\n")[0]
    )
    cli.add_experiment_arguments(
        parser, out="results/fig1", iterations=cli.Sized(60, 20), seeds=cli.Sized(5, 2)
    )
    return parser.parse_args(argv)


def figures(payload: dict, out: str) -> list[str]:
    """The module's figure from its results (``tools/redraw_figures.py`` redraws it)."""
    from grokrfm import plotting

    task = payload["config"]["rows"][0]["task"]
    path = f"{out}/fig1.png"
    plotting.final_accuracy_vs_moved(
        payload["runs"],
        path=path,
        curve_key="move",
        panel_key="kernel",
        xlabel="m (random points, or reflected pairs, moved to test)",
        curve_names={"points": "random points", "pairs": "reflected pairs"},
        title=f"{task}, test = fixed points of $s$",
    )
    return [path]


@cli.entry_point
def main(argv=None) -> dict:
    options = cli.options_from_args(parse_args(argv))
    return experiment.run_with_figures("fig1", rows(options.quick), options, figures)


if __name__ == "__main__":
    main()
