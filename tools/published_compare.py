"""Run for run against the paper's published code: the same partition, every iteration.

The user brings a checkout of the paper's published code (public repository
``marceltomas/breaking-data-symmetries``) and a Python environment that runs it (PyTorch,
numpy, scipy, easydict; see README.md, "Against the paper's published code"). Nothing of
that code is part of this project: ``tools/published_driver.py`` imports it from the
checkout, in a subprocess.

    python tools/published_compare.py --checkout PATH --python PATH/venv/bin/python \\
        [--cases comparison|distribution|threads|all] [--only NAME ...] [--threads 1]
        [--checkout-commit HASH]  # when PATH is an exported tree, not a git checkout

For each case (a kernel, an operation, a modulus, a reflection sr^k, m random training points
moved to the test set, a torch seed, an iteration count) it

1. runs the published code, which draws its own partition (skipped when the case's file is
   already under ``<out>/published/``, after its SHA-256 is checked against the index);
2. for a comparison case, runs grokrfm on the identical partition: with its defaults (rows
   in grid order), with the published conventions (:func:`grokrfm.rfm.published_config`,
   rows in the published code's order), and, where the defaults differ from the published
   code, with each convention switched alone, and with the exact-symmetry control where the
   partition has a non-trivial stabiliser, and with M0 perturbed by 1e-13; and compares
   train and test accuracy at every iteration (as counts of points) and M after every
   update;
3. names each difference's cause: the convention whose switch alone removes it, a kernel
   matrix that turned numerically singular, or round-off (no convention removes it, the M
   difference grows from rounding level, and grokrfm's own accuracy moves at about the same
   iteration when M0 is perturbed by 1e-13).

Everything lands in ``<out>/index.json`` (one entry per case, rewritten atomically after
each case, so an interrupted call loses nothing it finished) and ``<out>/published/*.npz``
(the published code's partition, curves and final M). Rerunning resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import grokrfm as gr  # noqa: E402
from grokrfm import experiment, rfm, sweep  # noqa: E402
from grokrfm import results as results_  # noqa: E402
from grokrfm.partition import Split  # noqa: E402

OP_SLUG = {"x+y": "add", "x-y": "sub", "x*y": "mul", "x/y": "div"}
# The relative M difference below which two runs count as the same matrix (float64
# round-off through 60 solves of condition up to ~1e8 stays far below it).
SAME_M = 1e-6


class Case(NamedTuple):
    """One published run: the published code draws the partition from ``seed``."""

    kernel: str
    op: str
    p: int
    reflection: int
    moved: int
    seed: int
    iters: int = 60
    pairs: int = 0
    threads: int = 0  # torch's threads for this case (0: the command's --threads)

    @property
    def name(self) -> str:
        pairs = f"_pairs{self.pairs}" if self.pairs else ""
        threads = f"_t{self.threads}" if self.threads else ""
        return (
            f"{self.kernel}_{OP_SLUG[self.op]}_p{self.p}_s{self.reflection}_m{self.moved}"
            f"{pairs}_seed{self.seed}_it{self.iters}{threads}"
        )


def _grid_cases() -> list[Case]:
    """Every kernel, operation and split kind, at p = 31 (seconds per published run)."""
    reflections = {"x+y": 0, "x*y": 3, "x/y": 7}
    return [
        Case(kernel, op, 31, k, moved, 0)
        for kernel in ("gaussian", "quadratic")
        for op, k in reflections.items()
        for moved in (0, 5)
    ]


# Paper-sized cases that decide a row of the paper's Table 1 (§3) or App. D.2's figures,
# seed 0 of each; the distribution set adds seeds 1-4.
PAPER_ROWS = [
    Case("gaussian", "x+y", 61, 0, 1, 0),
    Case("gaussian", "x*y", 61, 35, 20, 0),
    Case("quadratic", "x*y", 61, 35, 200, 0),
    Case("gaussian", "x*y", 61, 35, 10, 0),
    Case("gaussian", "x/y", 53, 27, 10, 0),
    Case("quadratic", "x*y", 61, 35, 100, 0),
    Case("quadratic", "x+y", 61, 0, 100, 0),
    Case("gaussian", "x+y", 61, 0, 0, 0),
]
COMPARISON = _grid_cases() + PAPER_ROWS
# Rows whose seeds straddle the paper's single number, the one still apart first: five
# published draws each.
DISTRIBUTION_ROWS = [
    Case("quadratic", "x*y", 61, 35, 200, 0),
    Case("gaussian", "x*y", 61, 35, 20, 0),
    Case("gaussian", "x*y", 61, 35, 10, 0),
    Case("quadratic", "x*y", 61, 35, 100, 0),
    Case("gaussian", "x/y", 53, 27, 10, 0),
]
DISTRIBUTION = [row._replace(seed=seed) for seed in range(5) for row in DISTRIBUTION_ROWS]
# The published code against itself: the same partition with torch on two threads instead
# of one (a different order of floating-point sums, nothing else).
THREADS = [Case("quadratic", "x*y", 61, 35, 200, 0, threads=2)]
SETS = {
    "comparison": COMPARISON,
    "distribution": DISTRIBUTION,
    "threads": THREADS,
    "all": COMPARISON + [c for c in DISTRIBUTION if c not in COMPARISON] + THREADS,
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_index(out: Path) -> dict:
    path = out / "index.json"
    return json.loads(path.read_text()) if path.exists() else {"cases": {}}


def counts(acc, n: int) -> list[int | None]:
    """Accuracies in [0, 1] over n points as whole counts (exact to compare); None where
    nothing was measured (a grokrfm run's iterations from a failed solve on)."""
    return [int(round(float(a) * n)) if np.isfinite(a) else None for a in np.asarray(acc)]


# --- the published side ----------------------------------------------------------------------


def run_published(case: Case, args, out: Path, entry: dict | None) -> dict:
    """The published run's record, running it unless a verified file is on disk."""
    path = out / "published" / f"{case.name}.npz"
    if entry and path.exists() and sha256(path) == entry["published"]["sha256"]:
        return entry["published"]
    if path.exists():
        print(f"{case.name}: file on disk does not match the index; rerunning", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.with_suffix(".driver.npz")  # the driver writes it whole (os.replace) or not
    if work.exists():
        print(f"{case.name}: taking the driver's finished output on disk", flush=True)
    else:
        env = dict(os.environ, PUBLISHED_THREADS=str(case.threads or args.threads))
        command = [
            args.python,
            str(ROOT / "tools" / "published_driver.py"),
            str(args.checkout),
            json.dumps(case._asdict()),
            str(work),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{case.name}: the published code failed:\n{done.stderr[-2000:]}")
        print(done.stdout.strip(), flush=True)
    with np.load(work) as f:
        data = {k: f[k] for k in f.files}
    with results_.atomic_path(path) as tmp:
        np.savez_compressed(
            tmp,
            train=data["train"],
            test=data["test"],
            train_acc=data["train_acc"],
            test_acc=data["test_acc"],
            M_final=data["M_history"][-1],
        )
    history = path.with_suffix(".history.npy")  # every M, for the comparison (not kept)
    np.save(history, data["M_history"])
    work.unlink()
    n_train, n_test = len(data["train"]), len(data["test"])
    return {
        "file": f"published/{path.name}",
        "sha256": sha256(path),
        "seconds": round(float(data["seconds"]), 1),
        "torch": str(data["torch_version"]),
        "threads": int(data["threads"]),
        "checkout_commit": checkout_commit(args.checkout) or args.checkout_commit,
        "n_train": n_train,
        "n_test": n_test,
        "train_correct": counts(data["train_acc"], n_train),
        "test_correct": counts(data["test_acc"], n_test),
    }


def checkout_commit(checkout: Path) -> str | None:
    """The commit of a git checkout whose top is ``checkout`` (None for an exported tree,
    or a folder inside another repository)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2:
        return None
    top, commit = lines
    return commit if Path(top).resolve() == Path(checkout).resolve() else None


# --- the grokrfm side ------------------------------------------------------------------------


# The RFMConfig fields on which grokrfm's defaults and the published code differ.
CONVENTIONS = ("solver", "distances", "residual_limit", "root")


class Variant(NamedTuple):
    """A grokrfm run on the published partition: a config, a row order, a control."""

    config: rfm.RFMConfig
    order: str  # "grid" (as grokrfm lays a split out) or "published"
    control: bool = False
    perturb: float = 0.0  # M0 = I + perturb * S, S a fixed symmetric matrix of max entry 1


# A perturbation of M0 far below any convention's effect: how soon round-off alone moves a run.
PERTURB = 1e-13


def variants(case: Case) -> dict[str, Variant]:
    """The defaults, the published preset, and each published convention alone."""
    # grokrfm's defaults as its paper modules run them (jitter retries for the quadratic)
    base = experiment.kernel_config(case.kernel, case.iters)._replace(save_every=1)
    preset = rfm.published_config(case.kernel, case.iters, save_every=1)
    switches = {
        f"{field}={getattr(preset, field)!r}": Variant(base._replace(**{field: value}), "grid")
        for field, value in preset._asdict().items()
        if field in CONVENTIONS and getattr(base, field) != value
    }
    return {
        "default": Variant(base, "grid"),
        "published": Variant(preset, "published"),
        **switches,
        "order=published": Variant(base, "published"),
        "published+control": Variant(preset, "published", control=True),
        f"M0+{PERTURB:g}": Variant(base, "grid", perturb=PERTURB),
    }


def run_grokrfm(task, train, test, variant: Variant):
    """(train_correct, test_correct, M after each update, solves) of one grokrfm run;
    ``solves``: the first iteration whose solve failed or needed jitter (None: none)."""
    if variant.order == "grid":
        n = task.n
        train = train[np.argsort(train[:, 0] * n + train[:, 1])]
        test = test[np.argsort(test[:, 0] * n + test[:, 1])]
    part = gr.partition_from_pairs(task.n, train, test)
    batch = type(part)(*(x[None] for x in part))
    average = None
    if variant.control:
        average, _ = sweep.stabilizer_averages(gr.symmetry_group(task), split_masks(task, part))
    M0 = None
    if variant.perturb:
        S = np.random.default_rng(0).standard_normal((2 * task.n, 2 * task.n))
        S = (S + S.T) / 2
        M0 = np.eye(2 * task.n) + variant.perturb * S / np.abs(S).max()
    spec = rfm.make_spec(task, batch, M0=M0, average=average)
    result = rfm.run_batch(task, variant.config, spec, progress=False)
    metrics = result.metrics

    def first(flags):
        hits = np.flatnonzero(np.asarray(flags))
        return int(hits[0]) if hits.size else None

    solves = {
        "first_failed_solve": first(~metrics.solve_ok[0]),
        "first_jitter": first(metrics.jitter[0] > 0),
    }
    return (
        counts(metrics.train_acc[0], len(train)),
        counts(metrics.test_acc[0], len(test)),
        np.asarray(result.M_history[0, 1:]),
        solves,
    )


def split_masks(task, part) -> Split:
    train = np.zeros((1, task.n_points), bool)
    test = np.zeros((1, task.n_points), bool)
    train[0, np.asarray(part.train_idx)] = True
    test[0, np.asarray(part.test_idx)] = True
    return Split(train, test)


def stabilizer_order(task, part) -> int:
    return int(
        np.asarray(sweep.stabilizer_averages(gr.symmetry_group(task), split_masks(task, part))[1])[
            0
        ]
    )


def compare(published: dict, M_published: np.ndarray, run) -> dict:
    train_c, test_c, M, solves = run
    differs = [
        t
        for t in range(len(test_c))
        if (train_c[t], test_c[t]) != (published["train_correct"][t], published["test_correct"][t])
    ]
    scale = np.max(np.abs(M_published), axis=(1, 2))
    dM = np.max(np.abs(M - M_published), axis=(1, 2)) / scale
    dM = np.where(np.isfinite(dM), dM, np.inf)
    return {
        "train_correct": train_c,
        "test_correct": test_c,
        "identical_accuracy": not differs,
        "first_difference": differs[0] if differs else None,
        "iterations_differing": len(differs),
        "dM_relative": [float(f"{x:.3g}") for x in dM],
        "max_dM_relative": float(f"{np.max(dM):.3g}"),
        "final_dM_relative": float(f"{dM[-1]:.3g}"),
        **solves,
    }


def first_difference(a: dict, b: dict) -> int | None:
    """The first iteration at which two runs' train or test counts differ (None: never)."""
    pairs = zip(
        a["train_correct"], a["test_correct"], b["train_correct"], b["test_correct"], strict=True
    )
    return next((t for t, (p, q, r, s) in enumerate(pairs) if (p, q) != (r, s)), None)


def same(comparison: dict) -> bool:
    return comparison["identical_accuracy"] and comparison["max_dM_relative"] < SAME_M


def cause(runs: dict) -> str:
    """The named cause of the defaults' difference from the published code."""
    default = runs["default"]
    if same(default):
        return "none: identical accuracy at every iteration and M within 1e-6"
    preset = runs["published"]
    alone = [name for name in runs if name.split("=")[0] in CONVENTIONS and same(runs[name])]
    if alone:
        return "convention: " + " or ".join(alone) + " alone makes grokrfm match"
    if same(preset):
        return "conventions together: the published preset matches, no single switch does"
    if preset["identical_accuracy"]:
        return (
            "round-off: accuracy identical at every iteration under the published preset,"
            f" M {preset['max_dM_relative']:.2g} apart"
        )
    first = preset["first_difference"]
    later = [
        f"{name} alone moves the first difference from {default['first_difference']} to "
        f"{runs[name]['first_difference']}"
        for name in runs
        if name.split("=")[0] in CONVENTIONS
        and runs[name]["first_difference"] is not None
        and runs[name]["first_difference"] > default["first_difference"]
    ]
    delays = "".join(f"; {text}" for text in later)
    flags = [default.get("first_jitter"), default.get("first_failed_solve")]
    singular = min((t for t in flags if t is not None), default=None)
    if singular is not None and singular <= first:
        return (
            f"singular kernel matrix: from iteration {singular} it is numerically singular"
            " (grokrfm's Cholesky needs jitter), so any solve returns round-off there; "
            f"identical through iteration {first - 1} under the published preset"
        ) + delays
    gap = preset["dM_relative"]
    text = (
        f"round-off: identical through iteration {first - 1} under the published preset,"
        f" no convention removes the difference; M's gap grows from {gap[0]:.1g} after"
        f" the first update to {gap[first - 1]:.1g} at iteration {first - 1}"
    ) + delays
    perturbed = next((r for n, r in runs.items() if n.startswith("M0+")), None)
    if perturbed is not None:
        own = perturbed.get("first_difference_from_default")
        where = "never" if own is None else f"from iteration {own} on"
        text += f"; grokrfm itself, M0 perturbed by {PERTURB:g}, changes accuracy {where}"
    return text


def compare_case(case: Case, published: dict, out: Path) -> dict:
    task = gr.make_task(case.op, p=case.p)
    with np.load(out / published["file"]) as f:
        train, test = f["train"], f["test"]
    history = out / published["file"].replace(".npz", ".history.npy")
    if not history.exists():
        raise RuntimeError(f"{case.name}: no M history on disk; rerun its published run")
    M_published = np.load(history)
    part = gr.partition_from_pairs(task.n, train, test)
    order = stabilizer_order(task, part)
    runs, seconds = {}, {}
    for name, variant in variants(case).items():
        if name != "default" and name != "published" and same(runs["default"]):
            continue  # nothing to explain
        if variant.control and order == 1:
            continue  # a trivial stabiliser: the control changes nothing
        start = time.perf_counter()
        runs[name] = compare(published, M_published, run_grokrfm(task, train, test, variant))
        seconds[name] = round(time.perf_counter() - start, 1)
        if variant.perturb:  # grokrfm against itself: round-off's own reach
            runs[name]["first_difference_from_default"] = first_difference(
                runs[name], runs["default"]
            )
    return {
        "stabilizer_order": order,
        "grokrfm": runs,
        "grokrfm_seconds": seconds,
        "cause": cause(runs),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, required=True, help="the published code")
    parser.add_argument("--python", required=True, help="an interpreter that runs it")
    parser.add_argument("--cases", choices=sorted(SETS), default="comparison")
    parser.add_argument("--only", nargs="*", default=None, help="case names to run")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    parser.add_argument(
        "--checkout-commit",
        default=None,
        help="the commit an exported (non-git) checkout was taken from, recorded with each run",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "published_comparison")
    parser.add_argument(
        "--published-only", action="store_true", help="run the published code, compare later"
    )
    parser.add_argument(
        "--recompare", action="store_true", help="rerun grokrfm's side of cases already compared"
    )
    parser.add_argument(
        "--causes-only",
        action="store_true",
        help="only rename every compared case's cause from its stored runs (no run)",
    )
    args = parser.parse_args(argv)
    if not (args.checkout / "train_kernel.py").exists():
        parser.error(f"--checkout: no train_kernel.py under {args.checkout}")
    if args.threads < 0:
        parser.error(f"--threads: must be >= 0, got {args.threads}")
    if not args.causes_only and not (checkout_commit(args.checkout) or args.checkout_commit):
        parser.error(
            f"--checkout-commit: {args.checkout} is not a git checkout; name the commit it "
            "was exported from, so that every published run records its code"
        )
    cases = SETS[args.cases]
    if args.only:
        unknown = sorted(set(args.only) - {c.name for c in SETS["all"]})
        if unknown:
            parser.error(f"--only: unknown case(s) {unknown}")
        by_name = {c.name: c for c in SETS["all"]}
        cases = [by_name[name] for name in dict.fromkeys(args.only)]  # in the order given
    if args.causes_only:
        index = read_index(args.out)
        for record in index["cases"].values():
            if "grokrfm" in record:
                record["cause"] = cause(record["grokrfm"])
        results_.write_json(args.out / "index.json", index)
        return 0
    gr.configure()
    comparing = {c.name for c in COMPARISON}
    for case in cases:
        index = read_index(args.out)
        entry = index["cases"].get(case.name)
        published = run_published(case, args, args.out, entry)
        record = {"case": case._asdict(), "published": published}
        if entry and entry.get("published", {}).get("sha256") == published["sha256"]:
            record = {**entry, **record}
        fresh = args.recompare or "grokrfm" not in record
        if case.name in comparing and not args.published_only and fresh:
            record.update(compare_case(case, published, args.out))
            record["grokrfm_commit"] = results_.git_commit()
            print(f"{case.name}: {record['cause']}", flush=True)
        index = read_index(args.out)  # another process may have added cases meanwhile
        index["cases"][case.name] = record
        results_.write_json(args.out / "index.json", index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
