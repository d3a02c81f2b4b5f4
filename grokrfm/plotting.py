"""Figures for experiment results. Only experiments import this module; the library's
computational modules never do, so matplotlib is never needed to compute anything.

The backend is left to matplotlib (Agg on a machine without a display, inline in a
notebook); every figure is saved to a file atomically and closed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from grokrfm.results import atomic_path


def _values(values) -> np.ndarray:
    """Floats with a missing value (None: every run failed) as NaN, which is not drawn."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _spreads(values) -> np.ndarray:
    """Error-bar half-widths; a missing spread (one seed, or failed runs) draws none."""
    return np.nan_to_num(_values(values))


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
            curves = 100 * np.array([_values(r[metric]) for r in runs])
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
    means = 100 * _values([e["measured_mean"] for e in entries])
    stds = 100 * _spreads([e["measured_std"] for e in entries])
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


def final_accuracy_vs_moved(
    records: Sequence[dict],
    path: str | os.PathLike,
    *,
    curve_key: str,
    panel_key: str | None = None,
    metrics: Sequence[str] = ("test_acc",),
    xlabel: str = "m (number moved)",
    curve_names: dict | None = None,
    title: str = "",
) -> None:
    """Final accuracy against the count moved: mean over seeds (line) and ± std (band).

    Args:
      records: run records whose settings carry ``"moved"``, ``curve_key`` and
        ``panel_key`` (see :func:`grokrfm.sweep.run_records`).
      path: output PNG.
      curve_key: the setting whose values get one curve each (e.g. ``"move"``).
      panel_key: the setting whose values get one panel each (None: one panel).
      metrics: ``"test_acc"`` drawn solid, ``"train_acc"`` dashed, per curve.
      curve_names: legend text per curve value (default: the value itself).
    """
    panels: dict = {}
    for r in records:
        panel = panels.setdefault(r["setting"].get(panel_key) if panel_key else None, {})
        curve = panel.setdefault(r["setting"][curve_key], {})
        curve.setdefault(r["setting"]["moved"], []).append(r)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.9), squeeze=False)
    for ax, (panel, curves) in zip(axes[0], panels.items(), strict=True):
        counts = set()
        for i, (value, by_count) in enumerate(curves.items()):
            m = np.array(sorted(by_count))
            counts.update(m.tolist())
            for metric in metrics:
                finals = [100 * _values([r[metric][-1] for r in by_count[k]]) for k in m]
                finals = [f[np.isfinite(f)] for f in finals]  # failed runs left out
                mean = np.array([f.mean() if f.size else np.nan for f in finals])
                # sample standard deviation over seeds (0 for a single seed)
                std = np.array([f.std(ddof=1) if f.size > 1 else 0.0 for f in finals])
                test = metric == "test_acc"
                ax.plot(
                    m,
                    mean,
                    color=f"C{i % 10}",
                    ls="-" if test else "--",
                    marker="o" if test else None,
                    ms=3,
                    label=f"{(curve_names or {}).get(value, value)}"
                    + ("" if test else f" ({metric.replace('_acc', '')})"),
                )
                ax.fill_between(m, mean - std, mean + std, color=f"C{i % 10}", alpha=0.2, lw=0)
        # Counts span 0 to a few hundred: linear near 0, logarithmic beyond 1.
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xticks(sorted(counts), [str(c) for c in sorted(counts)], fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("final accuracy (%)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        if panel is not None:
            ax.set_title(str(panel), fontsize=9)
    if title:
        fig.suptitle(title)
    save(fig, path)


# --- feature matrices and group elements (grokrfm.features) --------------------------


def _block_lines(ax, n: int) -> None:
    ax.axhline(n - 0.5, color="k", lw=0.6)
    ax.axvline(n - 0.5, color="k", lw=0.6)


def matrices_with_representations(
    panels: Sequence[dict], path: str | os.PathLike, title: str = ""
) -> None:
    """Each learned M beside the permutation matrix Pi(g) it matches best.

    Args:
      panels: one dict per M: ``M`` ``(2n, 2n)``, ``pi`` ``(2n, 2n)`` (or None),
        ``title`` (above M), ``pi_title`` (above Pi(g)). Where ``pi`` is given its nonzero
        entries are also drawn over M as small open circles, so the reader sees whether
        M's structure sits exactly there, and Pi(g) is drawn to the right of M; when no
        panel has a ``pi`` the matrices are laid out three to a row.
      path: output PNG.
    """
    with_pi = any(panel.get("pi") is not None for panel in panels)
    if with_pi:
        fig, axes = plt.subplots(
            len(panels), 2, figsize=(8.4, 4.0 * len(panels)), squeeze=False, layout="constrained"
        )
        pairs = [(row[0], row[1]) for row in axes]
    else:
        cols = min(len(panels), 3)
        rows = -(-len(panels) // cols)
        fig, axes = plt.subplots(
            rows, cols, figsize=(4.6 * cols, 4.1 * rows), squeeze=False, layout="constrained"
        )
        pairs = [(ax, None) for ax in axes.flat]
        for ax in list(axes.flat)[len(panels) :]:
            ax.axis("off")
    for (ax_m, ax_p), panel in zip(pairs, panels, strict=False):
        M = np.asarray(panel["M"])
        n = M.shape[0] // 2
        # Colour range from the off-diagonal entries: the diagonal would wash them out.
        off = M[~np.eye(M.shape[0], dtype=bool)]
        scale = float(np.abs(off).max()) or 1.0
        image = ax_m.imshow(M, cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
        fig.colorbar(image, ax=ax_m, fraction=0.046, pad=0.04)
        _block_lines(ax_m, n)
        ax_m.set_title(panel.get("title", ""), fontsize=8)
        pi = panel.get("pi")
        if ax_p is None:
            continue
        if pi is None:
            ax_p.axis("off")
            continue
        rows_i, cols_i = np.nonzero(np.asarray(pi))
        marker = max(2.0, 120.0 / M.shape[0])
        ax_m.scatter(cols_i, rows_i, s=marker, facecolors="none", edgecolors="k", lw=0.5)
        ax_p.imshow(np.asarray(pi), cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        _block_lines(ax_p, n)
        ax_p.set_title(panel.get("pi_title", "Pi(g)"), fontsize=8)
    if title:
        fig.suptitle(title)
    save(fig, path)


def score_matrix(
    values,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
    highlight: Sequence[int] | None = None,
) -> None:
    """A heatmap of |score| (rows: runs, e.g. the reflection that built each partition;
    columns: group elements), with each row's expected column outlined.

    Args:
      values: ``(rows, cols)``.
      highlight: per row, the column to outline (e.g. the building reflection), or None.
    """
    values = np.abs(np.asarray(values))
    rows, cols = values.shape
    fig, ax = plt.subplots(figsize=(max(5.0, 0.16 * cols + 2.5), max(3.0, 0.16 * rows + 1.8)))
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="|score|")
    if highlight is not None:
        for r, c in enumerate(highlight):
            if c is not None:
                ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="r", lw=0.8))
    size = 6 if max(rows, cols) > 30 else 7
    ax.set_xticks(np.arange(cols), col_labels, rotation=90, fontsize=size)
    ax.set_yticks(np.arange(rows), row_labels, fontsize=size)
    ax.set_xlabel("group element g (score against S(g))")
    if title:
        ax.set_title(title, fontsize=10)
    save(fig, path)


def grid_outcomes(panels: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """The n x n grid of points (a down, b across): train, correct and wrong test points,
    the predicted set outlined, and the reflection's fixed points (its axis) drawn.

    Args:
      panels: dicts with ``n``, ``train``, ``test``, ``correct`` (``(n^2,)`` bool, grid
        index ``a n + b``), optional ``predicted`` (``(n^2,)`` bool, outlined in black),
        optional ``axis`` (``(n^2,)`` bool, the fixed points, joined where adjacent) and
        ``title``.
      path: output PNG.
    """
    cols = min(len(panels), 4)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.7 * rows), squeeze=False)
    colours = {
        "train": (0.82, 0.82, 0.82),
        "correct": (0.20, 0.63, 0.17),
        "wrong": (0.89, 0.10, 0.11),
    }
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, panel in zip(axes.flat, panels, strict=False):
        n = int(panel["n"])
        train = np.asarray(panel["train"]).reshape(n, n)
        test = np.asarray(panel["test"]).reshape(n, n)
        correct = np.asarray(panel["correct"]).reshape(n, n)
        image = np.ones((n, n, 3))
        image[train] = colours["train"]
        image[test & correct] = colours["correct"]
        image[test & ~correct] = colours["wrong"]
        ax.imshow(image, interpolation="nearest")
        if panel.get("predicted") is not None:
            a, b = np.nonzero(np.asarray(panel["predicted"]).reshape(n, n))
            ax.scatter(
                b,
                a,
                s=max(2.0, 900.0 / n**2 * 4),
                marker="s",
                facecolors="none",
                edgecolors="k",
                lw=0.6,
            )
        if panel.get("axis") is not None:
            a, b = np.nonzero(np.asarray(panel["axis"]).reshape(n, n))
            ax.plot(b, a, "x", color="k", ms=3, mew=0.7)
            for i in range(len(a) - 1):  # join neighbouring fixed points into the axis line
                if a[i + 1] - a[i] == 1 and abs(int(b[i + 1]) - int(b[i])) == 1:
                    ax.plot(b[i : i + 2], a[i : i + 2], color="k", lw=0.8)
        ax.set_title(panel.get("title", ""), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[k]) for k in ("train", "correct", "wrong")]
    labels = ["train", "test, correct", "test, wrong"]
    handles.append(plt.Line2D([], [], marker="s", ls="", mfc="none", mec="k"))
    labels.append("predicted: Orbit_H(train) \\ train")
    handles.append(plt.Line2D([], [], marker="x", ls="-", color="k"))
    labels.append("fixed points (axis)")
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    save(fig, path)


