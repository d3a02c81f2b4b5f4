"""What every symmetry-breaking experiment shares: a perturbed degenerate partition swept
over counts and seeds, run in saved chunks, summarised, and compared with the paper.

An experiment module describes its settings and calls :func:`perturbation_sweep` once
per (task, kernel, reflections) group; :func:`comparison` turns a summary row into a
"measured beside the paper" entry; :func:`write_results` writes ``results.json`` with
provenance, atomically.
"""

from __future__ import annotations

import argparse
import datetime
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from grokrfm import cli, partition, results, rfm, sweep, symmetry, tasks
from grokrfm.errors import InvalidArgument
from grokrfm.tasks import Task

# What a count m means: random training points moved to test, whole orbits of the
# reflections' subgroup (reflected pairs for one reflection) moved to test, or fixed
# points moved from test into training.
MOVES = {"points": "train_to_test", "pairs": "orbits_to_test", "fixed": "test_to_train"}


class SweepResult(NamedTuple):
    """Records (one per run), summary rows (one per count), reflection names, wall time."""

    records: list[dict]
    rows: list[dict]
    reflections: list[str]
    wall_s: float


def check_sweep(
    task: Task, reflections: Sequence[str] | None, move: str, counts: Sequence[int]
) -> tuple[symmetry.SymmetryGroup, list[int], partition.Split]:
    """Validate a sweep's reflections, move and counts before any compute.

    Returns:
      ``(sym, reflection_indices, base_split)`` for the degenerate partition.

    Raises:
      InvalidArgument: naming ``move``, ``reflections`` or ``moved``.
    """
    if move not in MOVES:
        raise InvalidArgument("move", f"unknown {move!r}; choose from {sorted(MOVES)}")
    sym = symmetry.symmetry_group(task)
    values = list(reflections or [task.group.element_names[task.group.identity]])
    refl = symmetry.reflections(sym, values)
    base = partition.degenerate_split(sym, refl)
    source = "test" if move == "fixed" else "train"
    labels = sym.orbits(refl) if move == "pairs" else None
    partition.check_move_count(base, counts, source, orbit_labels=labels)
    return sym, refl, base


def perturbation_sweep(
    task: Task,
    config: rfm.RFMConfig,
    reflections: Sequence[str] | None,
    move: str,
    counts: Sequence[int],
    seeds: Sequence[int],
    out_dir: str | Path,
    *,
    bandwidth: float = 2.5,
    ridge: float = 0.0,
    power: float = 0.5,
    chunk_runs: int | None = None,
    memory_budget: int | None = None,
    setting: dict | None = None,
    log: Callable[[str], None] | None = print,
) -> SweepResult:
    """Hold out the fixed points of ``reflections``, perturb, run every (count, seed).

    Args:
      task: the task.
      config: RFM choices (kernel, iterations, ...).
      reflections: element names of the reflections whose fixed points form the test
        set (e.g. ``["sr^35"]``; None: ``s``, the reflection at the identity).
      move: a key of :data:`MOVES`.
      counts: the numbers m to move (0 runs once, deterministically).
      seeds: integer seeds.
      out_dir: where the chunks are saved (reruns resume from them).
      setting: extra fields recorded in every run's setting (e.g. ``{"kernel": ...}``),
        so rows of several sweeps stay distinguishable when merged.

    Returns:
      A :class:`SweepResult`; each record carries ``stabilizer_order``, the order of
      the largest subgroup of the task's symmetry group that preserves its partition.
    """
    sym, refl, base = check_sweep(task, reflections, move, counts)
    splits, settings = sweep.moved_splits(
        base, counts, seeds, MOVES[move], orbit_labels=sym.orbits(refl)
    )
    extra = dict(setting or {})
    settings = [{**extra, **s} for s in settings]

    def stabilizer_orders(records, chunk_splits, _result):
        # Finding 3.1's diagnosis beside each run: how large a symmetry its partition keeps.
        kept = symmetry.stabilizing_elements(sym, chunk_splits.train, chunk_splits.test)
        for record, order in zip(records, kept.sum(axis=-1), strict=True):
            record["stabilizer_order"] = int(order)

    start = time.perf_counter()
    records = sweep.run_chunked(
        task,
        config,
        splits,
        settings,
        out_dir,
        chunk_runs=chunk_runs,
        bandwidth=bandwidth,
        ridge=ridge,
        power=power,
        memory_budget=memory_budget,
        annotate=stabilizer_orders,
        log=log,
    )
    wall = time.perf_counter() - start
    names = [sym.names[e] for e in refl]
    return SweepResult(records, sweep.summarize(records), names, wall)


