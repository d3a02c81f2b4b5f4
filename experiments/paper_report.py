"""The reproduction report: every number of arXiv 2604.00316 a module compares with, beside
the measured one, with a verdict, generated from the ``results.json`` files alone.

    python -m experiments.paper_report --results results   # writes results/REPORT.md

``python -m experiments.summary`` (the last step of ``make paper``) writes it too, beside
``SUMMARY.md``. The report holds: whether every result present comes from one clean,
paper-sized commit (the provenance check); an index of the modules of ``make paper``
(run or not, commit, date, quick or not, wall time, verdict counts); the verdict rules
(:func:`grokrfm.report.verdict`, quoted from its docstring); then per module every
``paper_comparison`` entry (paper value, median, mean ± std, per-seed values, the seeds'
split, failed runs, verdict and reason) and the claims its payload carries in other shapes
(the stabiliser confusion tables, Finding 4.1's exact orbit matches, the computed symmetry
groups), or, for a module without a paper comparison, its summary rows. Every number is
written by :func:`grokrfm.report.number` from the JSON value, and nothing depends on the
time or place of generation, so the committed report can be regenerated and compared.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from grokrfm import cli, paper_data, report, results
from grokrfm.errors import InvalidArgument
from grokrfm.report import number

# The modules of `make paper` (the Makefile's PAPER_EXPERIMENTS, then BEYOND_EXPERIMENTS).
PAPER_MODULES = (
    "table1",
    "fig1",
    "pairs_never_help",
    "fixed_points",
    "other_groups",
    "dihedral_subgroups",
    "stabilizer",
    "features_degenerate",
    "features_random",
    "features_subgroups",
    "orbit_predictions",
)
BEYOND_MODULES = (
    "network_grokking",
    "network_trap",
    "emergence",
    "groups_random",
    "groups_summary",
)
MODULES = PAPER_MODULES + BEYOND_MODULES

REPORT = "REPORT.md"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.paper_report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--results", default="results", help="folder of result folders")
    return parser.parse_args(argv)


def read_results(root: Path) -> dict[str, dict | str]:
    """``{folder name: payload}`` for every ``root/<name>/results.json``; a file that
    cannot be read or parsed maps to the error's text (reported, not fatal)."""
    found: dict[str, dict | str] = {}
    for path in sorted(Path(root).glob("*/results.json")):
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            found[path.parent.name] = f"unreadable: {err}"
            continue
        if not isinstance(payload, dict):
            payload = f"unreadable: expected a JSON object, got {type(payload).__name__}"
        found[path.parent.name] = payload
    return found


LEDGER = "compute.json"


def read_ledgers(root: Path) -> dict[str, dict]:
    """``{folder name: ledger}`` for every ``root/<name>/compute.json`` that parses: the
    sessions ``tools/paper_run.py`` recorded running that module (unreadable ones are
    left out; the report then falls back on the module's own wall time)."""
    ledgers = {}
    for path in sorted(Path(root).glob(f"*/{LEDGER}")):
        try:
            ledger = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(ledger, dict) and isinstance(ledger.get("sessions"), list):
            ledgers[path.parent.name] = ledger
    return ledgers


def compute_spent(payload: dict, ledger: dict | None) -> tuple[float | None, str]:
    """A module's compute: the wall seconds of its ledger's sessions run from the commit
    its results record (finished or stopped), else its last process's ``process_wall_s``;
    and how that was counted, for the index."""
    commit = results.provenance(payload)["commit"]
    sessions = [
        s
        for s in (ledger or {}).get("sessions", [])
        if isinstance(s, dict)
        and s.get("commit") == commit
        and isinstance(s.get("wall_s"), int | float)
    ]
    if not sessions:
        wall = payload.get("process_wall_s")
        return wall, "last process"
    stopped = sum(s.get("outcome") != "finished" for s in sessions)
    how = f"{number(len(sessions), '')} runner session{'s' if len(sessions) > 1 else ''}"
    if stopped:
        how += f", {number(stopped, '')} stopped"
    return sum(s["wall_s"] for s in sessions), how


def cell(value) -> str:
    """Text for a markdown table cell: a pipe or a line break would break the row."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list]) -> list[str]:
    """A markdown table's lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


# --- one paper_comparison entry -----------------------------------------------------------

PUBLISHED = "published_comparison"


def read_published(root: Path) -> dict:
    """``tools/published_compare.py``'s index under ``root/published_comparison`` (empty
    when absent or unreadable: the report then shows no published runs)."""
    path = Path(root) / PUBLISHED / "index.json"
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return index if isinstance(index.get("cases"), dict) else {}


