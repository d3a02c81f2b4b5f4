"""Reports of finished runs: summary rows over seeds, plain-text tables, "measured beside
the paper" comparisons and markdown sections for a results summary."""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from grokrfm.analysis.curves import first_iteration_at
from grokrfm.results import provenance


def finite(values) -> np.ndarray:
    """The values that were measured (None and NaN mark a failed run), as floats."""
    return np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)


def mean_std(values) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof 1) of the measured values (None and NaN,
    failed runs, left out); None where there are too few values."""
    v = finite(values)
    mean = float(v.mean()) if v.size else None
    return mean, (float(v.std(ddof=1)) if v.size > 1 else None)


# A gap this wide between two seeds' final test accuracies splits a row in two.
SPLIT_GAP = 0.4


def seed_split(values: Sequence[float]) -> dict | None:
    """When the seeds of a row fall into two groups (a gap of at least
    :data:`SPLIT_GAP` between consecutive sorted values), the upper group as counts:
    ``{"above": k, "of": n, "level": l}`` reads "k of n seeds >= l" (l rounded down to
    10%). A mean of such a row describes no run. None when the seeds do not split."""
    v = np.sort(finite(values))
    if v.size < 2:
        return None
    gaps = np.diff(v)
    cut = int(np.argmax(gaps))
    if gaps[cut] < SPLIT_GAP:
        return None
    upper = v[cut + 1 :]
    return {
        "above": int(upper.size),
        "of": int(v.size),
        "level": float(np.floor(10 * upper[0]) / 10),
    }


def summarize(records: Sequence[dict], threshold: float = 0.9) -> list[dict]:
    """Aggregate records that share a setting over their seeds (final-iteration values).

    A run whose final accuracy is missing (a failed solve: ``None``/NaN) is left out of
    every statistic and counted in ``failed_runs``. ``test_acc_std`` is the *sample*
    standard deviation (ddof 1; None for fewer than two runs); ``test_acc_median`` and
    the per-seed ``test_acc_final`` sit beside the mean, and ``split`` (see
    :func:`seed_split`) says when the seeds fall into two groups.

    Raises:
      ValueError: two records with the same setting and seed (a duplicated run would
        count twice).
    """
    groups: dict[str, list[dict]] = {}
    seen = set()
    for r in records:
        key = repr(sorted(r["setting"].items()))
        if (key, r.get("seed")) in seen:
            raise ValueError(f"setting {r['setting']} with seed {r.get('seed')} appears twice")
        seen.add((key, r.get("seed")))
        groups.setdefault(key, []).append(r)
    rows = []
    for runs in groups.values():
        final_test = [r["test_acc"][-1] for r in runs]
        test = finite(final_test)
        train = finite([r["train_acc"][-1] for r in runs])
        jumps = [first_iteration_at(r["test_acc"], threshold) for r in runs]
        reached = [j for j in jumps if j is not None]
        measured = test.size > 0
        rows.append(
            {
                **runs[0]["setting"],
                "seeds": len(runs),
                "failed_runs": len(runs) - int(test.size),
                "n_train": int(np.mean([r["n_train"] for r in runs])),
                "n_test": int(np.mean([r["n_test"] for r in runs])),
                "train_acc_mean": float(train.mean()) if train.size else None,
                "test_acc_mean": float(test.mean()) if measured else None,
                "test_acc_std": float(test.std(ddof=1)) if test.size > 1 else None,
                "test_acc_median": float(np.median(test)) if measured else None,
                "test_acc_min": float(test.min()) if measured else None,
                "test_acc_max": float(test.max()) if measured else None,
                "test_acc_final": [
                    None if v is None or not np.isfinite(v) else v for v in final_test
                ],
                "split": seed_split(test),
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
        "measured_median": row.get("test_acc_median"),
        "measured_seeds": row.get("test_acc_final"),
        "split": split_text(row.get("split")),
        "train_acc_mean": row["train_acc_mean"],
        "seeds": row["seeds"],
        "failed_runs": row.get("failed_runs", 0),
        "note": note,
    }


def split_text(split: dict | None, what: str = "seeds") -> str | None:
    """``"2 of 5 seeds >= 80%"`` for a :func:`seed_split`, None when the seeds agree;
    ``what`` names what was counted."""
    if not split:
        return None
    return f"{split['above']} of {split['of']} {what} >= {100 * split['level']:.0f}%"


def format_table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """A plain-text table; ``columns`` is ``(key, header)`` pairs.

    A column whose key ends in ``_std`` (a standard deviation over seeds) gets a footnote
    saying it is the sample standard deviation (ddof 1)."""

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.1e}" if 0 < abs(v) < 1e-3 else f"{v:.3f}"
        return str(v)

    body = [[cell(r.get(k)) for k, _ in columns] for r in rows]
    headers = [h for _, h in columns]
    widths = [max([len(h), *(len(b[i]) for b in body)]) for i, h in enumerate(headers)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True))  # noqa: E731
    table = "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, body)])
    if any(key.endswith("_std") for key, _ in columns):
        table += "\n(± std: sample standard deviation over seeds, n - 1 in the denominator)"
    return table


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
            ("measured_median", "median"),
            ("split", "seeds split"),
            ("train_acc_mean", "train"),
            ("seeds", "seeds"),
            ("failed_runs", "failed"),
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
      and a table: setting, quantity, paper value, the measured final test accuracy
      (percent; mean ± sample std, or the seeds' split as counts when they fall into two
      groups, with the median and the per-seed values), train accuracy, seeds (and how
      many runs failed).
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
        "| setting | quantity | paper | measured | median | per seed | train acc | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        mean, std, train = (e.get(k) for k in ("measured_mean", "measured_std", "train_acc_mean"))
        if e.get("split"):
            measured = e["split"]
        elif mean is None:
            measured = "–"
        else:
            measured = f"{100 * mean:.1f}%" + ("" if std is None else f" ± {100 * std:.1f}")
        median = e.get("measured_median")
        median = "–" if median is None else f"{100 * median:.1f}%"
        per_seed = ", ".join(
            "failed" if v is None else f"{100 * v:.1f}" for v in e.get("measured_seeds") or []
        )
        train = "–" if train is None else f"{100 * train:.1f}%"
        seeds = str(e.get("seeds", "–"))
        if e.get("failed_runs"):
            seeds += f" ({e['failed_runs']} failed)"
        cells = [e.get("setting", ""), e.get("quantity", ""), _percent(e.get("paper"))]
        row = [*map(str, cells), measured, median, per_seed or "–", train, seeds]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("± is the sample standard deviation over seeds (n - 1 in the denominator).")
    return "\n".join([*lines, ""])


# --- the generated reproduction report: one number format, one set of verdict rules ---

# Verdict levels (see :func:`verdict`): "~0%" means every seed at most ZERO_LEVEL; a paper
# value v accepts v ± TOLERANCE (a range a-b: a - TOLERANCE to b + TOLERANCE); the word
# "generalises" means at least GENERALISES_LEVEL.
ZERO_LEVEL = 0.05
TOLERANCE = 0.05
GENERALISES_LEVEL = 0.9

REPRODUCED, NOT_REPRODUCED, AMBIGUOUS, NOT_JUDGED = (
    "reproduced",
    "not reproduced",
    "ambiguous",
    "not judged",
)
VERDICTS = (REPRODUCED, NOT_REPRODUCED, AMBIGUOUS, NOT_JUDGED)

_NUMBER = r"(\d+(?:\.\d+)?)"
_APPROX = r"[~≈]?\s*"


def number(value, unit: str = "%") -> str:
    """A number as every generated report writes it, from its JSON value, so that a
    test can recompute any cell.

    ``unit="%"``: a fraction in percent with one decimal (0.9836 -> ``"98.4%"``);
    ``"pp"``: a fraction as percentage points (0.05 -> ``"5.0 pp"``); ``"s"``: seconds
    with one decimal (``"12.3 s"``); ``""``: an integer as is, any other number to four
    significant digits. None (nothing measured) reads ``"–"``.
    """
    if value is None:
        return "–"
    if unit == "%":
        return f"{100 * value:.1f}%"
    if unit == "pp":
        return f"{100 * value:.1f} pp"
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "":
        if isinstance(value, (bool, np.bool_)):
            return str(bool(value))
        if isinstance(value, (int, np.integer)):
            return str(int(value))
        return f"{value:.4g}"
    raise ValueError(f"unknown unit {unit!r}")


class Claim(NamedTuple):
    """What a paper value says, as :func:`verdict` reads it.

    Attributes:
      kind: ``"zero"`` (0, "~0%"), ``"band"`` (a value, a range or "generalises": the
        accepted values are [low, high]), ``"words"`` (a statement no number checks)
        or ``"none"`` (the paper gives nothing here).
      low, high: the accepted band of a ``"band"`` claim (fractions), else None.
      text: how the claim reads in the report.
    """

    kind: str
    low: float | None
    high: float | None
    text: str


def paper_claim(paper) -> Claim:
    """Read a ``paper_comparison`` entry's ``paper`` value: a number in [0, 1], text such
    as ``"~0%"``, ``"98%"``, ``"62-70%"``, ``"generalises"``, other words, or None."""
    if paper is None:
        return Claim("none", None, None, "–")
    if isinstance(paper, (int, float)) and not isinstance(paper, bool):
        if paper == 0:
            return Claim("zero", None, None, number(paper))
        return Claim("band", paper - TOLERANCE, paper + TOLERANCE, number(paper))
    text = str(paper).strip()
    low = text.lower()
    if re.fullmatch(rf"{_APPROX}0(?:\.0+)?\s*%", low):
        return Claim("zero", None, None, text)
    if m := re.fullmatch(rf"{_APPROX}{_NUMBER}\s*[-–]\s*{_NUMBER}\s*%", low):
        a, b = float(m[1]) / 100, float(m[2]) / 100
        return Claim("band", a - TOLERANCE, b + TOLERANCE, text)
    if m := re.fullmatch(rf"{_APPROX}{_NUMBER}\s*%", low):
        v = float(m[1]) / 100
        return Claim("band", v - TOLERANCE, v + TOLERANCE, text)
    if low in ("generalises", "generalizes"):
        return Claim("band", GENERALISES_LEVEL, None, text)
    return Claim("words", None, None, text)


class Verdict(NamedTuple):
    """A comparison's verdict (one of :data:`VERDICTS`) and its one-line reason."""

    verdict: str
    reason: str