def measure_curves(panels: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """Per-iteration measures beside test accuracy (right axis), one panel per measure.

    Args:
      panels: dicts with ``title``, ``ylabel``, ``series`` (``{label: (T+1,) values}``,
        drawn at iterations 0..len-1), optional ``test_acc`` (``{label: (T,) values}``,
        dashed, right axis, percent), optional ``log`` (log y axis).
      path: output PNG.
    """
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.6 * len(panels), 3.9), squeeze=False, layout="constrained"
    )
    for ax, panel in zip(axes[0], panels, strict=True):
        for i, (label, values) in enumerate(panel["series"].items()):
            values = np.asarray(values, float)
            ax.plot(np.arange(len(values)), values, color=f"C{i % 10}", label=label)
        if panel.get("log"):
            ax.set_yscale("log")
        ax.set_xlabel("RFM iteration t (M_t)")
        ax.set_ylabel(panel.get("ylabel", ""))
        ax.grid(alpha=0.3)
        ax.set_title(panel.get("title", ""), fontsize=9)
        lines, labels = ax.get_legend_handles_labels()
        if panel.get("test_acc"):
            twin = ax.twinx()
            for i, (label, acc) in enumerate(panel["test_acc"].items()):
                acc = 100 * np.asarray(acc, float)
                twin.plot(
                    np.arange(len(acc)),
                    acc,
                    color=f"C{i % 10}",
                    ls="--",
                    lw=1.0,
                    label=f"test acc, {label}",
                )
            twin.set_ylim(-3, 103)
            twin.set_ylabel("test accuracy (%, dashed)")
            more_lines, more_labels = twin.get_legend_handles_labels()
            lines, labels = lines + more_lines, labels + more_labels
        ax.legend(lines, labels, fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    save(fig, path)


# --- networks beside RFM (grokrfm.network) ---------------------------------------------


def network_curves(records: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """Test accuracy (solid) and train accuracy (dashed) against epoch, and the NFA
    correlation against epoch, per task: mean over seeds (line), min-max (band).

    Args:
      records: :func:`grokrfm.network.run_records` records (setting ``"task"``).
      path: output PNG.
    """
    groups: dict = {}
    for r in records:
        groups.setdefault(r["setting"]["task"], []).append(r)
    fig, (acc_ax, nfa_ax) = plt.subplots(1, 2, figsize=(11, 3.9), layout="constrained")
    for i, (name, runs) in enumerate(groups.items()):
        color = f"C{i % 10}"
        for metric, ls in (("test_acc", "-"), ("train_acc", "--")):
            curves = 100 * np.array([_values(r[metric]) for r in runs])
            epochs = np.arange(1, curves.shape[1] + 1)
            label = f"{name} ({len(runs)})" if metric == "test_acc" else None
            acc_ax.plot(epochs, curves.mean(0), color=color, ls=ls, label=label)
            acc_ax.fill_between(epochs, curves.min(0), curves.max(0), color=color, alpha=0.15)
        for key, ls in (("nfa", "-"), ("nfa_off_diagonal", ":")):
            values = np.array([r[key] for r in runs])
            label = f"{name}, {'all entries' if key == 'nfa' else 'off-diagonal'}"
            nfa_ax.plot(runs[0]["feature_epochs"], values.mean(0), color=color, ls=ls, label=label)
    acc_ax.set_xscale("log")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy (%; test solid, train dashed)")
    acc_ax.set_ylim(-3, 103)
    acc_ax.grid(alpha=0.3)
    acc_ax.legend(fontsize=7)
    nfa_ax.set_xlabel("epoch")
    nfa_ax.set_ylabel("corr(W1^T W1, AGOP^1/2)")
    nfa_ax.grid(alpha=0.3)
    nfa_ax.legend(fontsize=6)
    if title:
        fig.suptitle(title)
    save(fig, path)


def feature_matrices(
    panels: Sequence[dict], path: str | os.PathLike, ncols: int = 2, title: str = ""
) -> None:
    """A grid of ``(2n, 2n)`` matrices (``title``, ``matrix``), diagonals blanked so the
    off-diagonal structure shows, block lines at n."""
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    for ax, panel in zip(axes.ravel(), panels, strict=False):
        M = np.array(panel["matrix"], float)
        np.fill_diagonal(M, np.nan)
        limit = np.nanmax(np.abs(M)) or 1.0
        ax.imshow(M, cmap="RdBu_r", vmin=-limit, vmax=limit)
        _block_lines(ax, M.shape[0] // 2)
        ax.set_title(panel["title"], fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    save(fig, path)


def emergence_curves(rows: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """Final test accuracy, test loss and AGOP alignment against the training fraction
    (mean over seeds, ± std band), one panel each.

    Args:
      rows: dicts with ``fraction`` and ``<measure>_mean`` / ``<measure>_std`` for
        ``test_acc``, ``test_mse`` and ``alignment``.
    """
    measures = (
        ("test_acc", "final test accuracy (%)", 100.0),
        ("test_mse", "final test MSE", 1.0),
        ("alignment", "AGOP alignment cos(M, M_ref)", 1.0),
    )
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
    r = np.array([row["fraction"] for row in rows])
    for ax, (key, label, scale) in zip(axes, measures, strict=True):
        mean = scale * _values([row[f"{key}_mean"] for row in rows])
        std = scale * _spreads([row[f"{key}_std"] for row in rows])
        ax.plot(100 * r, mean, marker="o", ms=3)
        ax.fill_between(100 * r, mean - std, mean + std, alpha=0.2, lw=0)
        ax.set_xlabel("training data (%)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    save(fig, path)


def accuracy_vs_fraction(
    rows: Sequence[dict], path: str | os.PathLike, threshold: float | None = None
) -> None:
    """Final test accuracy (mean +- std over seeds) against training fraction, one curve
    per ``rows[i]["group"]`` (summary rows of ``experiments.groups_random``); RFM solid,
    and the network dashed where the rows carry ``network_test_acc_mean``."""
    fig, ax = plt.subplots(figsize=(8.4, 4.2))
    names = list(dict.fromkeys(r["group"] for r in rows))
    for i, name in enumerate(names):
        mine = sorted((r for r in rows if r["group"] == name), key=lambda r: r["fraction"])
        x = [r["fraction"] for r in mine]
        for prefix, style, label in (("", "-", name), ("network_", "--", f"{name}, network")):
            if f"{prefix}test_acc_mean" not in mine[0]:
                continue
            y = 100 * _values([r[f"{prefix}test_acc_mean"] for r in mine])
            e = 100 * _spreads([r[f"{prefix}test_acc_std"] for r in mine])
            ax.errorbar(
                x, y, yerr=e, marker="o", ms=3, capsize=2, ls=style, color=f"C{i % 10}", label=label
            )
    if threshold is not None:
        ax.axhline(100 * threshold, color="k", lw=0.8, ls="--")
    ax.set_xlabel("training fraction")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, path)


def family_accuracy_bars(rows: Sequence[dict], path: str | os.PathLike) -> None:
    """Final test accuracy (mean +- std) per partition family, one panel per group
    (summary rows of ``experiments.groups_summary``)."""
    names = list(dict.fromkeys(r["group"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        mine = [r for r in rows if r["group"] == name]
        x = np.arange(len(mine))
        y = 100 * _values([r["test_acc_mean"] for r in mine])
        e = 100 * _spreads([r["test_acc_std"] for r in mine])
        ax.bar(x, y, yerr=e, color=[f"C{i % 10}" for i in x], capsize=2)
        ax.set_xticks(x, [r["family"] for r in mine], rotation=70, fontsize=7)
        ax.set_ylim(0, 103)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("final test accuracy (%)")
    save(fig, path)
