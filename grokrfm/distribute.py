"""Spreading a batch of runs over devices with ``jax.sharding`` (SPMD, no processes).

The batch axis of every input is split over a 1-D mesh named ``"batch"`` and the run is
wrapped in ``jax.shard_map``, so each device runs its own share of the (independent)
runs with no communication. A batch that does not divide evenly is padded by repeating
its last entry, and the padding is dropped from the outputs.

On accelerators each device vmaps over its share. On several *CPU* devices each device
loops over its share with ``lax.map`` instead: jaxlib 0.10's batched LAPACK kernels
(``ParallelBatchMap``) deadlock when two host devices call them at once on a small
machine (seen with 2 devices on 2 cores), and a host device gains nothing from
batching the factorisations anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

# The one cache policy for compiled batch functions (RFM and network runs): one entry per
# (task, config, ...) key, the least recently used of 32 dropped first. A Task hashes by
# identity and the cache holds it, so a key never outlives its task.
compile_cache = functools.lru_cache(maxsize=32)


def batch_size(tree) -> int:
    return int(jax.tree.leaves(tree)[0].shape[0])


def pad_batch(tree, size: int):
    """Pad the leading axis of every leaf to ``size`` by repeating the last entry."""
    current = batch_size(tree)
    if current == size:
        return tree
    idx = jnp.minimum(jnp.arange(size), current - 1)
    return jax.tree.map(lambda x: x[idx], tree)


def mesh_for(devices: Sequence[jax.Device]) -> Mesh:
    return Mesh(np.asarray(devices), ("batch",))


def place(tree, devices: Sequence[jax.Device]):
    """Put ``tree`` on ``devices``, its leading axis split over them."""
    return jax.device_put(tree, NamedSharding(mesh_for(devices), PartitionSpec("batch")))


def sharded(single: Callable, devices: Sequence[jax.Device]) -> Callable:
    """``jit`` of ``single`` mapped over a leading batch axis sharded over ``devices``."""
    if devices[0].platform == "cpu":
        local = lambda batch: jax.lax.map(single, batch)  # noqa: E731 -- see module doc
    else:
        local = jax.vmap(single)
    spec = PartitionSpec("batch")
    # check_vma=False: the scan's initial carry (zeros) is replicated, its updates are
    # per-device; every run is independent, so nothing needs the check.
    mapped = jax.shard_map(
        local, mesh=mesh_for(devices), in_specs=spec, out_specs=spec, check_vma=False
    )
    return jax.jit(mapped)