def comparison(
    quantity: str, setting: str, paper: str | float | None, row: dict, note: str = ""
) -> dict:
    """One "measured beside the paper" entry from a :func:`sweep.summarize` row.

    Args:
      quantity: what is compared, e.g. ``"test accuracy, m = 1"``.
      setting: the task and partition, e.g. ``"Gaussian x+y mod 61, s"``.
      paper: the paper's value as it reports it (a number in [0, 1], or text such as
        ``"62-70%"``), None where the paper gives none.
      row: the summary row whose final test accuracy was measured.
    """
    return {
        "quantity": quantity,
        "setting": setting,
        "paper": paper,
        "measured_mean": row["test_acc_mean"],
        "measured_std": row["test_acc_std"],
        "train_acc_mean": row["train_acc_mean"],
        "seeds": row["seeds"],
        "note": note,
    }


def write_results(
    out_dir: str | Path,
    experiment: str,
    config: dict,
    summary: list[dict],
    runs: list[dict],
    paper_comparison: list[dict] | None = None,
    **extra,
) -> dict:
    """Write ``out_dir/results.json`` atomically, with the environment it ran in.

    Returns:
      The payload written.
    """
    payload = {
        "experiment": experiment,
        "config": config,
        "environment": results.environment(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "summary": summary,
        "paper_comparison": paper_comparison or [],
        "runs": runs,
        **extra,
    }
    results.write_json(Path(out_dir) / "results.json", payload)
    return payload


# --- Paper experiments: rows of perturbation sweeps, run and compared in one call ---------

# The paper's thesis (PAPER.md section 5, items 2 and 6): a degenerate partition never
# generalises, so m = 0 of every row is compared with 0% whatever the sizes.
DEGENERATE_TEST_ACC = 0.0

# How a count m reads in a table, per move.
MOVE_UNITS = {
    "points": "points to test",
    "pairs": "pairs to test",
    "fixed": "fixed points to train",
}


class Row(NamedTuple):
    """One row group of a paper experiment as the module declares it (not yet validated).

    Attributes:
      op: the operation, e.g. ``"x*y"``.
      modulus: p (for Z_p or Z_p^*) or the factors ``(n1, ..., nk)`` of a product group.
      kernel: ``"gaussian"`` or ``"quadratic"``.
      reflections: the values k of the held-out reflections sr^k as
        :meth:`grokrfm.symmetry.SymmetryGroup.reflection` reads them (``"0"`` is s,
        ``"3,2"`` an element of a product).
      move: a key of :data:`MOVES`.
      counts: the counts m to sweep.
      paper: ``{m: value}`` the paper reports at exactly these sizes; compared only in
        a paper-sized run (no ``--quick``, ``--p`` or ``--group``).
      claim: the paper's size-independent statement for every m > 0 of the row (e.g.
        ``"~0%"`` for reflected pairs, ``"generalises"``), compared in every run.
      note: where the paper says it, recorded beside each comparison.
      name: the row's folder under OUT (default: built from the other fields).
      held_out: how the held-out set reads in tables (default: the reflections' names).
      setting: extra fields recorded in each run's setting (e.g. the subgroup).
    """

    op: str
    modulus: int | tuple[int, ...]
    kernel: str
    reflections: tuple[str, ...]
    move: str
    counts: tuple[int, ...]
    paper: dict | None = None
    claim: str | float | None = None
    note: str = ""
    name: str | None = None
    held_out: str | None = None
    setting: dict | None = None


class Options(NamedTuple):
    """A paper experiment's resolved command line (see :func:`add_arguments`).

    Attributes:
      quick: the CPU-sized variant was asked for.
      p, group: overrides of every row's modulus / product factors (None: the row's).
      counts: override of every row's counts (None: the row's).
      iterations: RFM iterations.
      seeds: the seeds, ``[0, ..., S-1]``.
      bandwidth: Gaussian L.
      chunk_runs, memory_budget: as for :func:`sweep.run_chunked` (budget in bytes).
      out: the output folder.
      only: run only the rows whose name contains one of these (None: every row).
    """

    quick: bool
    p: int | None
    group: tuple[int, ...] | None
    counts: tuple[int, ...] | None
    iterations: int
    seeds: list[int]
    bandwidth: float
    chunk_runs: int | None
    memory_budget: int | None
    out: str
    only: tuple[str, ...] | None = None

    @property
    def paper_sized(self) -> bool:
        """Whether the rows run at the sizes the paper reports (so its numbers apply)."""
        return not self.quick and self.p is None and self.group is None


class Sweep(NamedTuple):
    """A validated row: what :func:`perturbation_sweep` needs, and what to compare with.

    Attributes:
      name: folder under OUT, also recorded as each run's ``"sweep"`` setting.
      label: e.g. ``"gaussian x+y mod 61, s"``.
      task, config: the task and its RFM choices.
      reflections: the values k of the held-out sr^k.
      move, counts: as in :class:`Row` (after overrides).
      paper: ``{m: (value, note)}`` the paper's value for each count it speaks to.
      setting: fields recorded in every run's setting.
    """

    name: str
    label: str
    task: Task
    config: rfm.RFMConfig
    reflections: tuple[str, ...]
    move: str
    counts: tuple[int, ...]
    paper: dict
    setting: dict


class Outcome(NamedTuple):
    """Everything an experiment measured: summary rows (one per row and count), run
    records, "measured beside the paper" entries and one description per sweep."""

    summary: list[dict]
    runs: list[dict]
    comparison: list[dict]
    sweeps: list[dict]


def add_arguments(
    parser: argparse.ArgumentParser,
    *,
    out: str,
    iterations: tuple[int, int],
    seeds: tuple[int, int],
    product: bool = False,
) -> None:
    """The command line every paper experiment shares.

    Args:
      out: the default output folder.
      iterations, seeds: ``(paper-sized, quick)`` defaults.
      product: also offer ``--group`` (rows on a product group).
    """
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (a minute or two)")
    parser.add_argument(
        "--p", type=int, default=None, help="modulus of every row (default: each row's own)"
    )
    if product:
        parser.add_argument(
            "--group",
            type=int,
            nargs="+",
            default=None,
            metavar="N",
            help="factors of the product-group rows (default: each row's own)",
        )
    parser.add_argument(
        "--counts",
        type=int,
        nargs="+",
        default=None,
        metavar="M",
        help="the counts m of every row (default: each row's own)",
    )
    parser.add_argument(
        "--iters",
        type=int,
        default=None,
        help=f"iterations ({iterations[0]}; quick {iterations[1]})",
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help=f"seeds per count ({seeds[0]}; quick {seeds[1]})"
    )
    parser.add_argument("--bandwidth", type=float, default=2.5, help="Gaussian L (2.5)")
    parser.add_argument(
        "--chunk-runs",
        type=int,
        default=None,
        metavar="R",
        help="runs per saved chunk (1, so a paper-sized rerun resumes run by run; quick: "
        "as many as fit the memory budget)",
    )
    parser.add_argument("--memory-budget", type=float, default=None, metavar="GIB")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="TEXT",
        help="run only the rows whose folder name contains one of these (e.g. gaussian)",
    )
    parser.add_argument("--out", default=out, help=f"output folder ({out})")
    parser.set_defaults(_iterations=iterations, _seeds=seeds)