def _band_text(claim: Claim) -> str:
    if claim.high is None:
        return f"at least {number(claim.low)}"
    return f"{number(claim.low)} to {number(claim.high)}"


def verdict(
    paper,
    values: Sequence[float | None],
    per_seed: bool = True,
    what: str = "seeds",
    single_run: bool = False,
    why: str = "",
) -> Verdict:
    """Judge measured values against the paper's value: the report's rules, all here.

    Args:
      paper: the entry's paper value (see :func:`paper_claim`).
      values: the final values of the seeds (None: a failed run, left out), or, when
        ``per_seed`` is False, the one mean the entry records (it stands for the seeds).
      what: what the values are of, as the reason names them (``"partitions"``).
      single_run: the paper's value is one run (one draw of the moved points).
      why: where ``paper`` is None, why the paper makes no claim here (the reason given).

    Rules:
      1. No paper value, or a claim in words that no number checks (e.g. "block-circulant
         (by eye)"): not judged.
      2. No measured value (every run failed, or the quantity was never reached):
         ambiguous.
      3. The paper says 0 or "~0%": every seed at most 5% -> reproduced; no seed at most
         5% -> not reproduced; some seeds each side -> ambiguous.
      4. The paper gives a value v, a range "a-b%" or "generalises": the accepted band is
         v ± 5 percentage points, a - 5 to b + 5 points, or at least 90%. Every seed in
         the band -> reproduced. The seeds split into two groups (a gap of at least 40
         points between consecutive seeds, as the "k of n seeds >= level" counts) that
         fall on different sides of the band's edges -> ambiguous. Otherwise the median
         decides: in the band -> reproduced, outside -> not reproduced.
      5. A value the paper measured in a single run (one draw of the moved points, such as
         a cell of Table 1) is one draw from the distribution the seeds sample: it is
         reproduced when it lies within the seeds' range widened by 5 points on each
         side, and not reproduced outside it; rule 4's verdict is given beside.
    """
    claim = paper_claim(paper)
    if claim.kind == "none":
        return Verdict(NOT_JUDGED, why or "the paper gives no value here")
    if claim.kind == "words":
        return Verdict(NOT_JUDGED, f"the paper's claim is in words ({claim.text!r})")
    v = finite(values)
    failed = len(values) - v.size
    left_out = f"; {failed} failed run{'s' * (failed != 1)} left out" if failed else ""
    if not per_seed:
        scope = "the mean (no per-seed values recorded)"
    else:
        scope = f"all {v.size} {what}" if v.size > 1 else f"the one {what.removesuffix('s')}"
    if v.size == 0:
        return Verdict(AMBIGUOUS, "no value was measured" + left_out)
    if claim.kind == "zero":
        low = int((v <= ZERO_LEVEL).sum())
        level = number(ZERO_LEVEL)
        if low == v.size:
            return Verdict(REPRODUCED, f"{scope} at most {level}" + left_out)
        if low == 0:
            return Verdict(NOT_REPRODUCED, f"{scope} above {level}" + left_out)
        return Verdict(AMBIGUOUS, f"{v.size - low} of {v.size} {what} above {level}" + left_out)
    band = _band_text(claim)
    if single_run and per_seed and claim.high is not None:
        median_rule = verdict(paper, values, per_seed, what)
        seen = f"{number(float(v.min()))} to {number(float(v.max()))}"
        beside = f"; median rule: {median_rule.verdict} ({median_rule.reason})"
        if claim.low <= v.max() and claim.high >= v.min():
            return Verdict(
                REPRODUCED, f"one draw: {claim.text} within the {what}' range {seen}" + beside
            )
        return Verdict(
            NOT_REPRODUCED, f"one draw: {claim.text} outside the {what}' range {seen}" + beside
        )
    side = np.where(v < claim.low, -1, 0)
    if claim.high is not None:
        side = np.where(v > claim.high, 1, side)
    if not side.any():
        return Verdict(REPRODUCED, f"{scope} within {band}" + left_out)
    split = seed_split(v) if per_seed else None
    if split and np.unique(side).size > 1:
        return Verdict(
            AMBIGUOUS,
            f"{what} split across the band {band}: {split_text(split, what)}" + left_out,
        )
    median = float(np.median(v))
    inside = median >= claim.low and (claim.high is None or median <= claim.high)
    name = "median" if per_seed else "mean"
    if inside:
        return Verdict(REPRODUCED, f"{name} {number(median)} within {band}" + left_out)
    return Verdict(NOT_REPRODUCED, f"{name} {number(median)} outside {band}" + left_out)


