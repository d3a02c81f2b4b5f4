"""Table 1 of the paper (arXiv 2604.00316, section 3): Gaussian and quadratic kernels on
x+y (test = fixed points of s) and x*y (fixed points of sr^35), p = 61, m random training
points moved to the test set.

    python -m experiments.table1            # paper-sized: p = 61, 60 iterations, 5 seeds
    python -m experiments.table1 --quick    # CPU minutes: p = 23, 25 iterations, 2 seeds

Each (kernel, operation) row is one batched sweep over (m, seed), saved in chunks under
``OUT/<kernel>_<op>_<reflection>/`` so that an interrupted run resumes. Writes
``OUT/results.json`` (with every measured value beside the paper's) and
``OUT/table1.png``, and prints the table.
"""

from __future__ import annotations

import argparse

from grokrfm import cli, experiment, tasks
from grokrfm.experiment import TABLE1, Row


def rows(quick: bool) -> list[Row]:
    """The table's four rows. Quick: p = 23 (529 points instead of 3721, about 1/7) with
    sr^7 for x*y and the quadratic counts scaled down alike."""
    p, k = (23, "7") if quick else (61, "35")
    quadratic = (0, 15, 30) if quick else (0, 100, 200)
    counts = {
        ("gaussian", "x+y"): (0, 1),
        ("quadratic", "x+y"): quadratic,
        ("gaussian", "x*y"): (0, 1, 3) if quick else (0, 1, 10, 20),
        ("quadratic", "x*y"): quadratic,
    }
    reflection = {"x+y": ("0", "s"), "x*y": (k, f"sr{k}")}
    return [
        Row(
            op,
            p,
            kernel,
            (reflection[op][0],),
            "points",
            counts[kernel, op],
            paper=TABLE1[kernel, op],
            note="Table 1",
            name=f"{kernel}_{tasks.OPERATION_SLUGS[op]}_{reflection[op][1]}",
        )
        for kernel, op in counts
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.table1", description=__doc__.split("\n\n")[0]
    )
    cli.add_experiment_arguments(
        parser, out="results/table1", iterations=cli.Sized(60, 25), seeds=cli.Sized(5, 2)
    )
    return parser.parse_args(argv)


def figures(payload: dict, out: str) -> list[str]:
    """The module's figure from its results (``tools/redraw_figures.py`` redraws it)."""
    from grokrfm import plotting

    tasks_run = dict.fromkeys(row["task"] for row in payload["config"]["rows"])
    path = f"{out}/table1.png"
    plotting.comparison_bars(
        payload["paper_comparison"], path=path, title=f"Table 1: {', '.join(tasks_run)}"
    )
    return [path]


@cli.entry_point
def main(argv=None) -> dict:
    options = cli.options_from_args(parse_args(argv))
    return experiment.run_with_figures("table1", rows(options.quick), options, figures)


if __name__ == "__main__":
    main()
