"""Command-line plumbing shared by every experiment module.

Experiments call :func:`add_task_arguments` / :func:`add_rfm_arguments` on their parser,
turn the parsed namespace into library objects with :func:`task_from_args` /
:func:`config_from_args`, and wrap their ``main`` in :func:`entry_point` so that a bad
argument prints one line naming it (exit status 2) instead of a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from grokrfm import distribute, experiment, kernels, memory, network, rfm, runtime, tasks
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
    if p is not None:
        check_modulus(args, p)
    return tasks.make_task(args.op, p=p, group=args.group)


def add_rfm_arguments(parser: argparse.ArgumentParser, iters=30) -> None:
    g = parser.add_argument_group("RFM")
    g.add_argument("--kernel", default="gaussian", help=f"one of {tuple(kernels.KERNELS)}")
    g.add_argument("--bandwidth", type=float, default=2.5, help="L (default 2.5)")
    g.add_argument("--ridge", type=float, default=0.0, help="lambda (default 0: exact)")
    g.add_argument("--power", type=float, default=0.5, help="M <- AGOP^power (default 0.5)")
    g.add_argument("--iters", type=int, default=iters, help=f"RFM iterations (default {iters})")
    g.add_argument("--no-centre", action="store_true", help="do not centre the gradients")
    g.add_argument("--normalize", action="store_true", help="divide M by its max entry")
    g.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="K",
        help="record M every K iterations and write every run's arrays (M history, final M, "
        "coefficients) to OUT/runs.npz; load it with grokrfm.load_runs",
    )
    add_resource_arguments(g)


def add_resource_arguments(parser, chunks: bool = True) -> None:
    """``--memory-budget`` and (with ``chunks``) ``--chunk-runs``: how much of a batch one
    compiled call takes, and how much of a sweep one saved chunk holds."""
    parser.add_argument(
        "--memory-budget",
        type=float,
        default=None,
        metavar="GIB",
        help="device memory per call in GiB; larger batches run in chunks (default: 80%% of "
        "an accelerator's memory, half the host RAM on CPU)",
    )
    if chunks:
        parser.add_argument(
            "--chunk-runs",
            type=int,
            default=None,
            metavar="R",
            help="runs per saved chunk; a rerun of the same command resumes from the chunks "
            "already saved under OUT (default: as many as fit the memory budget)",
        )
    add_process_arguments(parser)


def add_process_arguments(parser) -> None:
    """``--coordinator``, ``--num-processes``, ``--process-id``: run as one of several
    cooperating processes (JAX's multi-controller runtime; see :func:`entry_point`; none
    needed under SLURM or on a TPU pod, whose environment JAX reads), and ``--float32``."""
    parser.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                        help="address of process 0's coordinator service, to run as one "
                        "of several processes (under SLURM or on a TPU pod JAX reads the "
                        "job instead)")  # fmt: skip
    parser.add_argument("--num-processes", type=int, default=None, metavar="N",
                        help="how many processes run this command together")  # fmt: skip
    parser.add_argument("--process-id", type=int, default=None, metavar="I",
                        help="this process's index, 0..N-1")  # fmt: skip
    parser.add_argument("--float32", action="store_true",
                        help="compute in float32, the accelerator path (TPUs have no float64 "
                        "Cholesky); float64 is the reference")  # fmt: skip


def _join_processes(argv) -> int:
    """Join the processes the command line (or the launcher's environment) names,
    before any JAX computation; validated first, like every other flag."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)  # --p is not --process-id
    add_process_arguments(parser)
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if known.float32:
        runtime.configure(x64=False)
    return distribute.initialize(known.coordinator, known.num_processes, known.process_id)


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
        "save_every": config.save_every,
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


def output_folder(value: str) -> str:
    """The ``type`` of every ``--out``: checked while the arguments are parsed, before any
    compute, that the folder can be created and written to. Nothing is left behind by
    the check: a folder it had to create is removed again (the run creates it when it
    writes), so a command refused for another argument leaves no trace."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} exists and is not a folder")
    # Several processes of one run check the same folder at once; one may remove a
    # folder it created while another probes it, so a vanished folder is checked again.
    for _ in range(5):
        try:
            _probe_folder(path)
            return value
        except FileNotFoundError as err:  # removed under this check by another process
            error = err
        except OSError as err:
            error = err
            break
    raise argparse.ArgumentTypeError(f"cannot write to {value} ({error.strerror})") from None


def _probe_folder(path: Path) -> None:
    """Create ``path`` if needed, write a temporary file in it, and remove what was
    created (only by this call)."""
    created = []
    try:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        for folder in reversed(missing):
            try:
                folder.mkdir()
                created.append(folder)
            except FileExistsError:
                pass
        with tempfile.TemporaryFile(dir=path):
            pass
    finally:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:  # another process is using it
                pass


def entry_point(main: Callable[[list[str] | None], object]):
    """Run ``main`` after :func:`grokrfm.runtime.configure` (float64, XLA:CPU flags) and,
    when asked, after joining the other processes of a multi-process run
    (:func:`grokrfm.distribute.initialize`); an :class:`InvalidArgument` becomes
    ``error: ...`` and exit status 2."""

    @functools.wraps(main)
    def wrapped(argv=None):
        runtime.configure()
        try:
            if _join_processes(argv) > 1 and not distribute.is_lead_process():
                # One voice: the other processes compute and write their chunks quietly
                # (their warnings and errors still reach standard error).
                with contextlib.redirect_stdout(io.StringIO()):
                    return main(argv)
            return main(argv)
        except InvalidArgument as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapped


# --- flags every experiment shares, and paper-sized versus --quick defaults ---------------


class Sized(NamedTuple):
    """A flag's default at paper size and in the ``--quick`` CPU-sized variant."""

    paper: object
    quick: object


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return str(value)


def add_sized(parser: argparse.ArgumentParser, flag: str, default: Sized, help: str, **kwargs):
    """Add ``flag`` with a :class:`Sized` default, resolved later by :func:`sized`.

    The flag's parsed value stays None unless given, so an explicit 0 is kept (and
    validated) rather than replaced by the default.
    """
    dest = flag.lstrip("-").replace("-", "_")
    text = f"{help} ({_shown(default.paper)}; quick {_shown(default.quick)})"
    parser.add_argument(flag, default=None, help=text, **kwargs)
    defaults = dict(parser.get_default("_sized") or {})
    defaults[dest] = default
    parser.set_defaults(_sized=defaults)


def sized(args: argparse.Namespace, name: str):
    """The value of flag ``name``: as given on the command line, else its paper-sized or
    ``--quick`` default (see :func:`add_sized`)."""
    value = getattr(args, name)
    if value is None:
        default = args._sized[name]
        value = default.quick if args.quick else default.paper
    if name in MODULI and value is not None:
        check_modulus(args, value, name)
    return value


# Flags that give a task's modulus: checked against the memory budget before anything
# of the task's size is built.
MODULI = ("p", "curves_p")


def check_modulus(args: argparse.Namespace, p: int, argument: str = "p") -> int:
    """Refuse a modulus whose task cannot fit the memory budget (``--memory-budget``
    when the command has it), before any array of its size exists. The error names the
    budget when the user set it, else the modulus."""
    budget = memory_budget_from_args(args) if hasattr(args, "memory_budget") else None
    memory.check_task_size(p, budget, argument if budget is None else "memory_budget")
    return p


def add_common_arguments(
    parser: argparse.ArgumentParser,
    *,
    out: str,
    seeds: Sized,
    iterations: Sized | None = None,
    seeds_help: str = "seeds",
    chunks: bool = True,
) -> None:
    """The flags every experiment shares: ``--quick``, ``--seeds``, ``--iters`` (when the
    experiment runs RFM), ``--bandwidth``, ``--memory-budget``, ``--chunk-runs`` (when it
    saves chunks) and ``--out``.

    Args:
      out: the default output folder.
      seeds, iterations: :class:`Sized` defaults (resolve with :func:`sized`).
      seeds_help: what a seed counts, for ``--help``.
      chunks: offer ``--chunk-runs``.
    """
    parser.add_argument("--quick", action="store_true", help="CPU-sized variant (minutes)")
    add_sized(parser, "--seeds", seeds, seeds_help, type=int)
    if iterations is not None:
        add_sized(parser, "--iters", iterations, "RFM iterations", type=int)
    parser.add_argument("--bandwidth", type=float, default=2.5, help="Gaussian L (2.5)")
    add_resource_arguments(parser, chunks)
    parser.add_argument("--out", default=out, type=output_folder, help=f"output folder ({out})")


# --- the paper experiments' shared flags -----------------------------------------------


def add_experiment_arguments(
    parser: argparse.ArgumentParser,
    *,
    out: str,
    iterations: Sized,
    seeds: Sized,
    product: bool = False,
    published_iterations: int | None = None,
) -> None:
    """The command line of every declarative paper experiment
    (:func:`grokrfm.experiment.run_experiment`): :func:`add_common_arguments` and the
    row overrides ``--p`` (``--group``), ``--counts`` and ``--only``.

    Args:
      out: the default output folder.
      iterations, seeds: :class:`Sized` defaults.
      product: also offer ``--group`` (rows on a product group).
      published_iterations: the paper-sized iteration count the published code runs, where
        it differs from ``iterations.paper``: ``--conventions published`` defaults to it.
    """
    add_common_arguments(
        parser, out=out, seeds=seeds, iterations=iterations, seeds_help="seeds per count"
    )
    parser.add_argument(
        "--p", type=int, default=None, help="modulus of every row (default: each row's own)"
    )
    if product:
        parser.add_argument(
            "--group",
            type=int,
            nargs="+",
            default=None,
            metavar="N",
            help="factors of the product-group rows (default: each row's own)",
        )
    parser.add_argument(
        "--counts",
        type=int,
        nargs="+",
        default=None,
        metavar="M",
        help="the counts m of every row (default: each row's own)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="TEXT",
        help="run only the rows whose folder name contains one of these (e.g. gaussian)",
    )
    parser.add_argument(
        "--conventions",
        choices=experiment.CONVENTIONS,
        default="grokrfm",
        help="'published': the paper's published code's solve (LU, distances clamped below "
        "0, no residual check), its quadratic root (SVD) and a fresh draw of the moved points "
        "per count (default: grokrfm's; docs/library.md#conventions)"
        + (f"; its iterations default to {published_iterations}" if published_iterations else ""),
    )
    parser.set_defaults(_published_iters=published_iterations)


def _iterations(args: argparse.Namespace) -> int:
    """``--iters`` as given, else the published code's count under ``--conventions
    published`` at paper size (where the module declares one), else the sized default."""
    published = getattr(args, "_published_iters", None)
    if args.iters is None and published and args.conventions == "published" and not args.quick:
        return published
    return sized(args, "iters")


def options_from_args(args: argparse.Namespace) -> experiment.Options:
    """Resolve the defaults of :func:`add_experiment_arguments`, validate the scalars.

    Raises:
      InvalidArgument: naming ``seeds``, ``chunk_runs``, ``memory_budget`` or
        ``bandwidth``.
    """
    rfm.check_scalars(bandwidth=args.bandwidth)
    chunk_runs = chunk_runs_from_args(args)
    group = getattr(args, "group", None)
    return experiment.Options(
        quick=bool(args.quick),
        p=args.p if args.p is None else check_modulus(args, args.p),
        group=tuple(group) if group is not None else None,
        counts=tuple(args.counts) if args.counts is not None else None,
        iterations=_iterations(args),
        seeds=check_seeds(sized(args, "seeds")),
        bandwidth=args.bandwidth,
        # One run per chunk lets an interrupted paper-sized sweep lose at most one run;
        # a quick run is short enough to batch whole.
        chunk_runs=chunk_runs if chunk_runs is not None else (None if args.quick else 1),
        memory_budget=memory_budget_from_args(args),
        out=args.out,
        only=tuple(args.only) if args.only is not None else None,
        conventions=args.conventions,
    )


# --- network flags ---------------------------------------------------------------------


def add_network_arguments(parser: argparse.ArgumentParser, epochs: Sized) -> None:
    """Network flags; ``epochs`` is the :class:`Sized` default of ``--epochs``."""
    d = network.NetworkConfig()
    add_sized(parser, "--epochs", epochs, "network epochs", type=int)
    g = parser.add_argument_group("network")
    g.add_argument("--width", type=int, default=d.width, help=f"hidden units ({d.width})")
    g.add_argument("--lr", type=float, default=d.learning_rate, help="AdamW learning rate")
    g.add_argument("--wd", type=float, default=d.weight_decay, help="AdamW weight decay")
    g.add_argument("--batch", type=int, default=d.batch_size, help="minibatch size")
    g.add_argument(
        "--measure-every", type=int, default=None, help="feature measurements every k epochs"
    )


def network_config_from_args(args: argparse.Namespace) -> network.NetworkConfig:
    """The validated :class:`~grokrfm.network.NetworkConfig` of the network flags;
    features are measured 10 times a run unless ``--measure-every`` says otherwise."""
    epochs = sized(args, "epochs")
    if int(epochs) < 1:
        raise InvalidArgument("epochs", f"must be >= 1, got {epochs}")
    every = max(1, epochs // 10)
    if epochs % every:
        every = epochs  # measure at the start and the end only
    return network.NetworkConfig(
        width=args.width,
        epochs=epochs,
        learning_rate=args.lr,
        weight_decay=args.wd,
        batch_size=args.batch,
        measure_every=every if args.measure_every is None else args.measure_every,
    ).validate()