def verdict_rules() -> list[str]:
    """The numbered rules of :func:`verdict`'s docstring, one string each, as the
    report's header states them (so they are written in one place)."""
    doc = inspect.cleandoc(verdict.__doc__ or "")
    block = doc.split("Rules:\n", 1)[1]
    rules: list[str] = []
    for line in block.splitlines():
        line = line.strip()
        if re.match(r"\d+\.\s", line):
            rules.append(line)
        elif line and rules:
            rules[-1] += " " + line
    return rules


def entry_values(entry: dict) -> tuple[list[float | None], bool]:
    """The values :func:`verdict` judges for one ``paper_comparison`` entry:
    ``(per-seed finals, True)`` when the entry records them and their mean is its
    ``measured_mean`` (an entry whose mean is another quantity's, such as a correlation
    beside test accuracies, does not use them), else ``([measured_mean], False)``."""
    seeds = entry.get("measured_seeds")
    mean = entry.get("measured_mean")
    if seeds:
        measured = finite(seeds)
        if mean is None and measured.size == 0:
            return list(seeds), True
        if mean is not None and measured.size and abs(float(measured.mean()) - mean) <= 1e-9:
            return list(seeds), True
    return [mean], False


def judge(entry: dict) -> Verdict:
    """The :func:`verdict` of one ``paper_comparison`` entry (``single_run``: the paper's
    value is one run; ``why``: the paper makes no claim here, and why)."""
    values, per_seed = entry_values(entry)
    single_run = bool(entry.get("single_run"))
    return verdict(
        entry.get("paper"), values, per_seed, single_run=single_run, why=entry.get("why") or ""
    )


