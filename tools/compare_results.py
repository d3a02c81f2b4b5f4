"""Compare two trees of experiment results number by number.

Usage: ``python tools/compare_results.py REFERENCE CANDIDATE [--rtol R] [--atol A]``

Every ``results.json`` under REFERENCE must exist under CANDIDATE at the same relative
path, with the same structure: the same keys, list lengths, strings, integers and
booleans, and floats equal to within ``atol + rtol * |reference|`` (both 0 by default:
bit for bit). Fields that describe the run rather than its results (wall times, date,
environment, commit) are skipped. Prints one line per results file and every
difference, and exits 1 if any file differs. Used to check that a refactor leaves every
number unchanged: record REFERENCE before it and CANDIDATE after.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

# Keys whose values describe how a run went, not what it measured.
VOLATILE = {"date", "environment", "wall_s", "wall_time_s", "rfm_wall_s", "network_wall_s"}


def differences(ref, new, rtol: float, atol: float, path: str = "") -> list[str]:
    """Every place where ``new`` differs from ``ref`` (JSON values), as readable lines."""
    if isinstance(ref, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(ref) | set(new)):
            if key in VOLATILE:
                continue
            if key not in ref or key not in new:
                out.append(f"{path}/{key}: only in {'candidate' if key in new else 'reference'}")
                continue
            out += differences(ref[key], new[key], rtol, atol, f"{path}/{key}")
        return out
    if isinstance(ref, list) and isinstance(new, list):
        if len(ref) != len(new):
            return [f"{path}: length {len(ref)} != {len(new)}"]
        out = []
        for i, (a, b) in enumerate(zip(ref, new, strict=True)):
            out += differences(a, b, rtol, atol, f"{path}[{i}]")
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("candidate", type=Path)
    parser.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (0)")
    parser.add_argument("--atol", type=float, default=0.0, help="absolute tolerance (0)")
    args = parser.parse_args(argv)
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
        diffs = differences(
            json.loads(ref_path.read_text()), json.loads(new_path.read_text()), args.rtol, args.atol
        )
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
