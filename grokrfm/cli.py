"""Command-line plumbing shared by every experiment module.

Experiments call :func:`add_task_arguments` / :func:`add_rfm_arguments` on their parser,
turn the parsed namespace into library objects with :func:`task_from_args` /
:func:`config_from_args`, and wrap their ``main`` in :func:`entry_point` so that a bad
argument prints one line naming it (exit status 2) instead of a traceback.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

from grokrfm import kernels, rfm, tasks
from grokrfm.errors import InvalidArgument


def add_task_arguments(parser: argparse.ArgumentParser, op="x+y", p=31) -> None:
    g = parser.add_argument_group("task")
    g.add_argument("--op", default=op, help=f"operation, one of {tasks.OPERATIONS}")
    g.add_argument("--p", type=int, default=None, help=f"modulus (default {p})")
    g.add_argument(
        "--group",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="abelian product Z_N1 x ... x Z_Nk instead of --p (x+y, x-y)",
    )
    parser.set_defaults(_default_p=p)


def task_from_args(args: argparse.Namespace) -> tasks.Task:
    p = args.p
    if p is None and args.group is None:
        p = args._default_p
    return tasks.make_task(args.op, p=p, group=args.group)


def add_rfm_arguments(parser: argparse.ArgumentParser, iters=30) -> None:
    g = parser.add_argument_group("RFM")
    g.add_argument("--kernel", default="gaussian", help=f"one of {kernels.KERNELS}")
    g.add_argument("--bandwidth", type=float, default=2.5, help="L (default 2.5)")
    g.add_argument("--ridge", type=float, default=0.0, help="lambda (default 0: exact)")
    g.add_argument("--power", type=float, default=0.5, help="M <- AGOP^power (default 0.5)")
    g.add_argument("--iters", type=int, default=iters, help=f"RFM iterations (default {iters})")
    g.add_argument("--no-centre", action="store_true", help="do not centre the gradients")
    g.add_argument("--normalize", action="store_true", help="divide M by its max entry")
    g.add_argument("--save-every", type=int, default=0, help="record M every k iterations")
    g.add_argument(
        "--memory-budget",
        type=float,
        default=None,
        metavar="GIB",
        help="device memory per call in GiB; larger sweeps run in chunks (default: 80%% of "
        "an accelerator's memory, half the host RAM on CPU)",
    )
    g.add_argument(
        "--chunk-runs",
        type=int,
        default=None,
        metavar="R",
        help="runs per saved chunk; a rerun of the same command resumes from the chunks "
        "already saved under OUT/chunks (default: as many as fit the memory budget)",
    )


def config_from_args(args: argparse.Namespace) -> rfm.RFMConfig:
    rfm.check_scalars(args.bandwidth, args.ridge, args.power)
    return rfm.RFMConfig(
        kernel=args.kernel,
        iterations=args.iters,
        centre=not args.no_centre,
        normalize=args.normalize,
        save_every=args.save_every,
    ).validate()


def run_config(task: tasks.Task, config: rfm.RFMConfig, args: argparse.Namespace) -> dict:
    """The task and RFM choices of a run, as recorded in ``results.json``."""
    return {
        "task": task.name,
        "op": task.op,
        "group": task.group.name,
        "kernel": config.kernel,
        "bandwidth": args.bandwidth,
        "ridge": args.ridge,
        "power": args.power,
        "iterations": config.iterations,
        "centre": config.centre,
        "normalize": config.normalize,
    }


def memory_budget_from_args(args: argparse.Namespace) -> int | None:
    """``--memory-budget`` in bytes (None: the device default)."""
    if args.memory_budget is None:
        return None
    if not args.memory_budget > 0:
        raise InvalidArgument("memory_budget", f"must be > 0 GiB, got {args.memory_budget}")
    return int(args.memory_budget * 2**30)


def chunk_runs_from_args(args: argparse.Namespace) -> int | None:
    if args.chunk_runs is not None and args.chunk_runs < 1:
        raise InvalidArgument("chunk_runs", f"must be >= 1, got {args.chunk_runs}")
    return args.chunk_runs


def check_seeds(seeds: int) -> list[int]:
    if seeds < 1:
        raise InvalidArgument("seeds", f"need at least one seed, got {seeds}")
    return list(range(seeds))


def entry_point(main: Callable[[list[str] | None], object]):
    """Run ``main``; an :class:`InvalidArgument` becomes ``error: ...`` and exit status 2."""

    @functools.wraps(main)
    def wrapped(argv=None):
        try:
            return main(argv)
        except InvalidArgument as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapped
