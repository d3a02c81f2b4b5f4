"""Holding out the fixed points of every reflection of a larger dihedral subgroup
(arXiv 2604.00316, Fig. 3; docs/science.md R6): Gaussian RFM on x+y mod 32, test = the
fixed points of all reflections of <s>, <r^16, s>, <r^8, s> or <r^4, s>. The paper finds
it never generalises.

    python -m experiments.dihedral_subgroups            # paper-sized: p = 32, 60 iterations
    python -m experiments.dihedral_subgroups --quick    # CPU-sized: p = 24, 20 iterations

Each subgroup <r^d, s> (d = p, p/2, p/4, p/8) is closed from its generators and its
reflections sr^k are read off, so the held-out set is the union of their fixed points
(b - a in dZ). Beside the degenerate partition (m = 0) a small perturbation moves m = 1
and 10 random training points to test. Every run records its partition's stabiliser
order; the results also record each subgroup's order and reflections. Writes
``OUT/results.json`` and ``OUT/dihedral_subgroups.png``.
"""

from __future__ import annotations

import argparse

from grokrfm import cli, experiment, symmetry, tasks
from grokrfm.errors import InvalidArgument
from grokrfm.experiment import Row

NOTE = "arXiv 2604.00316, Fig. 3: never generalises"
P = cli.Sized(32, 24)


def rows(p: int) -> list[Row]:
    """One row per subgroup <r^d, s> of Dih(Z_p), d = p (i.e. <s>), p/2, p/4, p/8.

    Raises:
      InvalidArgument: naming ``p`` unless 8 divides p and p >= 16 (for p = 8, <r, s>
        is all of Dih(Z_8), whose reflections fix every point, leaving no training set).
    """
    if p % 8 or p < 16:
        raise InvalidArgument("p", f"needs a multiple of 8 that is at least 16, got {p}")
    task = tasks.make_task("x+y", p=p)
    out = []
    for d in (p, p // 2, p // 4, p // 8):
        rotations = [] if d == p else [d]
        reflections, order = symmetry.subgroup_reflections(task, rotations)
        name = "<s>" if d == p else f"<r^{d}, s>"
        out.append(
            Row(
                "x+y",
                p,
                "gaussian",
                tuple(reflections),
                "points",
                (0, 1, 10),
                note=NOTE,
                name=f"subgroup_r{d}",
                held_out=f"fixed points of {name}",
                setting={"subgroup": name, "subgroup_order": order},
            )
        )
    return out


def parse_args(argv=None) -> argparse.Namespace:
    # The rows are built for one p (their subgroups depend on it), so --p is this
    # module's own sized flag rather than the shared override of every row's modulus.
    parser = argparse.ArgumentParser(
        prog="python -m experiments.dihedral_subgroups",
        description=__doc__.split("\n\n")[0],
        conflict_handler="resolve",
    )
    cli.add_experiment_arguments(
        parser,
        out="results/dihedral_subgroups",
        iterations=cli.Sized(60, 20),
        seeds=cli.Sized(5, 2),
    )
    cli.add_sized(parser, "--p", P, "modulus, a multiple of 8 that is at least 16", type=int)
    return parser.parse_args(argv)


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    options = cli.options_from_args(args)
    p = cli.sized(args, "p")
    subgroups = rows(p)
    payload = experiment.run_experiment("dihedral_subgroups", subgroups, options)
    for sw in payload["sweeps"]:
        print(
            f"{sw['subgroup']}: order {sw['subgroup_order']}, reflections "
            f"{', '.join(sw['reflections'])}"
        )
    from grokrfm import plotting

    plotting.final_accuracy_vs_moved(
        payload["runs"],
        path=f"{options.out}/dihedral_subgroups.png",
        curve_key="subgroup",
        curve_names={
            sw["subgroup"]: plotting.element_tex(sw["subgroup"]) for sw in payload["sweeps"]
        },
        xlabel="random training points moved to test",
        title=f"x+y mod {p}, test = fixed points of a dihedral subgroup's reflections",
    )
    print(f"wrote {options.out}/results.json and {options.out}/dihedral_subgroups.png")
    return payload


if __name__ == "__main__":
    main()
