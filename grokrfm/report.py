"""Reports of finished runs: summary rows over seeds, plain-text tables, "measured beside
the paper" comparisons and markdown sections for a results summary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grokrfm.analysis.curves import first_iteration_at
from grokrfm.results import provenance


def summarize(records: Sequence[dict], threshold: float = 0.9) -> list[dict]:
    """Aggregate records that share a setting over their seeds (final-iteration values)."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(repr(sorted(r["setting"].items())), []).append(r)
    rows = []
    for runs in groups.values():
        test = np.array([r["test_acc"][-1] for r in runs])
        train = np.array([r["train_acc"][-1] for r in runs])
        jumps = [first_iteration_at(r["test_acc"], threshold) for r in runs]
        reached = [j for j in jumps if j is not None]
        rows.append(
            {
                **runs[0]["setting"],
                "seeds": len(runs),
                "n_train": int(np.mean([r["n_train"] for r in runs])),
                "n_test": int(np.mean([r["n_test"] for r in runs])),
                "train_acc_mean": float(train.mean()),
                "test_acc_mean": float(test.mean()),
                "test_acc_std": float(test.std()),
                "test_acc_min": float(test.min()),
                "test_acc_max": float(test.max()),
                "reached": len(reached),
                "median_iteration_reached": float(np.median(reached)) if reached else None,
                "solve_failures": int(sum(not all(r["solve_ok"]) for r in runs)),
                "stabilizer_order_max": max((r.get("stabilizer_order") or 0) for r in runs) or None,
            }
        )
    return rows


def accuracy_extremes(records: Sequence[dict]) -> dict:
    """The worst and best a set of runs did: the largest final test accuracy, the largest
    test accuracy at any iteration, and the smallest final train accuracy (fractions)."""
    return {
        "max_test_acc": max(r["test_acc"][-1] for r in records),
        "max_test_acc_any_iteration": max(max(r["test_acc"]) for r in records),
        "min_train_acc": min(r["train_acc"][-1] for r in records),
        "runs": len(records),
    }


def comparison(
    quantity: str, setting: str, paper: str | float | None, row: dict, note: str = ""
) -> dict:
    """One "measured beside the paper" entry from a :func:`summarize` row.

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


def format_table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """A plain-text table; ``columns`` is ``(key, header)`` pairs."""

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.1e}" if 0 < abs(v) < 1e-3 else f"{v:.3f}"
        return str(v)

    body = [[cell(r.get(k)) for k, _ in columns] for r in rows]
    headers = [h for _, h in columns]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, body)])


def format_comparison(entries: Sequence[dict]) -> str:
    """The printed "measured beside the paper" table of :func:`comparison` entries."""
    shown = [{**e, "paper": "-" if e["paper"] is None else e["paper"]} for e in entries]
    return format_table(
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
    return format_table(
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


def _percent(value) -> str:
    """A paper value as it reads in a report: 0.98 -> "98%", text as written."""
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        return f"{100 * value:g}%"
    return str(value)


def markdown_section(name: str, payload: dict) -> str:
    """One experiment's ``paper_comparison`` as a markdown section.

    Args:
      name: the experiment's folder name (the section title).
      payload: its ``results.json`` (see :func:`grokrfm.results.write_results`).

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
