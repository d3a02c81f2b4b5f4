"""Holding out the fixed points of every reflection of a larger dihedral subgroup
(arXiv 2604.00316, Fig. 3; docs/science.md R6): Gaussian RFM on x+y mod 32, test = the
fixed points of all reflections of <s>, <r^16, s>, <r^8, s> or <r^4, s>. The paper finds
it never generalises.

    python -m experiments.dihedral_subgroups            # paper-sized: p = 32, 100 iterations
    python -m experiments.dihedral_subgroups --quick    # CPU-sized: p = 24, 20 iterations

Each subgroup <r^d, s> (d = p, p/2, p/4, p/8) is closed from its generators and its
reflections sr^k are read off, so the held-out set is the union of their fixed points
(b - a in dZ). Beside the degenerate partition (m = 0) a small perturbation moves m = 1
and 10 random training points to test. Every run records its partition's stabiliser
order; the results also record each subgroup's order and reflections.

Every row runs twice: as RFM is, and with the exact-symmetry control, M averaged over
the partition's stabiliser after every update (``grokrfm.sweep.stabilizer_averages``).
In exact arithmetic the two are the same; in floating point the plain run's M drifts
from the stabiliser's symmetry by round-off, and that drift can grow until a symmetric
partition generalises late (an "escape"). The control tells such escapes from RFM's own
behaviour; 100 iterations (the paper runs 60) give a late escape room to show.
``--controls`` picks the variants. Writes ``OUT/results.json``,
``OUT/dihedral_subgroups.png`` (final accuracy against m, one panel per variant) and
``OUT/escape.png`` (the degenerate partitions' test accuracy against iteration).
"""

from __future__ import annotations

import argparse

from grokrfm import cli, experiment, symmetry, tasks
from grokrfm.errors import InvalidArgument
from grokrfm.experiment import Row

NOTE = "arXiv 2604.00316, Fig. 3: never generalises"
P = cli.Sized(32, 24)
# The variants each row runs in: RFM as it is, and M averaged over the stabiliser.
CONTROLS = {"none": False, "stabiliser-average": True}


def rows(p: int, controls=tuple(CONTROLS)) -> list[Row]:
    """One row per subgroup <r^d, s> of Dih(Z_p), d = p (i.e. <s>), p/2, p/4, p/8, and
    per variant of ``controls`` (keys of :data:`CONTROLS`).

    Raises:
      InvalidArgument: naming ``p`` unless 8 divides p and p >= 16 (for p = 8, <r, s>
        is all of Dih(Z_8), whose reflections fix every point, leaving no training set).
    """
    if p % 8 or p < 16:
        raise InvalidArgument("p", f"needs a multiple of 8 that is at least 16, got {p}")
    task = tasks.make_task("x+y", p=p)
    out = []
    for control in controls:
        for d in (p, p // 2, p // 4, p // 8):
            rotations = [] if d == p else [d]
            reflections, order = symmetry.subgroup_reflections(task, rotations)
            name = "<s>" if d == p else f"<r^{d}, s>"
            suffix = "" if control == "none" else "_symmetrized"
            out.append(
                Row(
                    "x+y",
                    p,
                    "gaussian",
                    tuple(reflections),
                    "points",
                    (0, 1, 10),
                    note=NOTE,
                    name=f"subgroup_r{d}{suffix}",
                    held_out=f"fixed points of {name}",
                    setting={"subgroup": name, "subgroup_order": order, "control": control},
                    symmetrize=CONTROLS[control],
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
        iterations=cli.Sized(100, 20),
        seeds=cli.Sized(5, 2),
        published_iterations=50,  # the authors' notebook (App. D.3)
    )
    cli.add_sized(parser, "--p", P, "modulus, a multiple of 8 that is at least 16", type=int)
    parser.add_argument(
        "--controls",
        nargs="+",
        choices=list(CONTROLS),
        default=list(CONTROLS),
        help="variants to run (all): RFM as it is, M averaged over the stabiliser",
    )
    args = parser.parse_args(argv)
    if len(set(args.controls)) != len(args.controls):
        raise InvalidArgument("controls", f"give each variant once, got {args.controls}")
    return args


def figures(payload: dict, out: str) -> list[str]:
    """The module's figures from its results (``tools/redraw_figures.py`` redraws them)."""
    from grokrfm import plotting

    task = payload["config"]["rows"][0]["task"]
    degenerate = [r for r in payload["runs"] if r["setting"]["moved"] == 0]
    paths = [f"{out}/escape.png", f"{out}/dihedral_subgroups.png"]
    plotting.accuracy_curves(
        [
            {**r, "setting": {"curve": f"{r['setting']['subgroup']}, {r['setting']['control']}"}}
            for r in degenerate
        ],
        "curve",
        metrics=("test_acc",),
        title=f"{task}, m = 0: test accuracy with and without the stabiliser average",
        path=paths[0],
    )
    plotting.final_accuracy_vs_moved(
        payload["runs"],
        path=paths[1],
        panel_key="control",
        curve_key="subgroup",
        curve_names={
            sw["subgroup"]: plotting.element_tex(sw["subgroup"]) for sw in payload["sweeps"]
        },
        xlabel="random training points moved to test",
        title=f"{task}, test = fixed points of a dihedral subgroup's reflections",
    )
    return paths


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    options = cli.options_from_args(args)
    p = cli.sized(args, "p")
    subgroups = rows(p, tuple(args.controls))
    payload = experiment.run_experiment("dihedral_subgroups", subgroups, options)
    for sw in payload["sweeps"]:
        print(
            f"{sw['subgroup']} ({sw['control']}): order {sw['subgroup_order']}, reflections "
            f"{', '.join(sw['reflections'])}"
        )
    paths = figures(payload, options.out)
    print(f"wrote {options.out}/results.json and {', '.join(paths)}")
    return payload


if __name__ == "__main__":
    main()
