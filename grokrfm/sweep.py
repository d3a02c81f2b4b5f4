"""Batches of runs: a batch of splits in, JSON-ready run records out, in saved chunks.

Everything between "a batch of splits" and "a list of run records" lives here: padding
a batch to one shape and running it (:func:`run_splits`), turning results into records
(:func:`run_records`, :func:`network_records`), running a large batch in chunks that are
saved as they finish and reused on a rerun (:func:`run_chunked`), and the sweep every
symmetry-breaking experiment runs, a degenerate partition perturbed over counts and
seeds (:func:`perturbation_sweep`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import distribute, network, results, rfm, symmetry
from grokrfm import partition as partition_
from grokrfm import tasks as tasks_
from grokrfm.analysis.curves import first_iteration_at
from grokrfm.errors import InvalidArgument
from grokrfm.tasks import Task


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
    progress: bool | None = None,
) -> tuple[rfm.RFMResult, partition_.Partition]:
    """Pad a batch of splits to one shape and run them all with :func:`rfm.run_batch`
    (one vmapped call, or equal chunks within ``memory_budget`` bytes per device;
    ``progress``: a bar of iterations, by default when standard error is a terminal)."""
    partitions = partition_.to_partitions(splits)
    spec = rfm.make_spec(task, partitions, bandwidth, ridge, power, M0)
    result = rfm.run_batch(
        task, config, spec, devices=devices, memory_budget=memory_budget, progress=progress
    )
    return result, partitions


def stabilizer_averages(sym: symmetry.SymmetryGroup, splits: partition_.Split):
    """The exact-symmetry control of a batch of splits: for each split, the average over
    its partition's stabiliser H (the elements of ``sym`` that map the train set and
    the test set onto themselves), as one batched :class:`~grokrfm.rfm.SymmetryAverage`
    padded to the largest |H| with identity rows of weight 0.

    In exact arithmetic RFM's M is H-invariant at every iteration when M0 is (the AGOP
    of an H-invariant training set is), so averaging changes nothing but round-off; a
    run with it shows what RFM does with the symmetry kept exactly (arXiv 2604.00316,
    §3: a symmetric partition keeps M symmetric, Finding 3.1).

    Returns:
      ``(average, orders)``: the :class:`~grokrfm.rfm.SymmetryAverage` (numpy arrays,
      ``(B, G, 2n)`` and ``(B, G)``) and the ``(B,)`` stabiliser orders.
    """
    keep = symmetry.stabilizing_elements(sym, splits.train, splits.test)  # (B, |G|)
    keep = np.atleast_2d(keep)
    orders = keep.sum(axis=-1)
    G = int(orders.max())
    d = sym.coordinate_perms.shape[1]
    perms = np.broadcast_to(np.arange(d), (keep.shape[0], G, d)).copy()
    weights = np.zeros((keep.shape[0], G))
    for b, row in enumerate(keep):
        elements = np.flatnonzero(row)
        perms[b, : elements.size] = sym.coordinate_perms[elements]
        weights[b, : elements.size] = 1.0 / elements.size
    return rfm.SymmetryAverage(perms, weights), orders


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
    fields = ("train_acc", "test_acc", "train_mse", "test_mse", "solve_ok", "jitter", "residual")
    return metric_records(settings, result.metrics, partitions, fields)


# Bump when a chunk file's layout or the meaning of its records changes.
CHUNK_SCHEMA = 2


@functools.cache
def library_fingerprint() -> str:
    """A digest of the package's Python sources (paths and contents).

    Any change to the code, in a clone or in an installed wheel, changes it, so a chunk
    computed by other code is never reused.
    """
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _fingerprint(task: Task, config: rfm.RFMConfig, spec: rfm.RunSpec, settings) -> str:
    """A digest of everything that determines a chunk's records: the library's code,
    the task, the config, the settings and every array of the run specs."""
    digest = hashlib.sha256()
    header = {
        "schema": CHUNK_SCHEMA,
        "library": library_fingerprint(),
        "task": task.name,
        "config": config._asdict(),
        "settings": list(settings),
        "dtype": str(spec.M0.dtype),
    }
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for leaf in jax.tree.leaves(spec):
        digest.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return digest.hexdigest()[:16]


def _records_digest(records: Sequence[dict]) -> str:
    return hashlib.sha256(results.dumps(list(records), indent=None).encode()).hexdigest()


def write_chunk(path: Path, fingerprint: str, records: Sequence[dict], process: int = 0) -> None:
    """Save a finished chunk atomically with what :func:`read_chunk` checks (and which
    of several cooperating processes wrote it)."""
    records = json.loads(results.dumps(list(records)))  # the digest is of what is read back
    results.write_json(
        path,
        {
            "schema": CHUNK_SCHEMA,
            "library": library_fingerprint(),
            "fingerprint": fingerprint,
            "runs": len(records),
            "process": int(process),
            "sha256": _records_digest(records),
            "records": list(records),
        },
    )


def read_chunk(path: Path, fingerprint: str, settings: Sequence[dict]) -> tuple[list | None, str]:
    """The records of a saved chunk if it passes every check, else ``(None, reason)``.

    A chunk is trusted only if it parses, has this schema, carries the fingerprint its
    name promises, holds one record per expected setting (each with that setting and
    seed) and its records hash to the digest saved with them.
    """
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"unreadable ({type(err).__name__})"
    if not isinstance(payload, dict) or payload.get("schema") != CHUNK_SCHEMA:
        return None, "written by another version of grokrfm"
    if payload.get("fingerprint") != fingerprint:
        return None, "its fingerprint is another chunk's"
    records = payload.get("records")
    if payload.get("runs") != len(settings):
        return None, f"it holds {payload.get('runs')} runs, expected {len(settings)}"
    if not isinstance(records, list) or len(records) != len(settings):
        return None, f"it holds {len(records)} records, expected {len(settings)}"
    for record, setting in zip(records, settings, strict=True):
        expected = {k: v for k, v in setting.items() if k != "seed"}
        if record.get("setting") != expected or record.get("seed") != setting.get("seed"):
            return None, "its records belong to other settings"
    if payload.get("sha256") != _records_digest(records):
        return None, "its contents do not match their digest"
    return records, ""


def prune_stale_chunks(folder: Path) -> int:
    """Delete the chunk files in ``folder`` that were written, intact, by another version
    of grokrfm (another schema or other library code): no run can reuse them. Returns how
    many. Chunks of other settings computed by this code are kept, so switching back to
    those settings still resumes; a damaged file is left to :func:`read_chunk`, which
    says why it is not used."""
    removed = 0
    for path in folder.glob("*.json"):
        try:
            payload = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(payload, dict) or "schema" not in payload:
            continue
        if payload["schema"] != CHUNK_SCHEMA or payload.get("library") != library_fingerprint():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


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
    average: rfm.SymmetryAverage | None = None,
    devices=None,
    memory_budget: int | None = None,
    annotate: Callable[[list[dict], partition_.Split, rfm.RFMResult], None] | None = None,
    log: Callable[[str], None] | None = print,
    warn: Callable[[str], None] = _warn,
    keep_arrays: bool = False,
    progress: bool | None = None,
) -> list[dict]:
    """Run a batch of splits in chunks, saving each finished chunk; resume on rerun.

    The batch is cut into chunks of ``chunk_runs`` runs (default: as many as fit the
    memory budget in one call). Each chunk is padded to the same size, so there is one
    compilation, and as soon as it finishes its records are written atomically to
    ``out_dir/chunks/<fingerprint>.json``. The fingerprint covers the library's code,
    the task, the config, the chunk's settings and every array of its run specs, so a
    rerun of the same command loads the chunks already done instead of recomputing
    them, and a changed setting or changed code never reuses a stale file. A saved
    chunk is reused only if it passes :func:`read_chunk`'s checks; one that fails is
    recomputed with a one-line warning. Interrupting a sweep loses at most the chunk
    in flight.

    Args:
      task, config: as for :func:`rfm.run_batch`.
      splits: a batched :class:`~grokrfm.partition.Split`, one entry per setting.
      settings: one JSON-ready dict per entry (``"seed"`` is split out into the record).
      out_dir: folder for the chunk files.
      chunk_runs: runs per chunk.
      bandwidth, ridge, power: scalars, or sequences with one value per setting.
      M0: optional initial feature matrix, ``(2n, 2n)`` or one per setting.
      average: optional exact-symmetry control, one per setting (see
        :func:`stabilizer_averages`); its arrays enter the chunks' fingerprints.
      devices, memory_budget: as for :func:`rfm.run_batch`.
      annotate: optional ``annotate(records, chunk_splits, result)`` called on a freshly
        computed chunk before it is saved, to add per-run fields (e.g. the stabiliser).
      log: where progress lines go (None: silent).
      warn: where a warning about an unusable chunk goes (default: standard error).
      keep_arrays: also keep every run's arrays (M, alpha, the M history when the
        config records one): each chunk saves them beside its records
        (``chunks/<fingerprint>.npz``, :func:`save_runs`), a saved chunk is reused only
        if they load and verify too, and at the end they are gathered, in the order of
        ``settings``, into ``out_dir/runs.npz`` (read it with :func:`load_runs`).
      progress: a bar of iterations per chunk (default: when standard error is a
        terminal; see :mod:`grokrfm.progress`).

    Returns:
      One record per setting, in order (see :func:`run_records`).
    """
    total = distribute.batch_size(splits)
    if len(settings) != total:
        raise InvalidArgument(
            "settings", f"got {len(settings)} settings for a batch of {total} splits"
        )
    partitions = partition_.to_partitions(splits)
    spec = rfm.make_spec(task, partitions, bandwidth, ridge, power, M0, average=average)
    devices = list(devices) if devices is not None else jax.devices()
    if chunk_runs is None:
        chunk_runs = rfm.runs_per_call(task, spec, devices, memory_budget)
    if int(chunk_runs) < 1:
        raise InvalidArgument("chunk_runs", f"must be >= 1, got {chunk_runs}")
    size = min(int(chunk_runs), total)
    # Several processes run one sweep together: they must agree on all of it.
    distribute.check_same_everywhere(
        "sweep", "settings", results.dumps(list(settings)), repr(config), task.name, spec, size
    )
    processes, me = jax.process_count(), jax.process_index()
    folder = Path(out_dir) / "chunks"
    stale = prune_stale_chunks(folder) if folder.is_dir() else 0
    if stale and log:
        log(f"removed {stale} chunk files of another version of grokrfm from {folder}")
    records: list[dict] = []
    kept: list[tuple] = []  # per chunk: (result, partitions, bandwidth, ridge, power)
    n_chunks = -(-total // size)
    for index, begin in enumerate(range(0, total, size)):
        end = min(begin + size, total)
        take = lambda x, begin=begin, end=end: x[begin:end]  # noqa: E731
        chunk_spec = jax.tree.map(take, spec)
        chunk_settings = list(settings[begin:end])
        fingerprint = _fingerprint(task, config, chunk_spec, chunk_settings)
        path = folder / f"{fingerprint}.json"
        arrays_path = path.with_suffix(".npz")
        saved, reason, loaded = None, "", None
        if path.exists():
            saved, reason = read_chunk(path, fingerprint, chunk_settings)
            if saved is not None and keep_arrays:
                try:
                    loaded = load_runs(arrays_path)
                except InvalidArgument as err:
                    saved, reason = None, f"its arrays are not usable: {err.message}"
        # A chunk is loaded only if every process can load it (all compute it otherwise).
        if distribute.every_process(saved is not None):
            records.extend(saved)
            if keep_arrays:
                kept.append(
                    (loaded.result, loaded.partitions, loaded.bandwidth, loaded.ridge, loaded.power)
                )
            if log:
                log(f"chunk {index + 1}/{n_chunks}: runs {begin}-{end - 1} loaded from {path}")
            continue
        if path.exists():
            reason = reason or "another process cannot read it"
            warn(f"warning: chunk {path} is not used ({reason}); recomputing it")
        start = time.perf_counter()
        out = rfm.run_batch(
            task,
            config,
            distribute.pad_batch(chunk_spec, size),
            devices=devices,
            memory_budget=memory_budget,
            progress=progress,
            label=f"chunk {index + 1}/{n_chunks}",
        )
        out = jax.tree.map(lambda x, k=end - begin: x[:k], out)
        chunk_records = run_records(chunk_settings, out, chunk_spec.partition)
        if annotate is not None:
            annotate(chunk_records, jax.tree.map(take, splits), out)
        scalars = {k: getattr(chunk_spec, k) for k in ("bandwidth", "ridge", "power")}
        # Every process holds the whole chunk; its owner (chunks go round the
        # processes) writes it, the arrays first: a chunk's records promise its arrays.
        if index % processes == me:
            if keep_arrays:
                save_runs(
                    arrays_path, task, config, out, chunk_spec.partition, chunk_settings, **scalars
                )
            write_chunk(path, fingerprint, chunk_records, process=me)
        if keep_arrays:
            kept.append((out, chunk_spec.partition, *scalars.values()))
        records.extend(chunk_records)
        if log:
            wall = time.perf_counter() - start
            log(f"chunk {index + 1}/{n_chunks}: runs {begin}-{end - 1} done in {wall:.1f} s")
    # The sweep is assembled once every chunk file exists: after every process's writes.
    distribute.barrier(f"sweep {out_dir}")
    if keep_arrays:
        gathered = jax.tree.map(lambda *xs: np.concatenate(xs), *kept)
        result, partitions, bandwidth, ridge, power = gathered
        target = Path(out_dir) / "runs.npz"
        if me == 0:
            scalars = {"bandwidth": bandwidth, "ridge": ridge, "power": power}
            save_runs(target, task, config, result, partitions, settings, **scalars)
            if log:
                log(f"wrote every run's arrays to {target}")
    return records


# --- fitted runs kept on disk ---------------------------------------------------------

# Bump when the layout of a saved-runs file changes.
RUNS_SCHEMA = 1


class SavedRuns(NamedTuple):
    """A batch of fitted runs as :func:`save_runs` wrote them (every array batched).

    Attributes:
      task: the task, rebuilt from its saved Cayley table.
      config: the :class:`~grokrfm.rfm.RFMConfig` the runs used.
      result: the batched :class:`~grokrfm.rfm.RFMResult`: curves, M, alpha, alpha_M and
        (when recorded) M_history.
      partitions: the batched :class:`~grokrfm.partition.Partition` they ran on.
      bandwidth, ridge, power: ``(B,)`` per-run scalars.
      settings: one dict per run (e.g. ``{"moved": 1, "seed": 0}``), or None.
      header: what the file records about itself: environment, commit, date, digests.
    """

    task: Task
    config: rfm.RFMConfig
    result: rfm.RFMResult
    partitions: partition_.Partition
    bandwidth: np.ndarray
    ridge: np.ndarray
    power: np.ndarray
    settings: list[dict] | None
    header: dict

    def predict(self, pairs=None) -> jax.Array:
        """Every run's predictor at ``pairs`` (default the whole grid): see
        :func:`grokrfm.rfm.predict`."""
        return rfm.predict(
            self.task,
            self.result,
            self.partitions,
            pairs,
            kernel=self.config,
            bandwidth=self.bandwidth,
        )


def save_runs(
    path: str | Path,
    task: Task,
    config: rfm.RFMConfig,
    result: rfm.RFMResult,
    partitions: partition_.Partition,
    settings: Sequence[dict] | None = None,
    *,
    bandwidth=2.5,
    ridge=0.0,
    power=0.5,
) -> Path:
    """Save a batch of fitted runs (what :func:`run_splits` returns) to one ``.npz``.

    Everything needed to reload, inspect and predict is kept: the task's Cayley table,
    the config, the curves, the final M, ``alpha`` and the M it was solved with, the
    M history when the config recorded one (``save_every``), the partitions, the
    per-run scalars and settings. The file is written atomically with a digest of every
    array, which :func:`load_runs` checks.

    Raises:
      InvalidArgument: naming ``result`` when it is not batched like ``partitions``,
        or ``settings`` when there is not one per run.
    """
    batch = partitions.train_idx.shape[0] if partitions.train_idx.ndim == 2 else None
    if batch is None or result.alpha.ndim != 3 or result.alpha.shape[0] != batch:
        raise InvalidArgument("result", "save a batch: result and partitions with one run per row")
    if settings is not None and len(settings) != batch:
        raise InvalidArgument("settings", f"got {len(settings)} settings for {batch} runs")
    group = task.group
    arrays = {
        "group_table": group.table,
        **{f"metrics.{k}": v for k, v in result.metrics._asdict().items()},
        "M": result.M,
        "alpha": result.alpha,
        "alpha_M": result.alpha_M,
        "M_history": result.M_history,
        **{f"partition.{k}": v for k, v in partitions._asdict().items()},
        "bandwidth": np.broadcast_to(np.asarray(bandwidth, float), (batch,)),
        "ridge": np.broadcast_to(np.asarray(ridge, float), (batch,)),
        "power": np.broadcast_to(np.asarray(power, float), (batch,)),
    }
    meta = {
        "schema": RUNS_SCHEMA,
        "task": {
            "op": task.op,
            "divide": task.divide,
            "name": task.name,
            "group": group.name,
            "element_names": list(group.element_names),
        },
        "config": config._asdict(),
        "settings": None if settings is None else [dict(s) for s in settings],
    }
    return results.write_arrays(path, jax.tree.map(np.asarray, arrays), meta)


def load_runs(path: str | Path) -> SavedRuns:
    """Read and verify a file written by :func:`save_runs`.

    Raises:
      InvalidArgument: naming ``path`` when the file is unreadable, damaged (an array
        does not match its digest) or not a saved-runs file of this version.
    """
    arrays, header = results.read_arrays(path)
    meta = header.get("meta", {})
    if meta.get("schema") != RUNS_SCHEMA:
        raise InvalidArgument("path", f"{path} is not a grokrfm saved-runs file (schema 1)")
    t = meta["task"]
    group = tasks_.group_from_table(arrays["group_table"], t["group"], t["element_names"])
    task = Task(t["op"], group, bool(t["divide"]), t["name"])

    def fields(prefix, cls):
        return cls(**{k: jnp.asarray(arrays[f"{prefix}.{k}"]) for k in cls._fields})

    history = arrays.get("M_history")
    result = rfm.RFMResult(
        fields("metrics", rfm.Metrics),
        jnp.asarray(arrays["M"]),
        jnp.asarray(arrays["alpha"]),
        jnp.asarray(arrays["alpha_M"]),
        None if history is None else jnp.asarray(history),
    )
    return SavedRuns(
        task,
        rfm.RFMConfig(**meta["config"]).validate(),
        result,
        fields("partition", partition_.Partition),
        arrays["bandwidth"],
        arrays["ridge"],
        arrays["power"],
        meta.get("settings"),
        header,
    )


# --- networks ------------------------------------------------------------------------


def network_records(
    settings: Sequence[dict], result: network.NetworkResult, partitions: partition_.Partition
) -> list[dict]:
    """One JSON-ready record per run: setting, sizes, per-epoch curves, the epoch at
    which test accuracy first reaches 90%, and the NFA correlations over the
    measurements (matrices are not recorded)."""
    fields = ("train_acc", "test_acc", "train_mse", "test_mse")
    records = metric_records(settings, result.metrics, partitions, fields)
    f = jax.tree.map(np.asarray, result.features)
    for b, record in enumerate(records):
        record["grokking_epoch"] = first_iteration_at(record["test_acc"], 0.9, start=1)
        record["feature_epochs"] = f.epoch[b].tolist()
        for name in network.NFACorrelations._fields:
            record[name] = getattr(f, name)[b].tolist()
    return records


# --- perturbations of a degenerate partition ------------------------------------------


class SweepResult(NamedTuple):
    """Records (one per run), the held-out reflections' names, wall time."""

    records: list[dict]
    reflections: list[str]
    wall_s: float


