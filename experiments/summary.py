"""Every paper experiment's measured values beside the paper's, in markdown files.

    python -m experiments.summary                          # results/*/results.json
    python -m experiments.summary --results results/quick  # the --quick set

Reads ``RESULTS/<experiment>/results.json`` for every folder under RESULTS and writes,
each atomically, ``RESULTS/SUMMARY.md``: an index (which experiments ran, when, from which
commit, whether as ``--quick`` runs; the paper's experiments that have no results are
listed as "not run"), then one table per experiment of its ``paper_comparison``; and
``RESULTS/REPORT.md`` (:mod:`experiments.paper_report`): the provenance check, every
comparison with a verdict by stated rules, and the claims payloads carry in other shapes.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from experiments import paper_report
from grokrfm import cli, report, results
from grokrfm.errors import InvalidArgument

# The paper's experiments, in the order of docs/science.md §5 (arXiv 2604.00316, §§3–4).
EXPERIMENTS = paper_report.PAPER_MODULES


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.summary", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--results", default="results", help="folder of result folders")
    return parser.parse_args(argv)


def load(path: Path) -> dict:
    """A results file, its date taken from the file's time when it records none."""
    payload = json.loads(path.read_text())
    if not isinstance(payload, dict):
        raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
    if not payload.get("date"):
        mtime = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
        payload["date"] = f"{mtime.isoformat(timespec='seconds')} (file time)"
    return payload


@cli.entry_point
def main(argv=None) -> str:
    root = Path(parse_args(argv).results)
    if not root.is_dir():
        raise InvalidArgument("results", f"{root} is not a folder")
    found = {p.parent.name: p for p in sorted(root.glob("*/results.json"))}
    names = [*EXPERIMENTS, *sorted(set(found) - set(EXPERIMENTS))]
    index = ["| experiment | status | quick | date | commit |", "|---|---|---|---|---|"]
    sections = []
    for name in names:
        if name not in found:
            index.append(f"| {name} | not run | | | |")
            continue
        try:
            payload = load(found[name])
        except (OSError, ValueError) as err:  # a damaged file is reported, not fatal
            index.append(f"| {name} | unreadable: {err} | | | |")
            continue
        source = results.provenance(payload)
        index.append(
            f"| {name} | run | {source['quick']} | {source['date']} | `{source['commit']}` |"
        )
        sections.append(report.markdown_section(name, payload))
    text = "\n".join(
        [
            f"# Measured beside the paper ({root})",
            "",
            "Final test accuracy, mean ± std over seeds; paper values as docs/science.md "
            "quotes them.",
            "",
            *index,
            "",
            *sections,
        ]
    )
    out = root / "SUMMARY.md"
    with results.atomic_path(out) as tmp:
        tmp.write_text(text)
    print(f"wrote {out} ({len(sections)} of {len(names)} experiments with results)")
    written, _ = paper_report.write(root)
    print(f"wrote {written}")
    return text


if __name__ == "__main__":
    main()