def published_finals(published: dict, stem: str | None, iterations: int = 60) -> list[float]:
    """Final test accuracies of the published code's runs of one case stem, by seed."""
    if not stem:
        return []
    found = []
    for name, record in sorted((published.get("cases") or {}).items()):
        prefix, _, rest = name.partition("_seed")
        if prefix != stem or not rest.endswith(f"_it{iterations}"):
            continue
        run = record.get("published") or {}
        correct, n = (run.get("test_correct") or [None])[-1], run.get("n_test")
        if correct is not None and n:
            found.append((int(rest.split("_")[0]), correct / n))
    return [value for _, value in sorted(found)]


def at_iteration(payload: dict, entry: dict, iterations: int) -> list[float | None] | None:
    """Each seed's test accuracy at ``iterations`` (the authors' count) for the runs of
    ``entry``'s sweep and count, or None when the runs are not recorded that long."""
    values = []
    for run in payload.get("runs") or []:
        s = run.get("setting") or {}
        if s.get("sweep") != entry.get("sweep") or s.get("moved") != entry.get("moved"):
            continue
        curve = run.get("test_acc") or []
        if len(curve) <= iterations:
            return None
        values.append(curve[iterations - 1])
    return values or None


def resolve(module: str, entry: dict, payload: dict, published: dict) -> dict:
    """One comparison with the paper's value as :mod:`grokrfm.paper_data` records it (its
    source, the authors' setting, single run or not, values beside it, the published code's
    own draws), the measured values read at the authors' iteration count where it differs."""
    found = paper_data.lookup(module, entry)
    if found is None:
        return {**entry, "source": entry.get("note") or ""}
    out = {
        **entry,
        "paper": found.value,
        "source": found.source,
        "paper_setting": found.setting,
        "single_run": found.single_run,
        "why": found.why,
        "beside": [list(b) for b in found.beside],
        "published_finals": published_finals(published, found.published_case),
    }
    if found.iterations:
        values = at_iteration(payload, entry, found.iterations)
        if values is not None:
            finite = report.finite(values)
            mean, std = report.mean_std(values)
            out.update(
                measured_seeds=values,
                measured_mean=mean,
                measured_median=float(np.median(finite)) if finite.size else None,
                measured_std=std,
                quantity=f"{entry.get('quantity', '')} (at iteration {found.iterations})",
            )
    return out


def resolved_entries(module: str, payload: dict, published: dict) -> list[dict]:
    entries = paper_data.annotate(module, payload.get("paper_comparison") or [])
    return [resolve(module, e, payload, published) for e in entries]


def comparison_cells(entry: dict) -> dict[str, str]:
    """The report's cells of one ``paper_comparison`` entry, each from its JSON value
    (a test recomputes them): paper value, median, mean ± std, per-seed values, the
    seeds' split, seeds (and failed runs), verdict and reason."""
    median, mean, std = (entry.get(k) for k in ("measured_median", "measured_mean", "measured_std"))
    values, per_seed = report.entry_values(entry)
    seeds = entry.get("measured_seeds") if per_seed else None
    split = report.split_text(report.seed_split(values)) if per_seed else None
    runs = "–" if entry.get("seeds") is None else number(entry["seeds"], "")
    if entry.get("failed_runs"):
        runs += f" ({number(entry['failed_runs'], '')} failed)"
    judged = report.judge(entry)
    beside = "; ".join(
        f"{report.paper_claim(v).text} ({src})" for v, src in entry.get("beside") or []
    )
    drawn = entry.get("published_finals") or []
    return {
        "setting": str(entry.get("setting", "")),
        "quantity": str(entry.get("quantity", "")),
        "paper": report.paper_claim(entry.get("paper")).text
        + (" (one run)" if entry.get("single_run") else ""),
        "source": str(entry.get("source") or ""),
        "paper's setting": str(entry.get("paper_setting") or "–"),
        "beside": beside or "–",
        "published code, own draws": ", ".join(number(v) for v in drawn) or "–",
        "median": number(median if per_seed else None),
        "mean ± std": number(mean) + ("" if None in (mean, std) else f" ± {number(std, 'pp')}"),
        "per seed": ", ".join("failed" if v is None else number(v) for v in seeds or []) or "–",
        "seeds split": split or "–",
        "seeds": runs,
        "verdict": judged.verdict,
        "reason": judged.reason,
    }