def options_from_args(args: argparse.Namespace) -> Options:
    """Resolve the defaults of :func:`add_arguments` and validate the scalars.

    Raises:
      InvalidArgument: naming ``seeds``, ``chunk_runs``, ``memory_budget`` or
        ``bandwidth``.
    """
    variant = 1 if args.quick else 0
    rfm.check_scalars(bandwidth=args.bandwidth)
    chunk_runs = cli.chunk_runs_from_args(args)
    group = getattr(args, "group", None)
    return Options(
        quick=bool(args.quick),
        p=args.p,
        group=tuple(group) if group is not None else None,
        counts=tuple(args.counts) if args.counts is not None else None,
        iterations=args.iters if args.iters is not None else args._iterations[variant],
        seeds=cli.check_seeds(args.seeds if args.seeds is not None else args._seeds[variant]),
        bandwidth=args.bandwidth,
        # One run per chunk lets an interrupted paper-sized sweep lose at most one run;
        # a quick run is short enough to batch whole.
        chunk_runs=chunk_runs if chunk_runs is not None else (None if args.quick else 1),
        memory_budget=cli.memory_budget_from_args(args),
        out=args.out,
        only=tuple(args.only) if args.only is not None else None,
    )


def kernel_config(kernel: str, iterations: int) -> rfm.RFMConfig:
    """The RFM config of a paper row: the paper's conventions, plus jitter retries for
    the quadratic kernel, whose matrix K = (X M X^T)^2 turns numerically singular on a
    symmetric partition once M has collapsed onto a few directions (a recorded jitter
    of 1e-14 x mean(diag K) keeps it interpolating)."""
    retries = 3 if kernel == "quadratic" else 0
    return rfm.RFMConfig(kernel, iterations, solve_retries=retries).validate()


