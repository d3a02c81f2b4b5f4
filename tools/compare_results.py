"""Compare two trees of experiment results number by number.

Usage: ``python tools/compare_results.py REFERENCE CANDIDATE [--rtol R] [--atol A]
[--ignore KEY ...] [--rename OLD=NEW ...] [--allow-new] [--relative-paths]``

Every ``results.json`` under REFERENCE must exist under CANDIDATE at the same relative
path, with the same structure: the same keys, list lengths, strings, integers and
booleans, and floats equal to within ``atol + rtol * |reference|`` (both 0 by default:
bit for bit). Fields that describe the run rather than its results (wall times, date,
environment, commit) are skipped. Prints one line per results file and every
difference, and exits 1 if any file differs. Used to check that a refactor leaves every
number unchanged: record REFERENCE before it and CANDIDATE after.

A refactor that changes the layout of a results file on purpose (keys renamed, settings
recorded beside new ones) proves its numbers unchanged with the layout options, each of
which only relaxes the comparison where it is asked to: ``--ignore KEY`` skips a key
(a bare name anywhere, or a path from the top with list indices left out, e.g.
``paper_comparison/quantity``), ``--rename OLD=NEW`` compares the reference's key OLD with
the candidate's key NEW, and ``--allow-new`` accepts keys that only the candidate has.
Outputs name their files under the folder they were written to (``figures``), so two
runs into different folders differ there; ``--relative-paths`` compares every string
that names a path inside a results file's folder by its path relative to that folder.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import NamedTuple

# Keys whose values describe how a run went, not what it measured.
VOLATILE = {"date", "environment", "wall_s", "wall_time_s", "rfm_wall_s", "network_wall_s"}


class Layout(NamedTuple):
    """Deliberate layout changes to look past (see the module docstring).

    Attributes:
      ignore: keys skipped: bare names, or paths like ``paper_comparison/quantity``.
      rename: ``{reference key: candidate key}``.
      allow_new: keys only in the candidate are not differences.
    """

    ignore: frozenset = frozenset()
    rename: dict | None = None
    allow_new: bool = False


EXACT = Layout()  # the default: every key compared, none renamed


def differences(
    ref, new, rtol: float, atol: float, path: str = "", layout: Layout = EXACT, where: str = ""
) -> list[str]:
    """Every place where ``new`` differs from ``ref`` (JSON values), as readable lines.

    ``where`` is ``path`` without list indices, which ``layout.ignore`` paths match."""
    if isinstance(ref, dict) and isinstance(new, dict):
        rename = layout.rename or {}
        pairs = {rename.get(key, key): key for key in ref}  # candidate key -> reference key
        out = []
        for key in sorted(set(pairs) | set(new)):
            ref_key = pairs.get(key, key)
            at = f"{where}/{ref_key}".lstrip("/")
            if key in VOLATILE or {ref_key, key, at} & layout.ignore:
                continue
            if key not in new:
                out.append(f"{path}/{ref_key}: only in reference")
                continue
            if ref_key not in ref:
                if not layout.allow_new:
                    out.append(f"{path}/{key}: only in candidate")
                continue
            out += differences(ref[ref_key], new[key], rtol, atol, f"{path}/{ref_key}", layout, at)
        return out
    if isinstance(ref, list) and isinstance(new, list):
        if len(ref) != len(new):
            return [f"{path}: length {len(ref)} != {len(new)}"]
        out = []
        for i, (a, b) in enumerate(zip(ref, new, strict=True)):
            out += differences(a, b, rtol, atol, f"{path}[{i}]", layout, where)
        return out
    if isinstance(ref, float) or isinstance(new, float):
        if isinstance(ref, bool) or isinstance(new, bool) or ref is None or new is None:
            return [] if ref == new else [f"{path}: {ref!r} != {new!r}"]
        a, b = float(ref), float(new)
        if math.isnan(a) and math.isnan(b):
            return []
        if a == b or abs(a - b) <= atol + rtol * abs(a):
            return []
        return [f"{path}: {a!r} != {b!r} (diff {abs(a - b):.3g})"]
    return [] if ref == new else [f"{path}: {ref!r} != {new!r}"]


def relative_paths(tree, folder: Path):
    """``tree`` (JSON values) with every string that names a path inside ``folder``
    replaced by that path relative to ``folder``."""
    folder = folder.resolve()
    if isinstance(tree, dict):
        return {key: relative_paths(value, folder) for key, value in tree.items()}
    if isinstance(tree, list):
        return [relative_paths(value, folder) for value in tree]
    if isinstance(tree, str) and "/" in tree:
        path = Path(tree).resolve()
        return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else tree
    return tree


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("candidate", type=Path)
    parser.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (0)")
    parser.add_argument("--atol", type=float, default=0.0, help="absolute tolerance (0)")
    parser.add_argument(
        "--ignore",
        nargs="+",
        default=[],
        metavar="KEY",
        help="keys to skip: a name anywhere, or a path such as paper_comparison/quantity",
    )
    parser.add_argument(
        "--rename",
        nargs="+",
        default=[],
        metavar="OLD=NEW",
        help="compare the reference's key OLD with the candidate's key NEW",
    )
    parser.add_argument(
        "--allow-new", action="store_true", help="accept keys that only the candidate has"
    )
    parser.add_argument(
        "--relative-paths",
        action="store_true",
        help="compare paths inside each results file's folder relative to it (figures)",
    )
    args = parser.parse_args(argv)
    renames = [pair.split("=") for pair in args.rename]
    if any(len(pair) != 2 for pair in renames):
        print(f"error: rename: expected OLD=NEW, got {args.rename}", file=sys.stderr)
        return 2
    layout = Layout(frozenset(args.ignore), dict(renames), args.allow_new)
    files = sorted(args.reference.rglob("results.json"))
    if not files:
        print(f"error: reference: no results.json under {args.reference}", file=sys.stderr)
        return 2
    failed = 0
    for ref_path in files:
        rel = ref_path.relative_to(args.reference)
        new_path = args.candidate / rel
        if not new_path.exists():
            print(f"MISSING {rel}")
            failed += 1
            continue
        ref, new = json.loads(ref_path.read_text()), json.loads(new_path.read_text())
        if args.relative_paths:
            ref, new = relative_paths(ref, ref_path.parent), relative_paths(new, new_path.parent)
        diffs = differences(ref, new, args.rtol, args.atol, layout=layout)
        print(
            f"{'same   ' if not diffs else 'DIFFERS'} {rel}" + (f" ({len(diffs)})" if diffs else "")
        )
        for line in diffs[:20]:
            print(f"    {line}")
        failed += bool(diffs)
    print(f"{len(files) - failed} of {len(files)} results files identical")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