COMPARISON_COLUMNS = (
    "setting",
    "quantity",
    "paper",
    "source",
    "paper's setting",
    "verdict",
    "median",
    "mean ± std",
    "per seed",
    "seeds split",
    "seeds",
    "published code, own draws",
    "beside",
    "reason",
)


# --- claims in other shapes ------------------------------------------------------------------


def claim_row(
    claim: str, paper, measured: str, indicators: list[float], what: str, why: str = ""
) -> dict:
    """A claim a payload carries outside ``paper_comparison``, judged by the same rules
    (:func:`grokrfm.report.verdict`) on per-item values (1.0 / 0.0 for yes / no); with
    ``why`` (and ``paper`` None) it is shown and not judged, for that reason."""
    judged = report.verdict(paper, indicators, per_seed=True, what=what, why=why)
    return {
        "claim": claim,
        "paper": report.paper_claim(paper).text,
        "measured": measured,
        "verdict": judged.verdict,
        "reason": judged.reason,
    }


def stabilizer_claims(payload: dict) -> tuple[list[dict], list[str]]:
    """Finding 3.1 from the stabiliser experiment's confusion tables: partitions whose
    stabiliser H is non-trivial never generalise (paper: 0), those with H trivial
    generalise; both on all partitions and on those with a large training fraction."""
    config = payload.get("config") or {}
    threshold = config.get("threshold")
    confusion = (payload.get("confusion") or {}).get("h_trivial") or {}
    subsets = {"all": "all partitions"}
    if config.get("high_fraction") is not None:
        subsets["high_fraction"] = f"train fraction ≥ {number(config['high_fraction'])}"
    rows = []
    for key, label in subsets.items():
        t = confusion.get(key)
        if not t:
            continue
        symmetric = t["generalises_against_prediction"] + t["fails_as_predicted"]
        broken = t["generalises_as_predicted"] + t["fails_against_prediction"]
        gen_sym, gen_broken = t["generalises_against_prediction"], t["generalises_as_predicted"]
        what = f"generalises: final test acc ≥ {number(threshold)}"
        rows.append(
            claim_row(
                f"{label}, H non-trivial: partitions that generalise ({what})",
                None,
                f"{number(gen_sym, '')} of {number(symmetric, '')}",
                [1.0] * gen_sym + [0.0] * (symmetric - gen_sym),
                "partitions",
                why=(
                    "Finding 3.1 says RFM fails only on invariant partitions, not that every "
                    "invariant partition fails (the degenerate ones, which it does claim, are "
                    "judged as m = 0 in table1, fig1 and other_groups)"
                ),
            )
        )
        rows.append(
            claim_row(
                f"{label}, H trivial: partitions that generalise ({what})",
                "generalises",
                f"{number(gen_broken, '')} of {number(broken, '')}",
                [1.0] * gen_broken + [0.0] * (broken - gen_broken),
                "partitions",
            )
        )
    lines = []
    tables = payload.get("confusion") or {}
    if tables:
        body = []
        for prediction, by_subset in tables.items():
            for key, t in by_subset.items():
                body.append(
                    [
                        prediction,
                        subsets.get(key, key),
                        number(t["generalises_as_predicted"], ""),
                        number(t["fails_against_prediction"], ""),
                        number(t["generalises_against_prediction"], ""),
                        number(t["fails_as_predicted"], ""),
                        number(t.get("prediction_accuracy")),
                    ]
                )
        header = [
            "prediction",
            "partitions",
            "predicted to generalise: generalised",
            "predicted to generalise: failed",
            "predicted to fail: generalised",
            "predicted to fail: failed",
            "predicted right",
        ]
        lines += ["Confusion tables (counts of partitions):", "", *table(header, body), ""]
    degenerate = payload.get("degenerate_stabilizers") or {}
    for op, found in degenerate.items():
        orders = Counter(r["order"] for r in found)
        shown = ", ".join(
            f"{number(o, '')} ({number(n, '')} reflections)" for o, n in sorted(orders.items())
        )
        lines.append(f"- degenerate partitions of {op}: stabiliser orders {shown}")
    if degenerate:
        lines.append("")
    return rows, lines


