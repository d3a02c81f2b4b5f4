"""Figures for experiment results. Only experiments import this module; the library's
computational modules never do, so matplotlib is never needed to compute anything."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grokrfm.results import atomic_path  # noqa: E402


def save(fig, path: str | os.PathLike) -> None:
    """Save atomically and close."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", format=os.path.splitext(path)[1][1:])
    plt.close(fig)


def accuracy_curves(
    records: Sequence[dict],
    label_key: str,
    path: str | os.PathLike,
    title: str = "",
    metrics: Sequence[str] = ("test_acc", "train_acc"),
) -> None:
    """Accuracy against iteration: mean over seeds (line) and min-max (band), per setting.

    Args:
      records: run records (see :func:`grokrfm.sweep.run_records`).
      label_key: the setting key whose value labels each curve (e.g. ``"moved"``).
      path: output PNG.
    """
    groups: dict = {}
    for r in records:
        groups.setdefault(r["setting"][label_key], []).append(r)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for i, (value, runs) in enumerate(groups.items()):
            curves = 100 * np.array([r[metric] for r in runs])
            it = np.arange(curves.shape[1])
            color = f"C{i % 10}"
            ax.plot(it, curves.mean(0), color=color, label=f"{label_key} = {value} ({len(runs)})")
            ax.fill_between(it, curves.min(0), curves.max(0), color=color, alpha=0.2, lw=0)
        ax.set_xlabel("RFM iteration")
        ax.set_ylabel(f"{metric.replace('_acc', '')} accuracy (%)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    save(fig, path)


def comparison_bars(entries: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """Measured test accuracy (mean, error bar = std over seeds) beside the paper's value.

    Args:
      entries: :func:`grokrfm.experiment.comparison` dicts; a numeric ``paper`` value is
        drawn as a black tick, a range such as ``"62-70%"`` as a black bar.
      path: output PNG.
    """
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(entries) + 1.5), 4.2))
    x = np.arange(len(entries))
    means = [100 * e["measured_mean"] for e in entries]
    stds = [100 * e["measured_std"] for e in entries]
    ax.bar(x, means, yerr=stds, color="C0", alpha=0.8, capsize=3, label="measured")
    for i, e in enumerate(entries):
        low_high = paper_range(e["paper"])
        if low_high is None:
            continue
        low, high = low_high
        ax.plot([i - 0.35, i + 0.35], [low, low], color="k", lw=2)
        if high > low:
            ax.fill_between([i - 0.35, i + 0.35], low, high, color="k", alpha=0.25, lw=0)
    ax.plot([], [], color="k", lw=2, label="paper")
    ax.set_xticks(x, [f"{e['setting']}\n{e['quantity']}" for e in entries], rotation=75, fontsize=7)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    save(fig, path)


def paper_range(value) -> tuple[float, float] | None:
    """A paper value as a (low, high) percentage: 0.98 -> (98, 98), "62-70%" -> (62, 70)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return 100.0 * value, 100.0 * value
    text = str(value).strip().rstrip("%").replace("~", "")
    try:
        parts = [float(t) for t in text.replace("–", "-").split("-")]
    except ValueError:
        return None
    return min(parts), max(parts)