def reflection_label(sym: symmetry.SymmetryGroup, element: int) -> str:
    """``"s"`` for the reflection at the identity, else its name (``"sr^35"``)."""
    return "s" if element == sym.task.n + sym.identity else sym.names[element]


def subgroup_reflections(
    task: Task, rotations: Sequence, reflections: Sequence = ("0",)
) -> tuple[list[str], int]:
    """The reflections of the subgroup of Dih(A) generated by r^k (k in ``rotations``)
    and sr^k (k in ``reflections``), computed by closing the generators under composition.

    Returns:
      ``(values, order)``: the values k of every reflection sr^k in the subgroup, as
      :meth:`~grokrfm.symmetry.SymmetryGroup.reflection` reads them, and the subgroup's
      order. E.g. x+y mod 32 with rotations ``[16]``: ``(["0", "16"], 4)``.
    """
    sym = symmetry.symmetry_group(task)
    generators = [sym.rotation(k, "rotations") for k in rotations]
    generators += [sym.reflection(k) for k in reflections]
    elements = sym.generate(generators)
    names = task.group.element_names
    values = [names[e - task.n] for e in elements if sym.is_reflection(e)]
    return values, len(elements)


def _slug(task: Task) -> str:
    ops = {"x+y": "add", "x-y": "sub", "x*y": "mul", "x/y": "div"}
    size = task.group.name.replace("Z_", "").replace("^*", "").replace(" x ", "x")
    return f"{ops[task.op]}{size}"


def paper_values(row: Row, counts: Sequence[int], paper_sized: bool) -> dict:
    """``{m: (value, note)}``: what the paper says about each count of ``row``.

    m = 0 is the degenerate partition (0%); every other count gets the row's
    size-independent claim; the numbers the paper measured at its own sizes replace
    these only when ``paper_sized``.
    """
    values = {}
    for m in counts:
        if m == 0:
            values[m] = (DEGENERATE_TEST_ACC, "degenerate partition")
        elif row.claim is not None:
            values[m] = (row.claim, row.note)
        if paper_sized and m in (row.paper or {}):
            values[m] = (row.paper[m], row.note)
    return values