def orbit_claims(payload: dict) -> tuple[list[dict], list[str]]:
    """Finding 4.1 run by run: the predicted set T equals the correctly classified test
    points C exactly (paper: 100% precision and recall, so every run), per setting (task,
    solve, ridge, ...: every field but the run's M0), over the runs started from a
    learned M0 whose solve succeeded."""
    groups: dict[tuple, list[float]] = {}
    for r in payload.get("runs") or []:
        s = r.get("setting") or {}
        if "n_both" not in r or s.get("M0") in (None, "I") or s.get("part") == "transfer":
            continue
        if not all(r.get("solve_ok") or [True]):
            continue
        key = tuple((k, _value(v)) for k, v in s.items() if k not in ("M0", "part"))
        exact = r.get("n_both") == r.get("n_predicted") == r.get("n_correct_test")
        groups.setdefault(key, []).append(1.0 if exact else 0.0)
    rows = []
    for key, exact in groups.items():
        label = ", ".join(v if k == "task" else f"{k} {v}" for k, v in key)
        rows.append(
            claim_row(
                f"{label}: runs with T = C exactly",
                1.0,
                f"{number(int(sum(exact)), '')} of {number(len(exact), '')}",
                exact,
                "runs",
            )
        )
    return rows, []


def groups_summary_claims(payload: dict) -> tuple[list[dict], list[str]]:
    """The computed label-preserving group against Dih(A) (arXiv 2604.00316, §3, App. A:
    the symmetry group of these tasks is dihedral), as the payload's ``dihedral`` rows
    record it: every task's group has Dih(A)'s elements and action."""
    rows = payload.get("dihedral") or []
    if not rows:
        return [], []
    same = [1.0 if r.get("same_elements") and r.get("same_action") else 0.0 for r in rows]
    claim = claim_row(
        "tasks whose computed symmetry group is Dih(A) (same elements, same action)",
        1.0,
        f"{number(int(sum(same)), '')} of {number(len(same), '')}",
        same,
        "tasks",
    )
    keys = list(dict.fromkeys(k for r in rows for k in r))
    body = [[_value(r.get(k)) for k in keys] for r in rows]
    return [claim], ["Computed symmetry groups against Dih(A):", "", *table(keys, body), ""]


EXTRA_CLAIMS = {
    "stabilizer": stabilizer_claims,
    "orbit_predictions": orbit_claims,
    "groups_summary": groups_summary_claims,
}


def _value(v) -> str:
    """A summary value in a generic table: numbers by :func:`number` (unit-less), short
    lists joined, anything longer or nested left out."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return "–" if v is None else str(v)
    if isinstance(v, (int, float)):
        return number(v, "")
    if isinstance(v, list) and len(v) <= 8 and all(not isinstance(x, (list, dict)) for x in v):
        return ", ".join(_value(x) for x in v)
    return "…"


def summary_lines(payload: dict, lead: str) -> list[str]:
    """A module's summary rows after ``lead``, every scalar field a column, as recorded
    (fractions as fractions, "…" for a long or nested value)."""
    rows = [r for r in payload.get("summary") or [] if isinstance(r, dict)]
    if not rows:
        return [f"{lead} No summary rows recorded.", ""]
    keys = list(dict.fromkeys(k for r in rows for k in r if not isinstance(r[k], dict)))
    body = [[_value(r.get(k)) for k in keys] for r in rows]
    return [
        f"{lead} Its summary rows as recorded (fractions as fractions, … for a long list):",
        "",
        *table(keys, body),
        "",
    ]


# --- the report -------------------------------------------------------------------------------


def module_verdicts(name: str, payload: dict, published: dict | None = None) -> list[str]:
    """Every verdict one payload's comparisons and other-shape claims get."""
    out = [report.judge(e).verdict for e in resolved_entries(name, payload, published or {})]
    extra = EXTRA_CLAIMS.get(payload.get("experiment", ""))
    if extra:
        out += [row["verdict"] for row in extra(payload)[0]]
    return out


def tally(verdicts: list[str]) -> str:
    """``"3 reproduced, 1 not reproduced, 0 ambiguous, 2 not judged"``."""
    counts = Counter(verdicts)
    return ", ".join(f"{number(counts[v], '')} {v}" for v in report.VERDICTS)


