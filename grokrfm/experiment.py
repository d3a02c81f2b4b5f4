"""What every symmetry-breaking experiment shares: a perturbed degenerate partition swept
over counts and seeds, run in saved chunks, summarised, and compared with the paper.

An experiment module describes its settings and calls :func:`perturbation_sweep` once
per (task, kernel, reflections) group; :func:`comparison` turns a summary row into a
"measured beside the paper" entry; :func:`write_results` writes ``results.json`` with
provenance, atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from grokrfm import partition, results, rfm, sweep, symmetry
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
        "summary": summary,
        "paper_comparison": paper_comparison or [],
        "runs": runs,
        **extra,
    }
    results.write_json(Path(out_dir) / "results.json", payload)
    return payload
