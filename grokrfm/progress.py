"""Progress of a compiled run as it happens: iteration t of T, drawn with tqdm.

A run is one compiled ``lax.scan``, so Python sees nothing until it ends. With progress
on, the scan's body reports its iteration through :func:`jax.debug.callback` to
:func:`tick`, which advances the bar opened by :func:`bar` around the call. The callback
changes no value the run computes (the tests check runs with and without it are
identical); under ``vmap`` or over several devices every run reports, and the bar
shows the furthest iteration reached.

Bars go to standard error and are drawn only when it is a terminal (:func:`wanted`), so
logs, CI and notebooks' captured outputs stay quiet unless progress is asked for.
"""

from __future__ import annotations

import contextlib
import sys
import threading

import numpy as np

_lock = threading.Lock()
_current: list = []  # the open bar, if any (a one-element stack: calls do not nest)


def wanted(progress: bool | None) -> bool:
    """``progress`` itself, or (None) whether standard error is a terminal."""
    if progress is not None:
        return bool(progress)
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


@contextlib.contextmanager
def bar(total: int, description: str, enabled: bool = True):
    """A tqdm bar of ``total`` iterations that :func:`tick` advances while it is open."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    with tqdm(total=int(total), desc=description, unit="it", leave=False) as shown:
        with _lock:
            _current.append(shown)
        try:
            yield shown
        finally:
            with _lock:
                _current.remove(shown)


def tick(iteration) -> None:
    """Host side of the callback: iteration ``iteration`` (0-based) has finished."""
    done = int(np.max(np.asarray(iteration))) + 1
    with _lock:
        if not _current:
            return
        shown = _current[-1]
        if done > shown.n:
            shown.update(done - shown.n)
