"""What M encodes when the fixed points of every reflection of a dihedral subgroup are held
out (arXiv 2604.00316, Fig. 3; docs/science.md R6): Gaussian RFM on x+y mod 32, subgroups <s>,
<r^16, s>, <r^8, s>, <r^4, s>.

    python -m experiments.features_subgroups            # p = 32, 60 iterations
    python -m experiments.features_subgroups --quick    # p = 16, 20 iterations

For each subgroup H = <r^d, s> the test set is the union of the fixed points of H's
reflections; the partition is then invariant under H (its stabiliser is at least H).
The representation score ranks what the final M encodes; reported per subgroup: the top
classes, how many of the top k are in H (k = H's classes {h, h^-1} besides the identity),
and the share of M's
energy beyond the identity in span{Pi(h) : h in H} against span{I, Pi(s)}. Writes
``OUT/results.json`` and ``OUT/matrices.png`` (M with the support of Pi(H) overlaid).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import numpy as np

from grokrfm import cli, experiment, partition, report, results, rfm, sweep, symmetry, tasks
from grokrfm.analysis import measure, representation
from grokrfm.errors import InvalidArgument

P = cli.Sized(32, 16)
ITERATIONS = cli.Sized(60, 20)


class Subgroup(NamedTuple):
    """A dihedral subgroup H = <r^d, s> of one run: test = Fix of its reflections.

    Attributes:
      name: ``"<s>"`` or ``"<r^d, s>"``.
      elements: H's element indices.
      reflections: the element indices of H's reflections.
    """

    name: str
    elements: tuple[int, ...]
    reflections: tuple[int, ...]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.features_subgroups", description=__doc__.split("\n\n")[0]
    )
    cli.add_common_arguments(
        parser,
        out="results/features_subgroups",
        seeds=cli.Sized(1, 1),
        iterations=ITERATIONS,
        seeds_help="runs per subgroup (only 1: a degenerate partition from M0 = I is "
        "deterministic)",
        chunks=False,
    )
    cli.add_sized(parser, "--p", P, "modulus, a multiple of 8 that is at least 16", type=int)
    parser.add_argument("--top", type=int, default=8, help="classes listed per run (8)")
    return parser.parse_args(argv)


def subgroups(task: tasks.Task, sym: symmetry.SymmetryGroup) -> list[Subgroup]:
    """<r^d, s> for d = p, p/2, p/4, p/8."""
    p = task.n
    if p % 8 or p < 16:
        raise InvalidArgument("p", f"needs a multiple of 8 that is at least 16, got {p}")
    out = []
    for d in (p, p // 2, p // 4, p // 8):
        rotations = [] if d == p else [d]
        values, order = symmetry.subgroup_reflections(task, rotations)
        reflections = [sym.reflection(v) for v in values]
        generators = reflections + [sym.rotation(d % p)] if rotations else reflections
        elements = sym.generate(generators)
        assert len(elements) == order
        name = "<s>" if d == p else f"<r^{d}, s>"
        out.append(Subgroup(name, tuple(elements), tuple(reflections)))
    return out


@cli.entry_point
def main(argv=None) -> dict:
    args = parse_args(argv)
    seeds = cli.sized(args, "seeds")
    if seeds != 1:  # fixed partitions from M0 = I leave nothing to a seed
        raise InvalidArgument("seeds", f"the runs are deterministic; give 1, got {seeds}")
    iters = cli.sized(args, "iters")
    config = rfm.RFMConfig("gaussian", iters, save_every=1).validate()
    rfm.check_scalars(bandwidth=args.bandwidth)
    budget = cli.memory_budget_from_args(args)
    if args.top < 1:
        raise InvalidArgument("top", f"must be >= 1, got {args.top}")
    p = cli.sized(args, "p")
    task = tasks.make_task("x+y", p=p)
    sym = symmetry.symmetry_group(task)
    groups = subgroups(task, sym)

    print(f"{task.name}: {len(groups)} subgroups, {iters} iterations")
    splits = partition.degenerate_splits(sym, [g.reflections for g in groups])
    result, parts = sweep.run_splits(
        task, config, splits, bandwidth=args.bandwidth, memory_budget=budget
    )
    settings = [{"task": task.name, "subgroup": g.name, "order": len(g.elements)} for g in groups]
    records = sweep.run_records(settings, result, parts)
    basis = representation.score_basis(sym)
    top = max(args.top, max(len(g.elements) for g in groups))
    rep, _ = symmetry.element_classes(sym)
    measure.feature_records(sym, result, records, splits, top=top, basis=basis)
    s_only = symmetry.subgroup_mask(sym, [sym.reflection(0)])
    from grokrfm import plotting

    summary, panels = [], []
    pi = symmetry.representation(sym)
    for g, r, M in zip(groups, records, result.M, strict=True):
        f = r["features"]
        mask = np.zeros(sym.order, bool)
        mask[list(g.elements)] = True
        f["energy"].update(
            representation.energy_report(M, basis, {"subgroup": mask, "s_only": s_only})
        )
        # H's classes {h, h^-1} other than the identity; how many of the top-ranked are in H.
        in_h = {rep[e] for e in g.elements} - {sym.identity}
        k = len(in_h)
        top_k = [t["element"] for t in f["top"][:k]]
        summary.append(
            {
                "subgroup": g.name,
                "order": len(g.elements),
                "train_acc": r["train_acc"][-1],
                "test_acc": r["test_acc"][-1],
                "stabilizer_order": len(f["stabilizer"]),
                "top_k_in_subgroup": sum(t in in_h for t in top_k),
                "classes": k,
                "top": ", ".join(f"{t['name']} {t['score']:+.2f}" for t in f["top"][:4]),
                "subgroup_share": f["energy"]["subgroup"]["beyond_identity"],
                "s_share": f["energy"]["s_only"]["beyond_identity"],
                "stabilizer_share": f["energy"]["stabilizer"]["beyond_identity"],
            }
        )
        panels.append(
            {
                "M": np.asarray(M),
                "pi": np.clip(pi[list(g.elements)].sum(axis=0), 0, 1),
                "title": f"{task.name}, test = fixed points of "
                f"{plotting.element_tex(g.name)}'s reflections: $M$",
                "pi_title": f"support of $\\Pi(h)$, $h$ in {plotting.element_tex(g.name)} "
                f"(order {len(g.elements)}); "
                f"share beyond I {summary[-1]['subgroup_share']:.3f}",
            }
        )
    print(
        report.format_table(
            summary,
            [
                ("subgroup", "H"),
                ("order", "|H|"),
                ("stabilizer_order", "|stab|"),
                ("train_acc", "train"),
                ("test_acc", "test"),
                ("top_k_in_subgroup", "top k in H"),
                ("classes", "k = classes of H"),
                ("subgroup_share", "share span Pi(H)"),
                ("s_share", "share span{I, Pi(s)}"),
                ("top", "top classes"),
            ],
        )
    )
    comparison = []
    for row in summary:
        setting = f"gaussian {task.name}, test = Fix(refl {row['subgroup']})"
        base = {"measured_std": 0.0, "train_acc_mean": row["train_acc"], "seeds": 1}
        comparison += [
            {
                "quantity": "test accuracy",
                "setting": setting,
                "paper": experiment.DEGENERATE_TEST_ACC,
                "measured_mean": row["test_acc"],
                **base,
                "note": "arXiv 2604.00316, Fig. 3: never generalises",
            },
            {
                "quantity": "M beyond I explained by span{Pi(h) : h in H}",
                "setting": setting,
                "paper": None,
                "measured_mean": row["subgroup_share"],
                **base,
                "note": f"of the top {row['classes']} classes {row['top_k_in_subgroup']} are in H "
                f"(H has {row['classes']} besides id); "
                f"span{{I, Pi(s)}} explains {row['s_share']:.3f}",
            },
        ]
    plotting.matrices_with_representations(panels, path=f"{args.out}/matrices.png")
    payload = results.write_results(
        args.out,
        "features_subgroups",
        {"quick": args.quick, "p": p, "iterations": iters, "bandwidth": args.bandwidth},
        summary,
        records,
        comparison,
        figures=[f"{args.out}/matrices.png"],
    )
    print(f"wrote {args.out}/results.json and {args.out}/matrices.png")
    return payload


if __name__ == "__main__":
    main()
