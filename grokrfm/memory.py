"""Device-memory planning for batches of RFM runs, done before anything is compiled.

:func:`run_bytes` is an analytic upper estimate of one run's peak working memory, from
the arrays an iteration keeps live: the grid-by-train kernel (``n^2 N``), the training
system with its Cholesky factor and that factor's masked copy (``~3 N^2``), one chunk of
the AGOP's scan (the kernel's columns and the two gradient blocks, ``~3 n^2 x chunk``)
and the grid predictions (``n^2 c``). The tests check it against XLA's own
``memory_analysis()`` of the compiled run: never below it, never more than twice it
(1.4x at p = 61). Batches are planned as ``batch x run_bytes``, which is conservative:
XLA reuses some buffers across a batch.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from grokrfm.agop import AGOP_CHUNK
from grokrfm.errors import InvalidArgument


def run_bytes(n: int, train_capacity: int, test_capacity: int, itemsize: int) -> int:
    """Estimated peak bytes of one RFM run (group order n, padded set sizes)."""
    N, Nt = train_capacity, test_capacity
    grid = n * n
    chunk = min(N, AGOP_CHUNK)
    # The AGOP's chunk: the gradient blocks h, g = M h and the centred copy of g
    # (each 2n x c x chunk with c = n) beside the kernel's grid rows.
    elements = grid * N + 3 * N * N + 8 * grid * chunk + grid * n
    elements += 2 * (N + Nt) * n + 8 * (2 * n) ** 2
    return int(itemsize * elements)


def default_budget_bytes(device: jax.Device | None = None) -> int:
    """80% of an accelerator's memory, or half of the host's RAM for the CPU backend."""
    device = device or jax.devices()[0]
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 -- backends without memory stats
        stats = None
    if stats and stats.get("bytes_limit"):
        return int(0.8 * stats["bytes_limit"])
    try:
        return int(0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def _size(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**28 else f"{nbytes / 2**20:.1f} MiB"


def check_task_size(p: int, budget: int | None = None, argument: str = "p") -> None:
    """Refuse a task too large for the memory budget from its modulus alone, before any
    array of its size exists.

    A task of order n <= p holds its symmetry group's grid permutations (``16 n^3``
    bytes) and runs RFM on at least a share of its n^2 points; the estimate is a run on
    half the grid (the paper's random split) by :func:`run_bytes`.

    Raises:
      InvalidArgument: naming ``argument`` when the estimate exceeds ``budget`` bytes
        (default :func:`default_budget_bytes`).
    """
    n = int(p)
    if n < 2:
        return  # the task's own validation says what is wrong
    need = 16 * n**3 + run_bytes(n, n * n // 2, n * n - n * n // 2, 8)
    budget = budget if budget is not None else default_budget_bytes()
    if need > budget:
        raise InvalidArgument(
            argument,
            f"p = {n} needs about {_size(need)} for one run on half of its {n * n} points; "
            f"the memory budget is {_size(budget)} (--memory-budget)",
        )


def chunk_size(
    n_runs: int, per_run: int, budget: int, n_devices: int = 1, what: str = "one run"
) -> int:
    """Runs per call so that each device's share fits ``budget`` (a multiple of devices).

    Raises:
      InvalidArgument: naming ``memory_budget`` when a single run does not fit.
    """
    if per_run > budget:
        raise InvalidArgument(
            "memory_budget",
            f"{what} needs about {per_run / 2**30:.2f} GiB but the budget per device is "
            f"{budget / 2**30:.2f} GiB; use a smaller task or a larger --memory-budget",
        )
    per_device = max(1, budget // per_run)
    size = per_device * n_devices
    return int(min(size, int(np.ceil(n_runs / n_devices)) * n_devices))