def plan(rows: Sequence[Row], options: Options) -> list[Sweep]:
    """Apply the overrides to every row and validate it, before any compute; keep the
    rows that ``options.only`` selects (all rows are validated either way).

    Rows on the same (operation, group) share one task object, so their runs share
    compiled functions where the shapes agree.

    Raises:
      InvalidArgument: naming the first bad argument (``p``, ``group``, ``reflections``,
        ``moved``, ``iters``, ``only``, ...).
    """
    tasks_made: dict = {}
    sweeps = []
    for row in rows:
        if isinstance(row.modulus, int):
            size = {"p": options.p or row.modulus}
        else:
            size = {"group": options.group or tuple(row.modulus)}
        key = (row.op, *size.items())
        if key not in tasks_made:
            tasks_made[key] = tasks.make_task(row.op, **size)
        task = tasks_made[key]
        config = kernel_config(row.kernel, options.iterations)
        counts = tuple(int(m) for m in (options.counts or row.counts))
        sym, refl, _ = check_sweep(task, row.reflections, row.move, counts)
        held_out = row.held_out or ", ".join(reflection_label(sym, e) for e in refl)
        reflection_slug = "-".join(sym.names[e].replace("^", "") for e in refl)
        name = row.name or f"{row.kernel}_{_slug(task)}_{reflection_slug}_{row.move}"
        label = f"{row.kernel} {task.name}, {held_out}"
        setting = {
            "sweep": name,
            "label": label,
            "kernel": row.kernel,
            "task": task.name,
            "held_out": held_out,
            "move": row.move,
            **(row.setting or {}),
        }
        if options.only and not any(text in name for text in options.only):
            continue
        values = paper_values(row, counts, options.paper_sized)
        reflections = tuple(row.reflections)
        sweeps.append(
            Sweep(name, label, task, config, reflections, row.move, counts, values, setting)
        )
    if not sweeps:
        raise InvalidArgument("only", f"no row's name contains any of {list(options.only or [])}")
    return sweeps


def accuracy_extremes(records: Sequence[dict]) -> dict:
    """The worst and best a set of runs did: the largest final test accuracy, the largest
    test accuracy at any iteration, and the smallest final train accuracy (fractions)."""
    return {
        "max_test_acc": max(r["test_acc"][-1] for r in records),
        "max_test_acc_any_iteration": max(max(r["test_acc"]) for r in records),
        "min_train_acc": min(r["train_acc"][-1] for r in records),
        "runs": len(records),
    }


def run_sweeps(
    sweeps: Sequence[Sweep], options: Options, log: Callable[[str], None] | None = print
) -> Outcome:
    """Run every sweep with :func:`perturbation_sweep` into ``OUT/<sweep name>`` (resumable
    chunks) and compare each count's final test accuracy with the paper's value."""
    outcome = Outcome([], [], [], [])
    for sw in sweeps:
        if log:
            log(
                f"{sw.label}: {MOVE_UNITS[sw.move]} m = {list(sw.counts)}, "
                f"{len(options.seeds)} seeds, {options.iterations} iterations"
            )
        done = perturbation_sweep(
            sw.task,
            sw.config,
            sw.reflections,
            sw.move,
            sw.counts,
            options.seeds,
            Path(options.out) / sw.name,
            bandwidth=options.bandwidth,
            chunk_runs=options.chunk_runs,
            memory_budget=options.memory_budget,
            setting=sw.setting,
            log=log,
        )
        outcome.summary.extend(done.rows)
        outcome.runs.extend(done.records)
        for row in done.rows:
            m = row["moved"]
            value, note = sw.paper.get(m, (None, ""))
            entry = comparison(
                f"test acc, m = {m} {MOVE_UNITS[sw.move]}", sw.label, value, row, note
            )
            entry.update(sweep=sw.name, moved=m, stabilizer_order=row["stabilizer_order_max"])
            outcome.comparison.append(entry)
        outcome.sweeps.append(
            {
                **sw.setting,
                "reflections": done.reflections,
                "counts": list(sw.counts),
                **accuracy_extremes(done.records),
                "wall_s": done.wall_s,
            }
        )
    return outcome


def format_comparison(entries: Sequence[dict]) -> str:
    """The printed "measured beside the paper" table of :func:`comparison` entries."""
    shown = [{**e, "paper": "-" if e["paper"] is None else e["paper"]} for e in entries]
    return sweep.format_table(
        shown,
        [
            ("setting", "setting"),
            ("quantity", "quantity"),
            ("paper", "paper"),
            ("measured_mean", "measured"),
            ("measured_std", "± std"),
            ("train_acc_mean", "train"),
            ("seeds", "seeds"),
            ("stabilizer_order", "|stab|"),
        ],
    )


