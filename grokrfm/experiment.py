"""Declarative symmetry-breaking experiments: rows in, ``results.json`` out.

An experiment module declares its :class:`Row` groups (a degenerate partition, a move
and the counts to sweep, and what the paper reports for them) and calls
:func:`run_experiment` once: every row is validated before any compute (:func:`plan`),
run as a resumable :func:`~grokrfm.sweep.perturbation_sweep`, summarised over seeds,
compared with the paper and written with its provenance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from grokrfm import paper_data, partition, report, results, rfm, sweep, symmetry, tasks
from grokrfm.errors import InvalidArgument, lookup
from grokrfm.tasks import Task

# The paper's printed values live in :mod:`grokrfm.paper_data`, once.
DEGENERATE_TEST_ACC = paper_data.DEGENERATE_TEST_ACC
TABLE1 = paper_data.TABLE1


class Row(NamedTuple):
    """One row group of a paper experiment as the module declares it (not yet validated).

    Attributes:
      op: the operation, e.g. ``"x*y"``.
      modulus: p (for Z_p or Z_p^*) or the factors ``(n1, ..., nk)`` of a product group.
      kernel: ``"gaussian"`` or ``"quadratic"``.
      reflections: the values k of the held-out reflections sr^k as
        :meth:`grokrfm.symmetry.SymmetryGroup.reflection` reads them (``"0"`` is s,
        ``"3,2"`` an element of a product).
      move: a key of :data:`grokrfm.partition.MOVES`.
      counts: the counts m to sweep.
      paper: ``{m: value}`` the paper reports at exactly these sizes; compared only in
        a paper-sized run (no ``--quick``, ``--p`` or ``--group``).
      claim: the paper's size-independent statement for every m > 0 of the row (e.g.
        ``"~0%"`` for reflected pairs, ``"generalises"``), compared in every run.
      note: where the paper says it, recorded beside each comparison.
      name: the row's folder under OUT (default: built from the other fields).
      held_out: how the held-out set reads in tables (default: the reflections' names).
      setting: extra fields recorded in each run's setting (e.g. the subgroup).
      symmetrize: run the exact-symmetry control: M averaged over each run's partition
        stabiliser after every update (:func:`grokrfm.sweep.stabilizer_averages`).
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
    symmetrize: bool = False


class Options(NamedTuple):
    """A paper experiment's resolved options (:func:`grokrfm.cli.options_from_args`).

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
      conventions: ``"grokrfm"`` (this package's defaults) or ``"published"`` (the paper's
        published code: :func:`grokrfm.rfm.published_config` and a fresh draw of the
        moved points for every count, :func:`grokrfm.partition.moved_splits`).
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
    conventions: str = "grokrfm"

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
      symmetrize: as in :class:`Row`.
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
    symmetrize: bool = False
    draw: str = "nested"


class Outcome(NamedTuple):
    """Everything an experiment measured: summary rows (one per row and count), run
    records, "measured beside the paper" entries and one description per sweep."""

    summary: list[dict]
    runs: list[dict]
    comparison: list[dict]
    sweeps: list[dict]


# The conventions a paper experiment runs with (:class:`Options`).
CONVENTIONS = ("grokrfm", "published")


def kernel_config(kernel: str, iterations: int, conventions: str = "grokrfm") -> rfm.RFMConfig:
    """The RFM config of a paper row. ``"grokrfm"``: the paper's conventions as this
    package computes them, plus jitter retries for the quadratic kernel, whose matrix
    K = (X M X^T)^2 turns numerically singular on a symmetric partition once M has
    collapsed onto a few directions (a recorded jitter of 1e-14 x mean(diag K) keeps it
    interpolating). ``"published"``: the published code's (:func:`rfm.published_config`).

    Raises:
      InvalidArgument: naming ``conventions`` if it is not one of :data:`CONVENTIONS`.
    """
    lookup(dict.fromkeys(CONVENTIONS), conventions, "conventions", "conventions")
    if conventions == "published":
        return rfm.published_config(kernel, iterations)
    retries = 3 if kernel == "quadratic" else 0
    return rfm.RFMConfig(kernel, iterations, solve_retries=retries).validate()


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
      InvalidArgument: naming the first bad argument as the command line spells it
        (``p``, ``group``, ``counts``, ``iters``, ``only``, ...); a row that only an
        override makes invalid (a reflection that is no element of the new group, a
        count beyond the new partition) names that override.
    """
    tasks_made: dict = {}
    sweeps = []
    for row in rows:
        if isinstance(row.modulus, int):
            size = {"p": row.modulus if options.p is None else options.p}
        else:
            size = {"group": tuple(row.modulus) if options.group is None else options.group}
        key = (row.op, *size.items())
        if key not in tasks_made:
            tasks_made[key] = tasks.make_task(row.op, **size)
        task = tasks_made[key]
        config = kernel_config(row.kernel, options.iterations, options.conventions)
        counts = tuple(int(m) for m in (row.counts if options.counts is None else options.counts))
        try:
            sym, refl, _ = sweep.check_sweep(task, row.reflections, row.move, counts)
        except InvalidArgument as err:
            raise _blame_override(err, row, task, options) from None
        held_out = row.held_out or ", ".join(symmetry.reflection_label(sym, e) for e in refl)
        reflection_slug = "-".join(sym.names[e].replace("^", "") for e in refl)
        name = row.name or f"{row.kernel}_{tasks.task_slug(task)}_{reflection_slug}_{row.move}"
        label = f"{row.kernel} {task.name}, {held_out}"
        if row.symmetrize:
            name = row.name or f"{name}_symmetrized"
            label = f"{label}, M averaged over the stabiliser"
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
            Sweep(
                name,
                label,
                task,
                config,
                reflections,
                row.move,
                counts,
                values,
                setting,
                row.symmetrize,
                "fresh" if options.conventions == "published" else "nested",
            )
        )
    if not sweeps:
        raise InvalidArgument("only", f"no row's name contains any of {list(options.only or [])}")
    return sweeps