def module_section(
    name: str, payload: dict, published: dict | None = None, figures: list[str] = ()
) -> list[str]:
    """One module's part of the report: provenance, its figures, its comparisons with
    verdicts, its claims in other shapes, or its summary when it has no paper comparison."""
    source = results.provenance(payload)
    lines = [
        f"## {name}",
        "",
        f"commit `{source['commit']}`, date {source['date']}, quick run: {source['quick']}, "
        f"wall time {number(payload.get('process_wall_s'), 's')}",
        "",
    ]
    lines += [f"![{name}: {Path(f).stem}]({f})" for f in figures] + ([""] if figures else [])
    entries = resolved_entries(name, payload, published or {})
    if entries:
        cells = [comparison_cells(e) for e in entries]
        lines += table(
            list(COMPARISON_COLUMNS), [[c[k] for k in COMPARISON_COLUMNS] for c in cells]
        )
        lines += [
            "",
            "Median, mean and per-seed values are final values in percent; ± is the sample "
            "standard deviation over seeds (n - 1 in the denominator), in percentage points.",
            "",
        ]
    extra = EXTRA_CLAIMS.get(payload.get("experiment", ""), lambda p: ([], []))
    claims, extra_lines = extra(payload)
    if claims:
        header = ["claim", "paper", "measured", "verdict", "reason"]
        lines += [
            "Claims the payload carries in other shapes, judged by the same rules: each "
            "partition, run or task counts 100% when it does what the claim says of it, "
            "else 0%; the paper column is the share the paper's claim implies.",
            "",
        ]
        lines += table(header, [[c[k] for k in header] for c in claims]) + [""]
    lines += extra_lines
    if not entries:
        lead = "No `paper_comparison` recorded" + (" beyond the claims above." if claims else ".")
        lines += summary_lines(payload, lead)
    return lines


def provenance_lines(check: dict, count: int) -> list[str]:
    """The provenance check's line: one clean, paper-sized commit, or the offenders."""
    if count == 0:
        return ["**Provenance check: no results present.**", ""]
    if check["ok"]:
        (commit,) = check["commits"]
        return [
            f"**Provenance check: passed.** All {number(count, '')} results present carry "
            f"commit `{commit}`; none is from a modified tree (+dirty) or a --quick run.",
            "",
        ]
    commits = "; ".join(f"`{c}`: {', '.join(names)}" for c, names in check["commits"].items())
    offenders = "; ".join(f"{name} ({why})" for name, why in check["offenders"])
    return [
        f"**Provenance check: FAILED.** Commits: {commits}. Offenders: {offenders}.",
        "",
    ]


def render(
    found: dict[str, dict | str],
    ledgers: dict[str, dict] | None = None,
    published: dict | None = None,
    figures: dict[str, list[str]] | None = None,
) -> str:
    """The report's text from ``{folder name: payload or "unreadable: ..."}``
    (:func:`read_results`), the runner's compute ledgers (:func:`read_ledgers`), the
    published code's runs (:func:`read_published`) and each module's figures (paths
    relative to the report): a pure function of them."""
    ledgers, published, figures = ledgers or {}, published or {}, figures or {}
    present = {n: found[n] for n in MODULES if isinstance(found.get(n), dict)}
    damaged = [n for n in MODULES if isinstance(found.get(n), str)]
    check = report.provenance_check(present)
    for name in damaged:
        check["offenders"].append((name, "unreadable results.json"))
        check["ok"] = False
    index, sections, verdicts, compute = [], [], [], []
    for name in MODULES:
        part = "paper" if name in PAPER_MODULES else "beyond"
        payload = found.get(name)
        if payload is None:
            index.append([name, part, "not run", "", "", "", "", "", ""])
            continue
        if isinstance(payload, str):
            index.append([name, part, payload, "", "", "", "", "", ""])
            continue
        spent, how = compute_spent(payload, ledgers.get(name))
        compute.append(spent)
        source = results.provenance(payload)
        mine = module_verdicts(name, payload, published)
        verdicts += mine
        index.append(
            [
                name,
                part,
                "run",
                source["quick"],
                source["date"],
                f"`{source['commit']}`",
                number(payload.get("process_wall_s"), "s"),
                "–" if spent is None else f"{number(spent, 's')} ({how})",
                tally(mine) if mine else "–",
            ]
        )
        sections += module_section(name, payload, published, figures.get(name, []))
    walls = [p.get("process_wall_s") for p in present.values()]
    total = sum(w for w in walls if w is not None)
    untimed = sum(w is None for w in walls)
    others = sorted(n for n in found if n not in MODULES)
    rules = [f"{rule}" for rule in report.verdict_rules()]
    text = [
        "# Reproduction report: arXiv 2604.00316",
        "",
        "Generated by `python -m experiments.summary` (or `python -m experiments.paper_report`) "
        "from the `results.json` files beside this file alone; every number is written by "
        "`grokrfm.report.number` from the JSON value. Edit nothing here by hand: rerun it.",
        "",
        *provenance_lines(check, len(present)),
        f"**Verdicts:** {tally(verdicts)} ({number(len(verdicts), '')} comparisons in "
        f"{number(len(present), '')} of {number(len(MODULES), '')} modules).",
        "",
        "## Verdict rules",
        "",
        "Each comparison is judged from its recorded values by `grokrfm.report.verdict`; "
        "where an entry records only a mean, the mean stands for the seeds:",
        "",
        *rules,
        "",
        "## Index",
        "",
        *table(
            ["module", "part", "status", "quick", "date", "commit", "wall time", "compute"]
            + ["verdicts"],
            index,
        ),
        "",
        f"Total wall time {number(total, 's')} over {number(len(present), '')} of "
        f"{number(len(MODULES), '')} modules (`process_wall_s`: each module's last process; a "
        "resumed run does not count the sessions that computed its saved chunks)"
        + (f"; {number(untimed, '')} present without a recorded wall time" if untimed else "")
        + ".",
        "",
        f"Total compute {number(sum(c for c in compute if c is not None), 's')}: for each "
        "module the sessions `tools/paper_run.py` recorded running it from its results' "
        f"commit (`{LEDGER}`, finished and stopped alike), else its last process; chunks "
        "computed before the runner kept a ledger are not counted.",
        "",
    ]
    if others:
        text += [
            f"Other result folders here, not part of `make paper` (not checked): "
            f"{', '.join(others)}.",
            "",
        ]
    return "\n".join(text + published_lines(published) + sections)


