"""Batches of runs: build many partitions of one task, run them in one call, tabulate.

Experiment modules stay thin: they describe settings and seeds, and everything between
"a batch of splits" and "a list of JSON-ready run records" lives here.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import distribute, memory, results, rfm
from grokrfm import partition as partition_
from grokrfm.errors import InvalidArgument
from grokrfm.tasks import Task


def moved_splits(
    base: partition_.Split,
    moved: Sequence[int],
    seeds: Sequence[int],
    direction: str = "train_to_test",
    orbit_labels=None,
) -> tuple[partition_.Split, list[dict]]:
    """Every (moved count, seed) perturbation of ``base``, as one batched :class:`Split`.

    Seed s uses ``PRNGKey(s)`` for every count, so the points moved for a smaller count
    are a subset of those moved for a larger one (nested perturbations). A count of 0
    is deterministic and runs once, with the first seed.

    Args:
      base: an unbatched split.
      moved: counts m of points to move (validated against the source set's size).
      seeds: integer seeds.
      direction: ``"train_to_test"``, ``"test_to_train"`` (e.g. fixed points into
        training) or ``"orbits_to_test"`` (whole orbits, e.g. reflected pairs; needs
        ``orbit_labels``, and m counts orbits).
      orbit_labels: ``(n_points,)`` orbit labels for ``"orbits_to_test"``.

    Returns:
      ``(splits, settings)``: a Split with a leading batch axis (count-major), and one
      ``{"moved": m, "seed": s}`` dict per entry.
    """
    point_moves = {
        "train_to_test": (partition_.move_train_to_test, "train"),
        "test_to_train": (partition_.move_test_to_train, "test"),
    }
    if direction in point_moves:
        move, source = point_moves[direction]
        partition_.check_move_count(base, moved, source)
    elif direction == "orbits_to_test":
        if orbit_labels is None:
            raise InvalidArgument("orbit_labels", "moving orbits needs the orbit labels")
        partition_.check_move_count(base, moved, "train", orbit_labels=orbit_labels)
        labels = jnp.asarray(orbit_labels, jnp.int32)

        def move(key, split, m):
            return partition_.move_orbits_to_test(key, split, labels, m)
    else:
        choices = [*point_moves, "orbits_to_test"]
        raise InvalidArgument("direction", f"unknown {direction!r}; choose from {choices}")
    # Moving nothing is deterministic, so m = 0 runs once (with the first seed).
    settings = [
        {"moved": int(m), "seed": int(s)} for m in moved for s in (seeds if m else seeds[:1])
    ]
    keys = jnp.stack([jax.random.PRNGKey(d["seed"]) for d in settings])
    counts = jnp.asarray([d["moved"] for d in settings], jnp.int32)
    splits = jax.vmap(move, (0, None, 0))(keys, base, counts)
    return splits, settings


def run_splits(
    task: Task,
    config: rfm.RFMConfig,
    splits: partition_.Split,
    bandwidth: float = 2.5,
    ridge: float = 0.0,
    power: float = 0.5,
    M0=None,
    devices=None,
    memory_budget: int | None = None,
) -> tuple[rfm.RFMResult, partition_.Partition]:
    """Pad a batch of splits to one shape and run them all with :func:`rfm.run_batch`
    (one vmapped call, or equal chunks within ``memory_budget`` bytes per device)."""
    partitions = partition_.to_partitions(splits)
    spec = rfm.make_spec(task, partitions, bandwidth, ridge, power, M0)
    result = rfm.run_batch(task, config, spec, devices=devices, memory_budget=memory_budget)
    return result, partitions


def metric_records(
    settings: Sequence[dict], metrics, partitions: partition_.Partition, fields: Sequence[str]
) -> list[dict]:
    """One JSON-ready record per run: its setting, seed, sizes and the per-step curves
    ``metrics.<field>[b]`` for each of ``fields`` (any batched NamedTuple of curves)."""
    m = jax.tree.map(np.asarray, metrics)
    n_train = np.asarray(partitions.train_valid).sum(axis=-1)
    n_test = np.asarray(partitions.test_valid).sum(axis=-1)
    records = []
    for b, setting in enumerate(settings):
        setting = dict(setting)
        seed = setting.pop("seed", None)
        record = {"setting": setting, "seed": seed}
        record.update(n_train=int(n_train[b]), n_test=int(n_test[b]))
        record.update({name: getattr(m, name)[b].tolist() for name in fields})
        records.append(record)
    return records


def run_records(
    settings: Sequence[dict], result: rfm.RFMResult, partitions: partition_.Partition
) -> list[dict]:
    """One JSON-ready record per run: its setting, sizes and per-iteration curves."""
    fields = ("train_acc", "test_acc", "train_mse", "test_mse", "solve_ok", "jitter")
    return metric_records(settings, result.metrics, partitions, fields)


CHUNK_FORMAT = 1  # bump when a chunk file's contents change meaning


def _fingerprint(task: Task, config: rfm.RFMConfig, spec: rfm.RunSpec, settings) -> str:
    """A digest of everything that determines a chunk's records."""
    digest = hashlib.sha256()
    header = {
        "format": CHUNK_FORMAT,
        "task": task.name,
        "config": config._asdict(),
        "settings": list(settings),
        "dtype": str(spec.M0.dtype),
    }
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for leaf in jax.tree.leaves(spec):
        digest.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return digest.hexdigest()[:16]


def run_chunked(
    task: Task,
    config: rfm.RFMConfig,
    splits: partition_.Split,
    settings: Sequence[dict],
    out_dir: str | Path,
    *,
    chunk_runs: int | None = None,
    bandwidth=2.5,
    ridge=0.0,
    power=0.5,
    M0=None,
    devices=None,
    memory_budget: int | None = None,
    annotate: Callable[[list[dict], partition_.Split, rfm.RFMResult], None] | None = None,
    log: Callable[[str], None] | None = print,
) -> list[dict]:
    """Run a batch of splits in chunks, saving each finished chunk; resume on rerun.

    The batch is cut into chunks of ``chunk_runs`` runs (default: as many as fit the
    memory budget in one call). Each chunk is padded to the same size, so there is one
    compilation, and as soon as it finishes its records are written atomically to
    ``out_dir/chunks/<fingerprint>.json``. The fingerprint covers the task, the config,
    the chunk's settings and every array of its run specs, so a rerun of the same
    command loads the chunks already done instead of recomputing them, and a changed
    setting never reuses a stale file. Interrupting a sweep loses at most the chunk
    in flight.

    Args:
      task, config: as for :func:`rfm.run_batch`.
      splits: a batched :class:`~grokrfm.partition.Split`, one entry per setting.
      settings: one JSON-ready dict per entry (``"seed"`` is split out into the record).
      out_dir: folder for the chunk files.
      chunk_runs: runs per chunk.
      bandwidth, ridge, power: scalars, or sequences with one value per setting.
      M0: optional initial feature matrix, ``(2n, 2n)`` or one per setting.
      devices, memory_budget: as for :func:`rfm.run_batch`.
      annotate: optional ``annotate(records, chunk_splits, result)`` called on a freshly
        computed chunk before it is saved, to add per-run fields (e.g. the stabiliser).
      log: where progress lines go (None: silent).

    Returns:
      One record per setting, in order (see :func:`run_records`).
    """
    total = distribute.batch_size(splits)
    if len(settings) != total:
        raise InvalidArgument(
            "settings", f"got {len(settings)} settings for a batch of {total} splits"
        )
    partitions = partition_.to_partitions(splits)
    spec = rfm.make_spec(task, partitions, bandwidth, ridge, power, M0)
    devices = list(devices) if devices is not None else jax.devices()
    if chunk_runs is None:
        per_run = memory.run_bytes(
            task.n,
            partitions.train_idx.shape[-1],
            partitions.test_idx.shape[-1],
            spec.M0.dtype.itemsize,
        )
        budget = (
            memory_budget if memory_budget is not None else memory.default_budget_bytes(devices[0])
        )
        chunk_runs = memory.chunk_size(total, per_run, budget, len(devices), task.name)
    if int(chunk_runs) < 1:
        raise InvalidArgument("chunk_runs", f"must be >= 1, got {chunk_runs}")
    size = min(int(chunk_runs), total)
    folder = Path(out_dir) / "chunks"
    records: list[dict] = []
    n_chunks = -(-total // size)
    for index, begin in enumerate(range(0, total, size)):
        end = min(begin + size, total)
        take = lambda x, begin=begin, end=end: x[begin:end]  # noqa: E731
        chunk_spec = jax.tree.map(take, spec)
        chunk_settings = list(settings[begin:end])
        path = folder / f"{_fingerprint(task, config, chunk_spec, chunk_settings)}.json"
        if path.exists():
            records.extend(json.loads(path.read_text())["records"])
            if log:
                log(f"chunk {index + 1}/{n_chunks}: runs {begin}-{end - 1} loaded from {path}")
            continue
        start = time.perf_counter()
        out = rfm.run_batch(
            task,
            config,
            distribute.pad_batch(chunk_spec, size),
            devices=devices,
            memory_budget=memory_budget,
        )
        out = jax.tree.map(lambda x, k=end - begin: x[:k], out)
        chunk_records = run_records(chunk_settings, out, chunk_spec.partition)
        if annotate is not None:
            annotate(chunk_records, jax.tree.map(take, splits), out)
        results.write_json(path, {"records": chunk_records})
        records.extend(chunk_records)
        if log:
            wall = time.perf_counter() - start
            log(f"chunk {index + 1}/{n_chunks}: runs {begin}-{end - 1} done in {wall:.1f} s")
    return records


def first_iteration_at(curve: Sequence[float], threshold: float) -> int | None:
    """The first iteration whose value reaches ``threshold`` (None if it never does)."""
    hits = np.nonzero(np.asarray(curve) >= threshold)[0]
    return int(hits[0]) if hits.size else None


def summarize(records: Sequence[dict], threshold: float = 0.9) -> list[dict]:
    """Aggregate records that share a setting over their seeds (final-iteration values)."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(repr(sorted(r["setting"].items())), []).append(r)
    rows = []
    for runs in groups.values():
        test = np.array([r["test_acc"][-1] for r in runs])
        train = np.array([r["train_acc"][-1] for r in runs])
        jumps = [first_iteration_at(r["test_acc"], threshold) for r in runs]
        reached = [j for j in jumps if j is not None]
        rows.append(
            {
                **runs[0]["setting"],
                "seeds": len(runs),
                "n_train": int(np.mean([r["n_train"] for r in runs])),
                "n_test": int(np.mean([r["n_test"] for r in runs])),
                "train_acc_mean": float(train.mean()),
                "test_acc_mean": float(test.mean()),
                "test_acc_std": float(test.std()),
                "test_acc_min": float(test.min()),
                "test_acc_max": float(test.max()),
                "reached": len(reached),
                "median_iteration_reached": float(np.median(reached)) if reached else None,
                "solve_failures": int(sum(not all(r["solve_ok"]) for r in runs)),
                "stabilizer_order_max": max((r.get("stabilizer_order") or 0) for r in runs) or None,
            }
        )
    return rows


def format_table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """A plain-text table; ``columns`` is ``(key, header)`` pairs."""

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.1e}" if 0 < abs(v) < 1e-3 else f"{v:.3f}"
        return str(v)

    body = [[cell(r.get(k)) for k, _ in columns] for r in rows]
    headers = [h for _, h in columns]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, body)])
