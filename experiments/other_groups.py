"""Symmetry breaking on other groups (arXiv 2604.00316, App. D.2; docs/science.md R5): x*y mod 61
holding out the fixed points of sr^35 and x/y mod 53 holding out those of sr^27, with random
training points moved to test (they generalise); and C5 x C11 (x+y on Z_5 x Z_11) holding out the
fixed points of sr^(3,2), with random points moved (generalises) or reflected pairs moved (does
not).

    python -m experiments.other_groups            # paper-sized: 60 iterations, 5 seeds
    python -m experiments.other_groups --quick    # CPU-sized: p = 19, Z_3 x Z_7, 2 seeds

arXiv 2604.00316 uses both Gaussian and quadratic kernels in these
figures (Figs. 6–7; docs/science.md R5); the Gaussian kernel (L = 2.5) is
used throughout. Writes ``OUT/results.json`` and ``OUT/other_groups.png`` (final test
accuracy against m, one panel per task, random points against reflected pairs).
"""

from __future__ import annotations

import argparse

from grokrfm import cli, experiment
from grokrfm.experiment import Row

NOTE = "arXiv 2604.00316, App. D.2"
GENERALISES = dict(claim="generalises", note=f"{NOTE}: random moves generalise")
NEVER = dict(claim="~0%", note=f"{NOTE}: moving reflected pairs does not help")


def rows(quick: bool) -> list[Row]:
    """Random moves on Z_p^* (x*y, x/y) and on a cyclic product, pairs on the product.
    Quick: p = 19 with sr^3 and sr^5 (elements of every Z_p^*, p >= 7) and Z_3 x Z_7
    (cyclic, like Z_5 x Z_11) with sr^(1,2)."""
    if quick:
        points, pairs = (0, 1, 5), (0, 1, 5)
        mul, div, product, reflection = (19, "3"), (19, "5"), (3, 7), "1,2"
    else:
        points, pairs = (0, 1, 2, 5, 10, 20), (0, 1, 2, 5, 10, 20, 50)
        mul, div, product, reflection = (61, "35"), (53, "27"), (5, 11), "3,2"
    return [
        Row("x*y", mul[0], "gaussian", (mul[1],), "points", points, **GENERALISES),
        Row("x/y", div[0], "gaussian", (div[1],), "points", points, **GENERALISES),
        Row("x+y", product, "gaussian", (reflection,), "points", points, **GENERALISES),
        Row("x+y", product, "gaussian", (reflection,), "pairs", pairs, **NEVER),
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.other_groups", description=__doc__.split("\n\n")[0]
    )
    cli.add_experiment_arguments(
        parser,
        out="results/other_groups",
        iterations=cli.Sized(60, 20),
        seeds=cli.Sized(5, 2),
        product=True,
    )
    return parser.parse_args(argv)


def figures(payload: dict, out: str) -> list[str]:
    """The module's figure from its results (``tools/redraw_figures.py`` redraws it)."""
    from grokrfm import plotting

    path = f"{out}/other_groups.png"
    plotting.final_accuracy_vs_moved(
        payload["runs"],
        path=path,
        curve_key="move",
        panel_key="label",
        xlabel="m (random points, or reflected pairs, moved to test)",
        curve_names={"points": "random points", "pairs": "reflected pairs"},
        title="Other groups",
    )
    return [path]


@cli.entry_point
def main(argv=None) -> dict:
    options = cli.options_from_args(parse_args(argv))
    return experiment.run_with_figures("other_groups", rows(options.quick), options, figures)


if __name__ == "__main__":
    main()