def _blame_override(
    err: InvalidArgument, row: Row, task: Task, options: Options
) -> InvalidArgument:
    """The error of a row that fails :func:`~grokrfm.sweep.check_sweep`, naming the
    override that made it fail: ``counts`` for a count too large, else ``p`` or ``group``
    (the row's reflections or counts do not fit the new group). A row that fails as
    declared keeps the library's error."""
    if err.argument not in ("reflections", "moved"):
        return err
    if err.argument == "moved" and options.counts is not None:
        flag = "counts"
    elif isinstance(row.modulus, int):
        flag = None if options.p is None else "p"
    else:
        flag = None if options.group is None else "group"
    if flag is None:
        return err
    return err.renamed(flag, f" ({row.kernel} {task.name} row)")


def run_sweeps(
    sweeps: Sequence[Sweep], options: Options, log: Callable[[str], None] | None = print
) -> Outcome:
    """Run every sweep with :func:`~grokrfm.sweep.perturbation_sweep` into
    ``OUT/<sweep name>`` (resumable chunks), summarise it over seeds and compare each
    count's final test accuracy with the paper's value (:func:`compare_with_paper`)."""
    outcome = Outcome([], [], [], [])
    for sw in sweeps:
        if log:
            log(
                f"{sw.label}: {partition.MOVES[sw.move].label} m = {list(sw.counts)}, "
                f"{len(options.seeds)} seeds, {options.iterations} iterations"
            )
        done = sweep.perturbation_sweep(
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
            symmetrize=sw.symmetrize,
            draw=sw.draw,
        )
        rows = report.summarize(done.records)
        outcome.summary.extend(rows)
        outcome.runs.extend(done.records)
        outcome.comparison.extend(compare_with_paper(sw, rows))
        outcome.sweeps.append(
            {
                **sw.setting,
                "reflections": done.reflections,
                "counts": list(sw.counts),
                **report.accuracy_extremes(done.records),
                "wall_s": done.wall_s,
            }
        )
    return outcome


def compare_with_paper(sw: Sweep, rows: Sequence[dict]) -> list[dict]:
    """One :func:`~grokrfm.report.comparison` entry per count of ``sw``: its final test
    accuracy (``rows``: the sweep's :func:`~grokrfm.report.summarize` rows) beside the
    paper's value for that count, with the sweep, the count and the largest stabiliser."""
    entries = []
    for row in rows:
        m = row["moved"]
        value, note = sw.paper.get(m, (None, ""))
        quantity = f"test acc, m = {m} {partition.MOVES[sw.move].label}"
        entry = report.comparison(quantity, sw.label, value, row, note)
        entry.update(sweep=sw.name, moved=m, stabilizer_order=row["stabilizer_order_max"])
        entries.append(entry)
    return entries


def run_with_figures(
    experiment: str,
    rows: Sequence[Row],
    options: Options,
    figures: Callable[[dict, str], list[str]],
) -> dict:
    """:func:`run_experiment`, then the module's ``figures(payload, out)`` (which
    ``tools/redraw_figures.py`` also calls on committed results); says what it wrote."""
    payload = run_experiment(experiment, rows, options)
    paths = figures(payload, options.out)
    print(f"wrote {options.out}/results.json and {', '.join(paths)}")
    return payload


def run_experiment(
    experiment: str,
    rows: Sequence[Row],
    options: Options,
    log: Callable[[str], None] | None = print,
) -> dict:
    """Validate every row, run them all, print the tables and write ``OUT/results.json``.

    Args:
      experiment: the experiment's name, recorded in the results.
      rows: the experiment's row groups (overridden by ``options``).
      options: the resolved command line.
      log: where progress lines and the tables go (None: silent).

    Returns:
      The payload written (:func:`~grokrfm.results.write_results`); its ``"sweeps"``
      entry describes each row with its :func:`~grokrfm.report.accuracy_extremes`.
    """
    sweeps = plan(rows, options)
    outcome = run_sweeps(sweeps, options, log)
    if log:
        log(report.format_comparison(outcome.comparison))
        log(report.format_sweeps(outcome.sweeps))
    config = {
        "quick": options.quick,
        "paper_sized": options.paper_sized,
        "iterations": options.iterations,
        "seeds": options.seeds,
        "bandwidth": options.bandwidth,
        "conventions": options.conventions,
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
                "solver": sw.config.solver,
                "distances": sw.config.distances,
                "root": sw.config.root,
                "residual_limit": sw.config.residual_limit,
                "draw": sw.draw,
                "symmetrize": sw.symmetrize,
                "reflections": list(sw.reflections),
                "move": sw.move,
                "counts": list(sw.counts),
            }
            for sw in sweeps
        ],
    }
    return results.write_results(
        options.out,
        experiment,
        config,
        outcome.summary,
        outcome.runs,
        outcome.comparison,
        sweeps=outcome.sweeps,
    )
