"""Redraw experiments' figures from their committed ``results.json``, without rerunning.

    python tools/redraw_figures.py [MODULE ...] [--results results]

A figure is a pure function of a module's results (its ``figures(payload, out)``), so a change
to how figures are drawn applies to paper-sized results without hours of recompute. Modules
default to every one that exposes ``figures``; a module without results is skipped with a line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments import paper_report  # noqa: E402


def drawable() -> list[str]:
    """The modules of ``make paper`` whose figures come from their results alone."""
    return [
        name
        for name in paper_report.MODULES
        if hasattr(importlib.import_module(f"experiments.{name}"), "figures")
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules to redraw (default: every one)")
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    args = parser.parse_args(argv)
    can = drawable()
    unknown = sorted(set(args.modules) - set(can))
    if unknown:
        parser.error(f"modules: {unknown} have no figures(payload, out); choose from {can}")
    for name in args.modules or can:
        path = args.results / name / "results.json"
        if not path.exists():
            print(f"{name}: no {path}, skipped")
            continue
        payload = json.loads(path.read_text())
        module = importlib.import_module(f"experiments.{name}")
        print(f"{name}: wrote {', '.join(module.figures(payload, str(path.parent)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
