"""Result files, so that nothing a user ran is lost: atomic JSON writes, the environment
and commit a result came from, and ``results.json`` with its provenance."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    A crash or interrupt leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _jsonable(x):
    if isinstance(x, (np.ndarray, jax.Array)):
        return np.asarray(x).tolist()
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    raise TypeError(f"not JSON serialisable: {type(x)}")


def dumps(obj, indent: int | None = 1) -> str:
    """``obj`` as JSON text (arrays become lists, NaN stays NaN)."""
    return json.dumps(obj, indent=indent, sort_keys=False, default=_jsonable)


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as JSON atomically (see :func:`dumps`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(dumps(obj) + "\n")
    return Path(path)


def git_commit() -> str | None:
    """The commit of the working tree this code runs from, with ``+dirty`` if modified."""
    here = Path(__file__).resolve().parent
    try:
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


def environment() -> dict:
    """Provenance recorded beside every result."""
    import jaxlib

    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "x64": bool(jax.config.jax_enable_x64),
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
        **extra,
    }
    write_json(Path(out_dir) / "results.json", payload)
    return payload


def provenance(payload: dict) -> dict:
    """What a report says about where a results file came from: ``commit``, ``date``
    and ``quick`` ("yes", "no" or "unknown" for files that do not record it)."""
    quick = (payload.get("config") or {}).get("quick")
    return {
        "commit": (payload.get("environment") or {}).get("git_commit") or "unknown",
        "date": payload.get("date") or "unknown",
        "quick": "unknown" if quick is None else ("yes" if quick else "no"),
    }
