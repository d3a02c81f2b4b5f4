"""The top-level API: ``import grokrfm as gr`` gives a notebook what it needs, and
importing it neither starts a JAX backend nor pulls in matplotlib."""

import subprocess
import sys
import textwrap

import numpy as np

import grokrfm as gr
from grokrfm import partition, report, rfm, sweep, symmetry, tasks


def test_public_names_are_the_library_objects():
    assert gr.make_task is tasks.make_task and gr.symmetry_group is symmetry.symmetry_group
    assert gr.moved_splits is partition.moved_splits and gr.run_splits is sweep.run_splits
    assert gr.RFMConfig is rfm.RFMConfig and gr.summarize is report.summarize
    assert sorted(gr.__all__) == sorted(set(gr.__all__))
    for name in gr.__all__:
        assert getattr(gr, name) is not None, name


def test_the_docstring_example_runs_and_matches_the_module_path():
    task = gr.make_task("x+y", p=7)
    sym = gr.symmetry_group(task)
    base = gr.degenerate_split(sym, [sym.reflection(0)])
    splits, settings = gr.moved_splits(base, moved=[0, 2], seeds=[0, 1])
    result, partitions = gr.run_splits(task, gr.RFMConfig(iterations=3), splits)
    records = gr.run_records(settings, result, partitions)
    rows = gr.summarize(records)
    assert [r["moved"] for r in rows] == [0, 2] and [r["seeds"] for r in rows] == [1, 2]
    # A run through the module path, on its own, gives the same curve.
    for b, setting in list(enumerate(settings))[-1:]:
        split = partition.Split(splits.train[b], splits.test[b])
        spec = rfm.make_spec(task, partition.to_partitions(partition.stack([split])))
        single = rfm.run_batch(task, rfm.RFMConfig(iterations=3), spec)
        np.testing.assert_allclose(
            records[b]["test_acc"], np.asarray(single.metrics.test_acc[0]), atol=0
        )
        assert records[b]["setting"] == {"moved": setting["moved"]}
    table = gr.format_table(rows, [("moved", "m"), ("test_acc_mean", "test")])
    assert table.splitlines()[0].split() == ["m", "test"]


def test_import_starts_no_backend_and_no_matplotlib():
    code = textwrap.dedent(
        """
        import sys
        import grokrfm, grokrfm.cli, grokrfm.experiment, grokrfm.analysis.measure
        from jax._src import xla_bridge
        assert not xla_bridge._backends, xla_bridge._backends
        assert "matplotlib" not in sys.modules
        print("clean")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"
