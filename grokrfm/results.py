"""Result files, so that nothing a user ran is lost: atomic JSON writes, the environment
and commit a result came from, and ``results.json`` with its provenance."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import jax
import numpy as np

from grokrfm.errors import InvalidArgument

# When this process first imported grokrfm: results.json records the seconds from here
# to its writing, which is an experiment module's wall time as `make paper` runs it.
_IMPORTED = time.perf_counter()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    A crash or interrupt leaves either the old file or the new one, never half of one:
    the new file's contents are flushed to disk (fsync) before the rename, and the
    rename before returning. The file gets the permissions the user's umask gives a new
    file (``mkstemp`` alone would make it private, 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        _fsync_directory(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def _fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _jsonable(x):
    if isinstance(x, (np.ndarray, jax.Array)):
        return np.asarray(x).tolist()
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x)}")


def strict(obj):
    """``obj`` with every non-finite float (NaN: a missing value) replaced by None, and
    arrays and NumPy scalars made plain Python values, so that it is strict JSON."""
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if isinstance(obj, (np.ndarray, jax.Array, np.generic)):
        return strict(_jsonable(obj))
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj, indent: int | None = 1) -> str:
    """``obj`` as strict JSON text: arrays become lists and NaN (a missing value) becomes
    ``null``, which every JSON parser reads (bare ``NaN`` is not JSON)."""
    return json.dumps(strict(obj), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as JSON atomically (see :func:`dumps`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(dumps(obj) + "\n")
    return Path(path)


def git_commit() -> str | None:
    """The commit of the working tree this code runs from, with ``+dirty`` if modified;
    None for an installed package (its files are not tracked by any repository, even
    when its environment lives inside one)."""
    here = Path(__file__).resolve().parent
    try:
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", Path(__file__).name],
            cwd=here,
            capture_output=True,
            timeout=5,
        )
        if tracked.returncode != 0:
            return None
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_version() -> str | None:
    """grokrfm's installed version (None when it runs from a folder it was not installed
    from)."""
    from importlib import metadata

    try:
        return metadata.version("grokrfm")
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict:
    """Provenance recorded beside every result."""
    import jaxlib

    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "x64": bool(jax.config.jax_enable_x64),
        "grokrfm": package_version(),
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def write_results(
    out_dir: str | Path,
    experiment: str,
    config: dict,
    summary: list[dict],
    runs: list[dict],
    paper_comparison: list[dict] | None = None,
    **extra,
) -> dict:
    """Write ``out_dir/results.json`` atomically, with the environment it ran in.

    A ``results.json`` already there from another experiment or another configuration is
    kept, renamed ``results.<its date>.json``, so nothing a user ran is lost.

    Returns:
      The payload written.
    """
    payload = {
        "experiment": experiment,
        "config": config,
        "environment": environment(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "summary": summary,
        "paper_comparison": paper_comparison or [],
        "runs": runs,
        # This process only: a sweep resumed from saved chunks does not count the
        # sessions that computed them.
        "process_wall_s": round(time.perf_counter() - _IMPORTED, 3),
        **extra,
    }
    path = Path(out_dir) / "results.json"
    if jax.process_index() == 0:  # one of several cooperating processes writes it
        keep_other_results(path, experiment, payload["config"])
        write_json(path, payload)
    return payload


def keep_other_results(path: Path, experiment: str, config: dict) -> Path | None:
    """Rename ``path`` aside (``results.<date>.json``) if it holds the results of another
    experiment or configuration; returns where it went (None if nothing was moved)."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = old.get("experiment") == experiment and old.get("config") == strict(config)
    if same:
        return None
    stamp = str(old.get("date") or "undated").replace(":", "").replace("+0000", "")
    target = path.with_name(f"results.{stamp}.json")
    counter = 1
    while target.exists():
        target = path.with_name(f"results.{stamp}.{counter}.json")
        counter += 1
    os.replace(path, target)
    print(f"kept the earlier results of another configuration as {target}")
    return target


def provenance(payload: dict) -> dict:
    """What a report says about where a results file came from: ``commit``, ``date``
    and ``quick`` ("yes", "no" or "unknown" for files that do not record it)."""
    quick = (payload.get("config") or {}).get("quick")
    return {
        "commit": (payload.get("environment") or {}).get("git_commit") or "unknown",
        "date": payload.get("date") or "unknown",
        "quick": "unknown" if quick is None else ("yes" if quick else "no"),
    }


# --- arrays: learned matrices and coefficients, beside the JSON results ------------------


def _array_digest(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write_arrays(path: str | os.PathLike, arrays: dict, meta: dict) -> Path:
    """Write named arrays and JSON-ready ``meta`` to one ``.npz`` file atomically.

    The metadata (with the environment the arrays were computed in and a SHA-256 of every
    array) is stored in the file as JSON text, so :func:`read_arrays` can verify the
    arrays before anyone uses them. Nothing is pickled.
    """
    arrays = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
    header = {
        "meta": strict(meta),
        "environment": environment(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sha256": {k: _array_digest(v) for k, v in arrays.items()},
    }
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, __header__=np.array(json.dumps(header, allow_nan=False)), **arrays)
    return Path(path)


def read_arrays(path: str | os.PathLike) -> tuple[dict, dict]:
    """The arrays and header written by :func:`write_arrays`, verified.

    Returns:
      ``(arrays, header)``; ``header["meta"]`` is what was saved as ``meta``.

    Raises:
      InvalidArgument: naming ``path`` when the file is unreadable, was not written by
        :func:`write_arrays`, or an array does not match its recorded digest.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise InvalidArgument("path", f"cannot read {path}: {err}") from None
    text = arrays.pop("__header__", None)
    if text is None:
        raise InvalidArgument("path", f"{path} was not written by grokrfm (no header)")
    header = json.loads(str(text))
    expected = header.get("sha256", {})
    if set(expected) != set(arrays):
        raise InvalidArgument("path", f"{path} holds other arrays than its header lists")
    for name, array in arrays.items():
        if _array_digest(array) != expected[name]:
            raise InvalidArgument("path", f"{path}: array {name!r} does not match its digest")
    return arrays, header
