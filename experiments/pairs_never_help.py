"""Moving reflected pairs never helps (arXiv 2604.00316, §3.1, Fig. 1; docs/science.md R3):
quadratic RFM on x*y mod 53 holding out the fixed points of sr^13, and Gaussian RFM on x/y mod 47
holding out those of sr^27, with 0 to 50 pairs {x, sr^k x} moved from training to test.

    python -m experiments.pairs_never_help            # paper-sized: 60 iterations, 5 seeds
    python -m experiments.pairs_never_help --quick    # CPU-sized: p = 19 and 17, 2 seeds

A moved pair keeps the training set invariant under {id, sr^k}, so by the paper's
argument test accuracy stays near 0 while train accuracy is 100%. Prints, and records
under ``sweeps`` in ``OUT/results.json``, the largest test accuracy over every count and
seed (final and at any iteration) and the smallest train accuracy; ``OUT/pairs.png``
draws final test (solid) and train (dashed) accuracy against the pairs moved.
"""

from __future__ import annotations

import argparse

from grokrfm import cli, experiment, report
from grokrfm.experiment import Row

CLAIM = dict(
    claim="~0%",
    note="arXiv 2604.00316, §3.1, Fig. 1 (docs/science.md R3): moving reflected pairs never helps",
)


def rows(quick: bool) -> list[Row]:
    """The paper's two settings; the quick ones use small primes and reflections that
    exist in every Z_p^* with p >= 7 (so tests can shrink p further)."""
    if quick:
        pairs = (0, 1, 5, 20)
        return [
            Row("x*y", 19, "quadratic", ("3",), "pairs", pairs, **CLAIM),
            Row("x/y", 17, "gaussian", ("5",), "pairs", pairs, **CLAIM),
        ]
    pairs = (0, 1, 2, 5, 10, 20, 50)
    return [
        Row("x*y", 53, "quadratic", ("13",), "pairs", pairs, **CLAIM),
        Row("x/y", 47, "gaussian", ("27",), "pairs", pairs, **CLAIM),
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.pairs_never_help", description=__doc__.split("\n\n")[0]
    )
    cli.add_experiment_arguments(
        parser, out="results/pairs_never_help", iterations=cli.Sized(60, 20), seeds=cli.Sized(5, 2)
    )
    return parser.parse_args(argv)


def figures(payload: dict, out: str) -> list[str]:
    """The module's figure from its results (``tools/redraw_figures.py`` redraws it)."""
    from grokrfm import plotting

    path = f"{out}/pairs.png"
    plotting.final_accuracy_vs_moved(
        payload["runs"],
        path=path,
        curve_key="label",
        panel_key=None,
        metrics=("test_acc", "train_acc"),
        xlabel="reflected pairs moved to test",
        title="Moving reflected pairs",
    )
    return [path]


@cli.entry_point
def main(argv=None) -> dict:
    options = cli.options_from_args(parse_args(argv))
    payload = experiment.run_experiment("pairs_never_help", rows(options.quick), options)
    worst = report.accuracy_extremes(payload["runs"])
    print(
        f"over every count and seed: max test acc {worst['max_test_acc']:.3f} (final), "
        f"{worst['max_test_acc_any_iteration']:.3f} (any iteration); "
        f"min train acc {worst['min_train_acc']:.3f}"
    )
    paths = figures(payload, options.out)
    print(f"wrote {options.out}/results.json and {', '.join(paths)}")
    return payload


if __name__ == "__main__":
    main()