def read_figures(root: Path) -> dict[str, list[str]]:
    """``{module: [its figures' paths relative to root]}``, sorted."""
    return {
        name: sorted(str(p.relative_to(root)) for p in (Path(root) / name).glob("*.png"))
        for name in MODULES
        if (Path(root) / name).is_dir()
    }


def published_lines(published: dict) -> list[str]:
    """The run-for-run comparison with the published code: one row per case compared."""
    cases = {n: c for n, c in (published.get("cases") or {}).items() if c.get("grokrfm")}
    if not cases:
        return []
    body = []
    same = 0
    for name, c in sorted(cases.items()):
        pub, runs = c["published"], c["grokrfm"]
        default, preset = runs.get("default", {}), runs.get("published", {})
        same += bool(default.get("identical_accuracy"))
        last = (pub.get("test_correct") or [None])[-1]

        def final(run, n_test=pub["n_test"]):
            value = (run.get("test_correct") or [None])[-1]
            return "–" if value is None else number(value / n_test)

        body.append(
            [
                name,
                number(pub.get("n_train"), ""),
                number(pub.get("n_test"), ""),
                "–" if last is None else number(last / pub["n_test"]),
                final(default),
                final(preset),
                "yes" if default.get("identical_accuracy") else "no",
                "–"
                if default.get("first_difference") is None
                else number(default["first_difference"], ""),
                number(default.get("max_dM_relative"), ""),
                number(preset.get("max_dM_relative"), ""),
                c.get("cause", ""),
            ]
        )
    header = [
        "case",
        "train",
        "test",
        "published final",
        "grokrfm default final",
        "grokrfm published-preset final",
        "same accuracy every iteration",
        "first differing iteration",
        "max rel. ΔM (default)",
        "max rel. ΔM (preset)",
        "cause",
    ]
    return [
        "## Run for run against the published code",
        "",
        f"The paper's published code ran on partitions it drew itself; grokrfm ran on each "
        f"identical partition (`tools/published_compare.py`, `{PUBLISHED}/index.json`). "
        f"{number(same, '')} of {number(len(cases), '')} cases give the same train and test "
        "accuracy at every iteration with grokrfm's defaults. ΔM is the largest entry of "
        "|M_grokrfm − M_published| over the largest entry of M_published, after any update.",
        "",
        *table(header, body),
        "",
    ]


def write(root: Path) -> tuple[Path, str]:
    """Render the report of ``root``'s results into ``root/REPORT.md`` atomically."""
    text = render(read_results(root), read_ledgers(root), read_published(root), read_figures(root))
    out = Path(root) / REPORT
    with results.atomic_path(out) as tmp:
        tmp.write_text(text)
    return out, text


@cli.entry_point
def main(argv=None) -> str:
    root = Path(parse_args(argv).results)
    if not root.is_dir():
        raise InvalidArgument("results", f"{root} is not a folder")
    out, text = write(root)
    print(f"wrote {out}")
    return text


if __name__ == "__main__":
    main()
