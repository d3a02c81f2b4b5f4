"""grokrfm: grokking and data symmetry with Recursive Feature Machines, in JAX.

The package is organised by concept, and data flows one way through it::

    tasks -> symmetry (computed_symmetry) -> partition (families) -> kernels -> solve
    -> agop -> rfm | network -> analysis -> sweep -> report, results -> experiment -> cli

``memory``, ``distribute`` and ``runtime`` serve the engine; ``plotting`` draws figures
and is imported only by whoever draws them. The names below are what a notebook needs
to build a task and its partitions, run a batch of RFMs and read the results::

    import grokrfm as gr

    gr.configure()                        # float64, before the first computation
    task = gr.make_task("x+y", p=31)
    sym = gr.symmetry_group(task)
    base = gr.degenerate_split(sym, [sym.reflection(0)])
    splits, settings = gr.moved_splits(base, moved=[0, 1, 5], seeds=[0, 1, 2])
    result, partitions = gr.run_splits(task, gr.RFMConfig(iterations=20), splits)
    records = gr.run_records(settings, result, partitions)
    print(gr.format_table(gr.summarize(records), [("moved", "m"), ("test_acc_mean", "test")]))
    scores = gr.predict(task, result, partitions)            # (runs, n^2, n) on the grid
    gr.save_runs("runs.npz", task, gr.RFMConfig(iterations=20), result, partitions, settings)
    runs = gr.load_runs("runs.npz")                          # verified; runs.predict(pairs)
"""

from grokrfm import analysis
from grokrfm.errors import InvalidArgument
from grokrfm.kernels import KERNELS, Kernel
from grokrfm.partition import (
    MOVES,
    Move,
    Partition,
    Split,
    degenerate_split,
    fraction_splits,
    moved_splits,
    partition_from_pairs,
    random_split,
    to_partitions,
)
from grokrfm.report import format_table, summarize
from grokrfm.rfm import (
    RFMConfig,
    RFMResult,
    make_rfm,
    make_spec,
    predict,
    published_config,
    run_batch,
    run_single,
)
from grokrfm.runtime import Float32Warning, configure
from grokrfm.sweep import (
    SavedRuns,
    load_runs,
    perturbation_sweep,
    run_records,
    run_splits,
    save_runs,
)
from grokrfm.symmetry import SymmetryGroup, stabilizer, symmetry_group
from grokrfm.tasks import OPERATIONS, Group, Task, group_task, make_task, named_group

__version__ = "0.1.0"

__all__ = [
    "KERNELS",
    "MOVES",
    "OPERATIONS",
    "Group",
    "InvalidArgument",
    "Kernel",
    "Move",
    "Partition",
    "RFMConfig",
    "RFMResult",
    "Split",
    "SymmetryGroup",
    "Task",
    "analysis",
    "Float32Warning",
    "SavedRuns",
    "configure",
    "degenerate_split",
    "format_table",
    "fraction_splits",
    "group_task",
    "make_rfm",
    "make_spec",
    "load_runs",
    "make_task",
    "moved_splits",
    "named_group",
    "partition_from_pairs",
    "perturbation_sweep",
    "predict",
    "published_config",
    "random_split",
    "run_batch",
    "run_records",
    "run_single",
    "run_splits",
    "save_runs",
    "stabilizer",
    "summarize",
    "symmetry_group",
    "to_partitions",
]
