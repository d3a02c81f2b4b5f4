"""When a per-iteration curve crosses a level: the jump in test accuracy, and how much a
progress measure moved before it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def first_iteration_at(curve: Sequence[float], threshold: float, start: int = 0) -> int | None:
    """The index of the first value that reaches ``threshold``, counted from ``start``
    (0 for RFM iterations; 1 for network epochs, measured after each epoch); None if no
    value does."""
    values = np.array([np.nan if v is None else v for v in curve], dtype=float)
    hits = np.nonzero(values >= threshold)[0]  # a missing value (None, NaN) never reaches
    return int(hits[0]) + start if hits.size else None


def change_before_onset(curve, test_acc, floor: float = 0.1) -> float | None:
    """How much of a progress measure's total change happened while test accuracy was flat.

    ``onset`` is the first iteration t with ``test_acc[t] >= floor`` (the predictor built
    with M_t is the first to leave the floor); the result is
    ``|curve[onset] - curve[t0]| / |curve[-1] - curve[t0]|`` with t0 the first iteration
    where the curve is finite (the off-diagonal measures are undefined at M_0 = I). None
    when test accuracy never reaches ``floor`` or the curve never moves.

    Args:
      curve: ``(T+1,)`` values at M_0 ... M_T.
      test_acc: ``(T,)`` test accuracy of the predictors built with M_0 ... M_{T-1}.
    """
    curve = np.array([np.nan if v is None else v for v in curve], dtype=float)
    onset_at = first_iteration_at(test_acc, floor)
    hits = np.array([] if onset_at is None else [onset_at])
    finite = np.nonzero(np.isfinite(curve))[0]
    if hits.size == 0 or finite.size == 0:
        return None
    t0, onset = int(finite[0]), int(hits[0])
    total = abs(curve[-1] - curve[t0])
    if total == 0 or onset < t0:
        return None
    return float(abs(curve[onset] - curve[t0]) / total)