def check_sweep(
    task: Task,
    reflections: Sequence[str] | None,
    move: partition_.Move | str,
    counts: Sequence[int],
) -> tuple[symmetry.SymmetryGroup, list[int], partition_.Split]:
    """Validate a sweep's reflections, move and counts before any compute.

    Returns:
      ``(sym, reflection_indices, base_split)`` for the degenerate partition.

    Raises:
      InvalidArgument: naming ``move``, ``reflections`` or ``moved``.
    """
    move = partition_.get_move(move)
    sym = symmetry.symmetry_group(task)
    values = list(reflections or [task.group.element_names[task.group.identity]])
    refl = symmetry.reflections(sym, values)
    base = partition_.degenerate_split(sym, refl)
    labels = sym.orbits(refl) if move.by_orbit else None
    partition_.check_move_count(base, counts, move.source, orbit_labels=labels)
    return sym, refl, base


def perturbation_sweep(
    task: Task,
    config: rfm.RFMConfig,
    reflections: Sequence[str] | None,
    move: partition_.Move | str,
    counts: Sequence[int],
    seeds: Sequence[int],
    out_dir: str | Path,
    *,
    bandwidth: float = 2.5,
    ridge: float = 0.0,
    power: float = 0.5,
    chunk_runs: int | None = None,
    memory_budget: int | None = None,
    setting: dict | None = None,
    log: Callable[[str], None] | None = print,
    keep_arrays: bool | None = None,
    symmetrize: bool = False,
    draw: str = "nested",
) -> SweepResult:
    """Hold out the fixed points of ``reflections``, perturb, run every (count, seed).

    Args:
      task: the task.
      config: RFM choices (kernel, iterations, ...).
      reflections: element names of the reflections whose fixed points form the test
        set (e.g. ``["sr^35"]``; None: ``s``, the reflection at the identity).
      move: a :class:`~grokrfm.partition.Move` or its name.
      counts: the numbers m to move (0 runs once, deterministically).
      seeds: integer seeds.
      out_dir: where the chunks are saved (reruns resume from them).
      setting: extra fields recorded in every run's setting (e.g. ``{"kernel": ...}``),
        so rows of several sweeps stay distinguishable when merged.
      keep_arrays: write every run's arrays to ``out_dir/runs.npz`` (see
        :func:`run_chunked`); default: when the config records an M history.
      symmetrize: the exact-symmetry control: average M over each run's partition
        stabiliser after every update (:func:`stabilizer_averages`); every run's
        setting then says ``"symmetrized": True``.
      draw: ``"nested"`` (seed s moves a superset for a larger count) or ``"fresh"`` (a
        new draw per count and seed, as the published code); see
        :func:`~grokrfm.partition.moved_splits`.

    Returns:
      A :class:`SweepResult`; each record carries ``stabilizer_order``, the order of
      the largest subgroup of the task's symmetry group that preserves its partition.
    """
    sym, refl, base = check_sweep(task, reflections, move, counts)
    splits, settings = partition_.moved_splits(
        base, counts, seeds, move, orbit_labels=sym.orbits(refl), draw=draw
    )
    extra = dict(setting or {})
    average = None
    if symmetrize:
        extra["symmetrized"] = True
        average, _ = stabilizer_averages(sym, splits)
    settings = [{**extra, **s} for s in settings]

    def stabilizer_orders(records, chunk_splits, _result):
        # Finding 3.1's diagnosis beside each run: how large a symmetry its partition keeps.
        kept = symmetry.stabilizing_elements(sym, chunk_splits.train, chunk_splits.test)
        for record, order in zip(records, kept.sum(axis=-1), strict=True):
            record["stabilizer_order"] = int(order)

    start = time.perf_counter()
    records = run_chunked(
        task,
        config,
        splits,
        settings,
        out_dir,
        chunk_runs=chunk_runs,
        bandwidth=bandwidth,
        ridge=ridge,
        power=power,
        average=average,
        memory_budget=memory_budget,
        annotate=stabilizer_orders,
        log=log,
        keep_arrays=config.save_every > 0 if keep_arrays is None else keep_arrays,
    )
    wall = time.perf_counter() - start
    names = [sym.names[e] for e in refl]
    return SweepResult(records, names, wall)