def provenance_check(payloads: dict[str, dict]) -> dict:
    """Whether results files came from one commit, clean and paper-sized.

    Returns:
      ``{"ok": bool, "commits": {commit: [names]}, "offenders": [(name, why), ...]}``:
      ok when every payload records the same commit, none ends in ``+dirty``, none is
      unknown and none is a ``--quick`` run (or does not record whether it is); when
      the commits differ, every payload not on the most common commit is an offender
      (``why`` joins all of a payload's reasons).
    """
    commits: dict[str, list[str]] = {}
    why: dict[str, list[str]] = {name: [] for name in payloads}
    for name, payload in payloads.items():
        source = provenance(payload)
        commits.setdefault(source["commit"], []).append(name)
        if source["commit"] == "unknown":
            why[name].append("no commit recorded")
        elif source["commit"].endswith("+dirty"):
            why[name].append("modified working tree (+dirty)")
        if source["quick"] != "no":
            why[name].append("--quick run" if source["quick"] == "yes" else "quick not recorded")
    if len(commits) > 1:
        main = max(commits, key=lambda c: len(commits[c]))
        for commit, names in commits.items():
            for name in names if commit != main else ():
                why[name].append(f"commit {commit}, not {main}")
    offenders = [(name, "; ".join(w)) for name, w in why.items() if w]
    return {"ok": not offenders, "commits": commits, "offenders": offenders}
