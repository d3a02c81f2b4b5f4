"""Spreading a batch of runs over devices with ``jax.sharding``, in one process or many.

The batch axis of every input is split over a 1-D mesh named ``"batch"`` and the run is
wrapped in ``jax.shard_map``, so each device runs its own share of the (independent)
runs with no communication. A batch that does not divide evenly is padded by repeating
its last entry, and the padding is dropped from the outputs.

On accelerators each device vmaps over its share. On several *CPU* devices of one
process each device loops over its share with ``lax.map`` instead: jaxlib 0.10's batched
LAPACK kernels (``ParallelBatchMap``) deadlock when two host devices call them at once
on a small machine (seen with 2 devices on 2 cores), and a host device gains nothing
from batching the factorisations anyway.

Several processes (hosts of a cluster, a TPU pod, or processes on one machine) join
JAX's multi-controller runtime with :func:`initialize`; ``jax.devices()`` is then every
process's devices, the mesh spans them all, each process builds its own shards of the
inputs (:func:`place`) and every process receives the whole output back
(:func:`gather`), so everything after a batched call runs identically everywhere.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from grokrfm.errors import InvalidArgument

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
    """Put ``tree`` on ``devices``, its leading axis split over them.

    Every process passes the same host values; each one builds only the shards that
    live on its own devices, so the mesh may span several processes.
    """
    sharding = NamedSharding(mesh_for(devices), PartitionSpec("batch"))
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(put, tree)


def gather(tree):
    """Every process's copy of a batched output whose shards live on several processes
    (a no-op in one process)."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def sharded(single: Callable, devices: Sequence[jax.Device]) -> Callable:
    """``jit`` of ``single`` mapped over a leading batch axis sharded over ``devices``."""
    local_cpus = [d for d in devices if d.platform == "cpu" and d in jax.local_devices()]
    if len(local_cpus) > 1:
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


# --- several processes: JAX's multi-controller runtime ---------------------------------


def launched_as_cluster(environ=None) -> bool:
    """Whether this process was started as one of several by a launcher whose
    environment ``jax.distributed.initialize()`` reads by itself: a SLURM job step with
    more than one task, a multi-host Cloud TPU slice, or ``JAX_COORDINATOR_ADDRESS``."""
    env = os.environ if environ is None else environ
    slurm = all(k in env for k in ("SLURM_JOB_ID", "SLURM_PROCID", "SLURM_STEP_NODELIST"))
    if slurm and int(env.get("SLURM_STEP_NUM_TASKS", env.get("SLURM_NTASKS", "1"))) > 1:
        return True
    for key in ("TPU_PROCESS_ADDRESSES", "TPU_WORKER_HOSTNAMES"):
        if "," in env.get(key, ""):
            return True
    return bool(env.get("JAX_COORDINATOR_ADDRESS"))


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    environ=None,
) -> int:
    """Join JAX's multi-controller runtime, before the first JAX computation.

    With all three arguments (the command line's ``--coordinator``,
    ``--num-processes``, ``--process-id``) this process joins that group; with none, it
    joins the group its launcher describes when :func:`launched_as_cluster` (so a SLURM
    or TPU-pod job needs no flags), and otherwise stays a single process. Host devices
    exchange data through gloo.

    Returns:
      The number of processes.

    Raises:
      InvalidArgument: naming ``coordinator``, ``num_processes`` or ``process_id`` when
        only some are given or one is out of range, before anything starts.
    """
    given = {"coordinator": coordinator, "num_processes": num_processes, "process_id": process_id}
    named = [k for k, v in given.items() if v is not None]
    if named and len(named) < 3:
        missing = next(k for k in given if k not in named)
        raise InvalidArgument(
            missing, "give --coordinator, --num-processes and --process-id together"
        )
    if named:
        host, _, port = str(coordinator).rpartition(":")
        if not host or not port.isdigit():
            raise InvalidArgument("coordinator", f"must be HOST:PORT, got {coordinator!r}")
        if int(num_processes) < 1:
            raise InvalidArgument("num_processes", f"must be >= 1, got {num_processes}")
        if not 0 <= int(process_id) < int(num_processes):
            raise InvalidArgument(
                "process_id", f"must lie in 0..{int(num_processes) - 1}, got {process_id}"
            )
        if int(num_processes) == 1:
            return 1
    elif not launched_as_cluster(environ):
        return 1
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if named:
        jax.distributed.initialize(str(coordinator), int(num_processes), int(process_id))
    else:
        jax.distributed.initialize()
    return jax.process_count()


def is_lead_process() -> bool:
    """Whether this process writes the files every process would write alike
    (``results.json``, figures): process 0, or the only one."""
    return jax.process_index() == 0


def check_same_everywhere(what: str, argument: str, *parts) -> None:
    """Refuse to go on when the processes do not agree on ``parts`` (a sweep's settings,
    a batch's inputs): every process checks, so every process stops with the same error.

    Raises:
      InvalidArgument: naming ``argument``, with which processes differ from process 0.
    """
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    digest = hashlib.sha256()
    for part in parts:
        for leaf in jax.tree.leaves(part):
            digest.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    mine = np.frombuffer(digest.digest()[:8], np.uint8).astype(np.int32)
    every = np.asarray(multihost_utils.process_allgather(mine))
    differ = [i for i in range(every.shape[0]) if not np.array_equal(every[i], every[0])]
    if differ:
        raise InvalidArgument(
            argument,
            f"processes {differ} have another {what} than process 0; run the same "
            "command (same flags and seeds) in every process",
        )


def every_process(flag: bool) -> bool:
    """Whether ``flag`` holds in every process (in one process: ``flag``)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    return bool(np.asarray(multihost_utils.process_allgather(np.int32(bool(flag)))).all())


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier ``name`` (in one process: return)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)
