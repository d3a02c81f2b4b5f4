"""Memory planning: the analytic estimate against XLA's compiled memory analysis, chunked
batches against one call, and a clear refusal when one run cannot fit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokrfm import memory, partition, rfm, symmetry, tasks
from grokrfm.errors import InvalidArgument


def spec_for(task, kind, batch=1):
    if kind == "degenerate":
        sym = symmetry.symmetry_group(task)
        split = partition.degenerate_split(sym, [sym.reflection(0)])
    else:
        n_train = partition.train_count(task.n_points, 0.5)
        split = partition.random_split(jax.random.PRNGKey(0), task.n_points, n_train)
    part = partition.to_partition(split, *partition.capacities(split))
    part = jax.tree.map(lambda x: jnp.stack([x] * batch), part)
    return rfm.make_spec(task, part)


@pytest.mark.parametrize("p,kind", [(13, "degenerate"), (17, "random")])
def test_estimate_bounds_compiled_memory(p, kind):
    task = tasks.make_task("x+y", p=p)
    spec = spec_for(task, kind)
    compiled = rfm.batched_rfm(task, rfm.RFMConfig(iterations=2)).lower(spec).compile()
    analysis = compiled.memory_analysis()
    actual = analysis.temp_size_in_bytes + analysis.output_size_in_bytes
    part = spec.partition
    estimate = memory.run_bytes(task.n, part.train_idx.shape[-1], part.test_idx.shape[-1], 8)
    assert actual <= estimate <= 2.0 * actual, (actual, estimate)


def test_chunk_size():
    assert memory.chunk_size(10, 100, 1000) == 10
    assert memory.chunk_size(10, 100, 250) == 2
    assert memory.chunk_size(3, 100, 1000, n_devices=2) == 4  # padded to the devices
    assert memory.chunk_size(9, 100, 250, n_devices=2) == 4
    with pytest.raises(InvalidArgument) as err:
        memory.chunk_size(1, 2**31, 2**30)
    assert err.value.argument == "memory_budget" and "2.00 GiB" in str(err.value)


def test_one_run_that_cannot_fit_is_refused_before_compiling():
    task = tasks.make_task("x+y", p=7)
    spec = spec_for(task, "degenerate")
    with pytest.raises(InvalidArgument) as err:
        rfm.run_batch(task, rfm.RFMConfig(iterations=1), spec, memory_budget=1000)
    assert err.value.argument == "memory_budget"
    assert "x+y mod 7" in str(err.value)


def test_chunked_batch_equals_one_call(getkey):
    task = tasks.make_task("x+y", p=7)
    keys = jax.random.split(getkey(), 5)
    n_train = partition.train_count(task.n_points, 0.6)
    splits = jax.vmap(lambda k: partition.random_split(k, task.n_points, n_train))(keys)
    spec = rfm.make_spec(task, partition.to_partitions(splits))
    config = rfm.RFMConfig(iterations=3)
    whole = rfm.run_batch(task, config, spec)
    part = spec.partition
    per_run = memory.run_bytes(task.n, part.train_idx.shape[-1], part.test_idx.shape[-1], 8)
    chunked = rfm.run_batch(task, config, spec, memory_budget=2 * per_run)  # 3 calls of 2
    assert chunked.M.shape == whole.M.shape
    np.testing.assert_allclose(chunked.M, whole.M, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(chunked.metrics.test_acc, whole.metrics.test_acc)
