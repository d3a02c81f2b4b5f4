"""Sharding a batch over two host devices gives the results of one device.

On CPU each device loops over its share (``lax.map``) while one device vmaps over the
whole batch, so the two differ by float64 round-off amplified over the iterations (the
same drift as any two summation orders; see tests/test_rfm.py), not by more."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    from grokrfm import runtime
    runtime.configure()
    import jax, numpy as np
    from grokrfm import partition, rfm, sweep, symmetry, tasks, distribute
    assert len(jax.devices()) == 2, jax.devices()
    task = tasks.make_task("x-y", p=11)
    sym = symmetry.symmetry_group(task)
    base = partition.degenerate_split(sym, [sym.reflection(3)])
    splits, _ = partition.moved_splits(base, [1, 5], [0, 1])
    splits = jax.tree.map(lambda x: x[:3], splits)  # an odd batch: padded to 4
    spec = rfm.make_spec(task, partition.to_partitions(splits))
    config = rfm.RFMConfig(iterations=4)
    placed = distribute.place(distribute.pad_batch(spec, 4), jax.devices())
    assert len(placed.M0.sharding.device_set) == 2
    two = rfm.run_batch(task, config, spec)
    one = rfm.run_batch(task, config, spec, devices=jax.devices()[:1])
    assert two.M.shape == one.M.shape == (3, 22, 22)
    err = float(np.abs(np.asarray(two.M) - np.asarray(one.M)).max() / np.abs(one.M).max())
    same_acc = bool((np.asarray(two.metrics.test_acc) == np.asarray(one.metrics.test_acc)).all())
    print("RESULT", err, same_acc)
    """
)


def test_two_host_devices_match_one():
    env = dict(os.environ, JAX_NUM_CPU_DEVICES="2", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")][-1]
    _, err, same = line.split()
    assert float(err) < 1e-7 and same == "True"