def format_sweeps(described: Sequence[dict]) -> str:
    """The printed per-sweep extremes (see :func:`accuracy_extremes`)."""
    return sweep.format_table(
        described,
        [
            ("label", "setting"),
            ("move", "move"),
            ("runs", "runs"),
            ("max_test_acc", "max test (final)"),
            ("max_test_acc_any_iteration", "max test (any iter)"),
            ("min_train_acc", "min train"),
            ("wall_s", "wall s"),
        ],
    )


def run_experiment(
    experiment: str,
    rows: Sequence[Row],
    options: Options,
    log: Callable[[str], None] | None = print,
    **extra,
) -> dict:
    """Validate every row, run them all, print the tables and write ``OUT/results.json``.

    Args:
      experiment: the experiment's name, recorded in the results.
      rows: the experiment's row groups (overridden by ``options``).
      options: the resolved command line.
      extra: further top-level fields of the results file.

    Returns:
      The payload written (see :func:`write_results`); its ``"sweeps"`` entry describes
      each row with its :func:`accuracy_extremes`.
    """
    sweeps = plan(rows, options)
    outcome = run_sweeps(sweeps, options, log)
    if log:
        log(format_comparison(outcome.comparison))
        log(format_sweeps(outcome.sweeps))
    config = {
        "quick": options.quick,
        "paper_sized": options.paper_sized,
        "iterations": options.iterations,
        "seeds": options.seeds,
        "bandwidth": options.bandwidth,
        "overrides": {
            "p": options.p,
            "group": options.group,
            "counts": options.counts,
            "only": options.only,
        },
        "rows": [
            {
                "name": sw.name,
                "task": sw.task.name,
                "kernel": sw.config.kernel,
                "solve_retries": sw.config.solve_retries,
                "reflections": list(sw.reflections),
                "move": sw.move,
                "counts": list(sw.counts),
            }
            for sw in sweeps
        ],
    }
    return write_results(
        options.out,
        experiment,
        config,
        outcome.summary,
        outcome.runs,
        outcome.comparison,
        sweeps=outcome.sweeps,
        **extra,
    )


def _percent(value) -> str:
    """A paper value as it reads in a report: 0.98 -> "98%", text as written."""
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        return f"{100 * value:g}%"
    return str(value)


def provenance(payload: dict) -> dict:
    """What a report says about where a results file came from: ``commit``, ``date``
    and ``quick`` ("yes", "no" or "unknown" for files that do not record it)."""
    quick = (payload.get("config") or {}).get("quick")
    return {
        "commit": (payload.get("environment") or {}).get("git_commit") or "unknown",
        "date": payload.get("date") or "unknown",
        "quick": "unknown" if quick is None else ("yes" if quick else "no"),
    }


def markdown_section(name: str, payload: dict) -> str:
    """One experiment's ``paper_comparison`` as a markdown section.

    Args:
      name: the experiment's folder name (the section title).
      payload: its ``results.json`` (see :func:`write_results`).

    Returns:
      A heading, a provenance line (git commit, date, whether it was a ``--quick`` run)
      and a table: setting, quantity, paper value, measured mean ± std of the final test
      accuracy (percent), train accuracy, seeds.
    """
    source = provenance(payload)
    lines = [
        f"## {name}",
        "",
        f"commit `{source['commit']}`, date {source['date']}, quick run: {source['quick']}",
        "",
    ]
    entries = payload.get("paper_comparison") or []
    if not entries:
        return "\n".join([*lines, "No paper comparison recorded.", ""])
    lines += [
        "| setting | quantity | paper | measured | train acc | seeds |",
        "|---|---|---|---|---|---|",
    ]
    for e in entries:
        mean, std, train = (e.get(k) for k in ("measured_mean", "measured_std", "train_acc_mean"))
        measured = "–" if mean is None else f"{100 * mean:.1f} ± {100 * (std or 0.0):.1f}%"
        train = "–" if train is None else f"{100 * train:.1f}%"
        cells = [e.get("setting", ""), e.get("quantity", ""), _percent(e.get("paper"))]
        lines.append(
            "| " + " | ".join([*map(str, cells), measured, train, str(e.get("seeds", "–"))]) + " |"
        )
    return "\n".join([*lines, ""])
