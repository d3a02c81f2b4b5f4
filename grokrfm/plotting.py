"""Figures for experiment results, for a script, a notebook or a paper.

Only experiments (and people) import this module; the library's computational modules
never do, so matplotlib is never needed to compute anything.

Every public drawing function returns the :class:`~matplotlib.figure.Figure` it drew on:

* **Where it draws.** A function that draws one panel takes ``ax=``; one that draws
  several takes ``axes=``, a sequence with one Axes per panel in the order its docstring
  gives. Given Axes, it draws there and returns their figure, so a panel can sit in a
  figure of your own; without them it makes a new figure with
  :func:`matplotlib.pyplot.subplots`, which a notebook shows inline.
* **Saving and closing.** ``path=`` also writes the figure atomically (:func:`save`, the
  format from the suffix). Whoever made a figure owns it: a figure the function made
  itself is closed once written, so a script drawing many figures leaves none open (the
  returned figure can still be saved again, or shown with ``display(fig)``); a figure
  whose Axes the caller passed is written and left open. Without ``path`` nothing is
  closed.
* **The backend** is never chosen and rcParams are never changed: matplotlib picks Agg
  without a display and the inline backend in a notebook; every style is set per call.

Conventions, so that a figure can go into a paper as it is: accuracy axes say test or
train; a count in parentheses in a legend says what it counts (``moved = 1 (3 seeds)``);
every band and error bar is explained in the legend or an axis label (``line: mean,
band: min–max over seeds``); curves that coincide stay visible (each curve is drawn
thinner than the one before it and on top of it, with its own line style and marker,
markers staggered along the curve or, at a few counts, curves a few points apart);
a train curve has hollow markers larger than its test curve's filled ones, so where
they coincide a ring shows around a dot; group elements are written in mathtext
(:func:`element_tex`: ``sr^13`` becomes :math:`sr^{13}`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import offset_copy

from grokrfm import distribute
from grokrfm.errors import InvalidArgument
from grokrfm.results import atomic_path

# --- group elements as mathtext ---------------------------------------------------------

# Letters that name a group element (s, r, g, i, ...) stay italic; words (id, swap, aut,
# inn) are set upright. "sr" is s times r, not a word.
_ITALIC_WORDS = ("sr",)
_TEX_SPECIAL = set("_{}%#&$")


def _exponent_end(name: str, start: int) -> int:
    """Where the exponent that starts at ``name[start]`` (just after a ``^``) ends.

    An exponent is a parenthesised tuple (``(1,2)``), a signed integer (``13``, ``-1``),
    or an element name of the base group, which may itself hold a ``^`` (``r^3s`` in
    Dih(Dih_m)) and runs to a ``/`` (the class separator) or the end.
    """
    i = start + (start < len(name) and name[start] == "-")
    if i < len(name) and name[i] == "(":
        depth = 0
        for j in range(i, len(name)):
            depth += {"(": 1, ")": -1}.get(name[j], 0)
            if depth == 0:
                return j + 1
        return len(name)
    if i < len(name) and name[i].isdigit():
        while i < len(name) and name[i].isdigit():
            i += 1
        return i
    end = name.find("/", i)
    return len(name) if end < 0 else end


def _tex_body(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        c = name[i]
        if c == "^":
            end = _exponent_end(name, i + 1)
            out.append("^{" + _tex_body(name[i + 1 : end]) + "}")
            i = end
        elif c.isalpha():
            j = i
            while j < len(name) and name[j].isalpha():
                j += 1
            word = name[i:j]
            out.append(word if len(word) == 1 or word in _ITALIC_WORDS else rf"\mathrm{{{word}}}")
            i = j
        elif c == "-" and 0 < i < len(name) - 1 and name[i - 1].isalpha() and name[i + 1].isalpha():
            out.append(r"\text{-}")  # a hyphen between words ("swap-inverse"), not a minus
            i += 1
        elif c in "<>":  # a subgroup's generators, "<r^6, s>"
            out.append(r"\langle" if c == "<" else r"\rangle")
            i += 1
            if i < len(name) and name[i].isalpha():
                out.append(" ")
        else:
            out.append("\\" + c if c in _TEX_SPECIAL else c)
            i += 1
    return "".join(out)


def element_tex(name: str) -> str:
    """A group element's ASCII name as mathtext: ``"sr^13"`` -> ``"$sr^{13}$"``.

    Understands every name the library writes: Dih(A) elements of
    :mod:`grokrfm.symmetry` (``"r^0"``, ``"sr^(1,2)"``, ``"sr^-i"``, ``"sr^r^3s"``), the
    class names of :func:`grokrfm.symmetry.inverse_classes` (``"r^3/r^10"``), ``"s"``,
    the base groups' own names (``"(0,2,1,3)"``, ``"r^2s"``), and the generator names of
    :mod:`grokrfm.computed_symmetry` (``"r(5)"``, ``"L[2]"``, ``"aut1[0,2,1]"``,
    ``"swap-inverse"``, ``"id"``, ``"swap.3|inn(2)|5"``), and subgroups by their
    generators (``"<r^6, s>"``). Single letters stay italic, words are set upright.
    """
    return f"${_tex_body(str(name))}$"


# An element name inside free text: r^k or sr^k, k a tuple, an integer (r^3s: the
# element r^3 s of a dihedral group) or a base element's name (sr^-i, sr^r^3s).
_ELEMENT_IN_TEXT = re.compile(
    r"(?<![\w^])s?r\^(?:-?\([^()]*\)|-?\d+(?:s\b)?|-?[A-Za-z]+(?:\^\d+s?)?)"
)


def tex_elements(text: str) -> str:
    """Free text with every ``r^k`` / ``sr^k`` in it set in mathtext (:func:`element_tex`):
    ``"x+y mod 19, sr^3"`` -> ``"x+y mod 19, $sr^{3}$"``. Parts already between ``$`` are
    left alone; a lone ``s`` is left as it is (write ``"$s$"``)."""
    parts = str(text).split("$")
    for k in range(0, len(parts), 2):
        parts[k] = _ELEMENT_IN_TEXT.sub(lambda m: element_tex(m.group(0)), parts[k])
    return "$".join(parts)


# --- figures, axes, saving ----------------------------------------------------------------


def save(fig: Figure, path: str | os.PathLike, *, close: bool = True) -> Figure:
    """Write ``fig`` to ``path`` atomically (format from the suffix) and, unless
    ``close=False``, close it in pyplot. Of several cooperating processes only the
    first writes (the others would write the same picture). Returns ``fig``."""
    if distribute.is_lead_process():
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format=os.path.splitext(path)[1][1:])
    if close:
        plt.close(fig)
    return fig


def _root(fig) -> Figure:
    """The top-level figure of a figure or subfigure (Axes in a subfigure save with it)."""
    while getattr(fig, "figure", fig) is not fig:
        fig = fig.figure
    return fig


def _new_or_given(axes, count: int, argument: str, **subplots) -> tuple[Figure, list[Axes], bool]:
    """The figure and ``count`` Axes to draw on, and whether this module made them.

    ``axes``: the caller's Axes (one, or a sequence or array of them), or None for a
    new figure from ``plt.subplots(**subplots)``.
    """
    if axes is None:
        fig, grid = plt.subplots(squeeze=False, **subplots)
        return fig, list(grid.flat), True
    given = [axes] if isinstance(axes, Axes) else list(np.ravel(np.asarray(axes, dtype=object)))
    if len(given) != count:
        raise InvalidArgument(argument, f"this figure has {count} panel(s), got {len(given)} Axes")
    return given[0].figure, given, False


def _finish(fig, owned: bool, path, title: str = "") -> Figure:
    if title:
        fig.suptitle(tex_elements(title))
    fig = _root(fig)
    if path is not None:
        save(fig, path, close=owned)
    return fig


def _values(values) -> np.ndarray:
    """Floats with a missing value (None: every run failed) as NaN, which is not drawn."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _spreads(values) -> np.ndarray:
    """Error-bar half-widths; a missing spread (one seed, or failed runs) draws none."""
    return np.nan_to_num(_values(values))


def _split_name(metric: str) -> str:
    """``"test_acc"`` -> ``"test"``, ``"fixed_point_acc"`` -> ``"fixed point"``."""
    return metric.removesuffix("_acc").replace("_", " ")


def _accuracy_label(metric: str) -> str:
    """``"test_acc"`` -> ``"test accuracy"``."""
    return f"{_split_name(metric)} accuracy"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _runs_word(groups) -> str:
    """``"seed"`` when every group's runs are distinct seeds (what the band spans),
    else ``"run"``."""
    for runs in groups:
        seeds = [r.get("seed") for r in runs]
        if None in seeds or len(set(seeds)) != len(seeds):
            return "run"
    return "seed"


# Curve i of n: its own colour, line style and marker; earlier curves are wider and
# drawn below later ones, so curves that coincide show as nested stripes.
_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<")


def _curve_style(i: int, n: int, *, dashes: bool = True) -> dict:
    share = (n - 1 - i) / (n - 1) if n > 1 else 0.5
    return {
        "color": f"C{i % 10}",
        "ls": _LINESTYLES[i % len(_LINESTYLES)] if dashes else "-",
        "lw": 1.0 + 1.4 * share,
        "marker": _MARKERS[i % len(_MARKERS)],
        "ms": 3.5 + 2.0 * share,
        "zorder": 2.0 + 0.01 * i,
    }


def _metric_style(style: dict, metric: str) -> dict:
    """A curve's style for its test or train accuracy. Test: solid, filled marker, on
    top; train: dashed, a larger hollow marker below, so where the two coincide a filled
    marker sits inside a ring."""
    if metric == "test_acc":
        return {**style, "ls": "-", "zorder": style["zorder"] + 0.005}
    return {**style, "ls": "--", "mfc": "none", "ms": style["ms"] + 3.0, "mew": 1.2}


# The legend's key to test and train accuracy (any curve's colour and marker).
_KEY_STYLE = {"color": "0.3", "lw": 1.5, "marker": "o", "ms": 5.0, "zorder": 2.0}


def _staggered(i: int, n: int, step: float = 0.2) -> tuple[float, float]:
    """``markevery`` for curve i of n: markers every ``step`` of the axes diagonal,
    shifted per curve so that coinciding curves show every marker."""
    return (step * (i + 0.5) / max(n, 1), step)


def _band_handle(text: str) -> tuple[tuple, str]:
    """A legend entry (grey line over a grey band) explaining line and band."""
    return (Patch(color="0.5", alpha=0.25, lw=0), Line2D([], [], color="0.35")), text


# --- accuracy during and after training (grokrfm.sweep records) ---------------------------


def accuracy_curves(
    records: Sequence[dict],
    label_key: str,
    *,
    metrics: Sequence[str] = ("test_acc", "train_acc"),
    title: str = "",
    axes: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Accuracy against RFM iteration, one curve per setting: the mean over seeds (line)
    and the min–max over seeds (band), one panel per metric.

    Args:
      records: run records (see :func:`grokrfm.sweep.run_records`).
      label_key: the setting key whose value labels each curve (e.g. ``"moved"``); the
        legend reads ``moved = 1 (3 seeds)``.
      metrics: one panel each, e.g. ``("test_acc", "train_acc")``.
      title: the figure's title.
      axes: one Axes per metric, or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    groups: dict = {}
    for r in records:
        groups.setdefault(r["setting"][label_key], []).append(r)
    fig, panels, owned = _new_or_given(
        axes, len(metrics), "axes", ncols=len(metrics), figsize=(5.2 * len(metrics), 3.8)
    )
    word = _runs_word(groups.values())
    for ax, metric in zip(panels, metrics, strict=True):
        for i, (value, runs) in enumerate(groups.items()):
            curves = 100 * np.array([_values(r[metric]) for r in runs])
            it = np.arange(curves.shape[1])
            style = _curve_style(i, len(groups))
            ax.fill_between(
                it, curves.min(0), curves.max(0), color=style["color"], alpha=0.15, lw=0, zorder=1
            )
            ax.plot(
                it,
                curves.mean(0),
                **style,
                markevery=_staggered(i, len(groups)),
                label=f"{label_key} = {tex_elements(str(value))} ({_count(len(runs), word)})",
            )
        ax.set_xlabel("RFM iteration")
        ax.set_ylabel(f"{_accuracy_label(metric)} (%)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    # The legend goes on the last panel: train curves leave most of theirs empty.
    handles, labels = panels[0].get_legend_handles_labels()
    band, text = _band_handle(f"line: mean, band: min–max over {word}s")
    panels[-1].legend([*handles, band], [*labels, text], fontsize=7, loc="best", framealpha=0.9)
    return _finish(fig, owned, path, title)


def final_accuracy_vs_moved(
    records: Sequence[dict],
    *,
    curve_key: str,
    panel_key: str | None = None,
    metrics: Sequence[str] = ("test_acc",),
    xlabel: str = "m (number moved)",
    curve_names: dict | None = None,
    title: str = "",
    axes: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Accuracy at the last iteration against the count moved: the mean over seeds
    (line) and ± one standard deviation over seeds (band).

    Each curve has its own colour and marker, is drawn thinner than the one before and
    on top of it, and sits a few points to the side of it, so curves that coincide (every
    train curve at 100%) stay visible.

    Args:
      records: run records whose settings carry ``"moved"``, ``curve_key`` and
        ``panel_key`` (see :func:`grokrfm.sweep.run_records`).
      curve_key: the setting whose values get one curve each (e.g. ``"move"``).
      panel_key: the setting whose values get one panel each (None: one panel), in the
        order they first appear in ``records``.
      metrics: ``"test_acc"`` drawn solid with filled markers, ``"train_acc"`` dashed
        with hollow markers, per curve.
      xlabel: the count's axis label.
      curve_names: legend text per curve value (default: the value itself).
      title: the figure's title.
      axes: one Axes per panel, or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    panels: dict = {}
    for r in records:
        panel = panels.setdefault(r["setting"].get(panel_key) if panel_key else None, {})
        curve = panel.setdefault(r["setting"][curve_key], {})
        curve.setdefault(r["setting"]["moved"], []).append(r)
    fig, panel_axes, owned = _new_or_given(
        axes, len(panels), "axes", ncols=len(panels), figsize=(5.2 * len(panels), 3.9)
    )
    test_only = tuple(metrics) == ("test_acc",)
    for ax, (panel, curves) in zip(panel_axes, panels.items(), strict=True):
        counts, spread = set(), False
        word = _runs_word(runs for by_count in curves.values() for runs in by_count.values())
        handles, labels = [], []
        for i, (value, by_count) in enumerate(curves.items()):
            m = np.array(sorted(by_count))
            counts.update(m.tolist())
            style = _curve_style(i, len(curves), dashes=False)
            # Curves side by side, a few points apart, so coinciding markers all show.
            dodge = 5.0 * (i - (len(curves) - 1) / 2)
            shifted = offset_copy(ax.transData, fig=ax.figure, x=dodge, units="points")
            for metric in metrics:
                finals = [100 * _values([r[metric][-1] for r in by_count[k]]) for k in m]
                finals = [f[np.isfinite(f)] for f in finals]  # failed runs left out
                # the median and the seeds' range: a band that stays within 0-100%
                median = np.array([np.median(f) if f.size else np.nan for f in finals])
                low = np.array([f.min() if f.size else np.nan for f in finals])
                high = np.array([f.max() if f.size else np.nan for f in finals])
                spread |= any(f.size > 1 for f in finals)
                ax.fill_between(
                    m,
                    low,
                    high,
                    color=style["color"],
                    alpha=0.15,
                    lw=0,
                    zorder=1,
                    transform=shifted,
                )
                ax.plot(m, median, **_metric_style(style, metric), alpha=0.9, transform=shifted)
            sizes = sorted({len(by_count[k]) for k in m})
            n = _count(sizes[0], word) if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]} {word}s"
            name = tex_elements(str((curve_names or {}).get(value, value)))
            handles.append(Line2D([], [], **{**style, "lw": 1.5, "ms": 5}))
            labels.append(f"{name} ({n})")
        if not test_only:
            for metric in metrics:
                handles.append(Line2D([], [], **_metric_style(_KEY_STYLE, metric)))
                labels.append(_accuracy_label(metric))
        if spread:
            band, text = _band_handle(f"line: median, band: min–max over {word}s")
            handles.append(band)
            labels.append(text)
        # Counts span 0 to a few hundred: linear near 0, logarithmic beyond 1.
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xticks(sorted(counts), [str(c) for c in sorted(counts)], fontsize=7)
        # Shifted curves do not widen the data limits: pad 5% of the scaled range here.
        scale = ax.xaxis.get_transform()
        low, high = scale.transform(np.array([min(counts), max(counts)], float))
        pad = 0.05 * (high - low) or 0.5
        ax.set_xlim(*scale.inverted().transform(np.array([low - pad, high + pad])))
        ax.set_xlabel(xlabel)
        which = " and ".join(_split_name(metric) for metric in metrics)
        ax.set_ylabel(f"final {which} accuracy (%)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
        ax.legend(handles, labels, fontsize=7, loc="best", framealpha=0.9)
        if panel is not None:
            ax.set_title(tex_elements(str(panel)), fontsize=9)
    return _finish(fig, owned, path, title)


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


def comparison_bars(
    entries: Sequence[dict],
    *,
    title: str = "",
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Measured values (bar: median, error bar: the seeds' range) beside the paper's.

    Args:
      entries: :func:`grokrfm.report.comparison` dicts (percent of ``measured_median``,
        or of ``measured_mean`` where no median is recorded; the range from
        ``measured_seeds``);
        a numeric ``paper`` value is drawn as a black tick, a range such as ``"62-70%"``
        as a black bar. The seed count, where an entry has one, ends its tick label.
      title: the panel's title.
      ax: the Axes to draw in, or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    fig, (ax,), owned = _new_or_given(
        ax, 1, "ax", figsize=(max(5.0, 0.55 * len(entries) + 1.5), 4.2)
    )
    x = np.arange(len(entries))
    centre = [e.get("measured_median", e["measured_mean"]) for e in entries]
    centre = 100 * _values(
        [c if c is not None else e["measured_mean"] for c, e in zip(centre, entries, strict=True)]
    )
    seeds = [100 * _values(e.get("measured_seeds") or []) for e in entries]
    seeds = [v[np.isfinite(v)] for v in seeds]
    below = np.array([c - v.min() if v.size else 0.0 for c, v in zip(centre, seeds, strict=True)])
    above = np.array([v.max() - c if v.size else 0.0 for c, v in zip(centre, seeds, strict=True)])
    ax.bar(
        x,
        centre,
        yerr=np.nan_to_num(np.stack([below, above])),
        color="C0",
        alpha=0.8,
        capsize=3,
        label="measured (bar: median, error bar: range over seeds)",
    )
    for i, e in enumerate(entries):
        low_high = paper_range(e["paper"])
        if low_high is None:
            continue
        low, high = low_high
        ax.plot([i - 0.35, i + 0.35], [low, low], color="k", lw=2)
        if high > low:
            ax.fill_between([i - 0.35, i + 0.35], low, high, color="k", alpha=0.25, lw=0)
    ax.plot([], [], color="k", lw=2, label="paper (tick: value, grey: range)")

    def tick(e: dict) -> str:
        seeds = f" ({_count(e['seeds'], 'seed')})" if e.get("seeds") else ""
        return tex_elements(f"{e['setting']}\n{e['quantity']}{seeds}")

    ax.set_xticks(x, [tick(e) for e in entries], rotation=75, fontsize=7)
    ax.set_ylabel("final test accuracy (%), or as labelled")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(tex_elements(title))
    return _finish(fig, owned, path)


# --- feature matrices and group elements (grokrfm.features) --------------------------


def _block_lines(ax, n: int) -> None:
    ax.axhline(n - 0.5, color="k", lw=0.6)
    ax.axvline(n - 0.5, color="k", lw=0.6)


def matrices_with_representations(
    panels: Sequence[dict],
    *,
    title: str = "",
    axes: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Each learned M beside the permutation matrix :math:`\\Pi(g)` it matches best.

    Args:
      panels: one dict per M: ``M`` ``(2n, 2n)``, ``pi`` ``(2n, 2n)`` (or None),
        ``title`` (above M), ``pi_title`` (above Pi(g); element names in it are set in
        mathtext). Where ``pi`` is given its nonzero entries are also drawn over M as
        small open circles, so the reader sees whether M's structure sits exactly
        there, and Pi(g) is drawn to the right of M; when no panel has a ``pi`` the
        matrices are laid out three to a row.
      title: the figure's title.
      axes: with a ``pi`` anywhere, two Axes per panel (M, then Pi(g)); otherwise one
        per panel. None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    with_pi = any(panel.get("pi") is not None for panel in panels)
    if with_pi:
        fig, flat, owned = _new_or_given(
            axes,
            2 * len(panels),
            "axes",
            nrows=len(panels),
            ncols=2,
            figsize=(8.4, 4.0 * len(panels)),
            layout="constrained",
        )
        pairs = list(zip(flat[0::2], flat[1::2], strict=True))
    else:
        cols = min(len(panels), 3)
        rows = -(-len(panels) // cols)
        fig, flat, owned = _new_or_given(
            axes,
            len(panels),
            "axes",
            nrows=rows,
            ncols=cols,
            figsize=(4.6 * cols, 4.1 * rows),
            layout="constrained",
        )
        pairs = [(ax, None) for ax in flat]
        for ax in flat[len(panels) :]:
            ax.axis("off")
    for (ax_m, ax_p), panel in zip(pairs, panels, strict=False):
        M = np.asarray(panel["M"])
        n = M.shape[0] // 2
        # Colour range from the off-diagonal entries: the diagonal would wash them out.
        off = M[~np.eye(M.shape[0], dtype=bool)]
        scale = float(np.abs(off).max()) or 1.0
        image = ax_m.imshow(M, cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
        ax_m.figure.colorbar(image, ax=ax_m, fraction=0.046, pad=0.04)
        _block_lines(ax_m, n)
        ax_m.set_title(tex_elements(panel.get("title", "")), fontsize=8)
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
        ax_p.set_title(tex_elements(panel.get("pi_title", r"$\Pi(g)$")), fontsize=8)
    return _finish(fig, owned, path, title)


def score_matrix(
    values,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str = "",
    highlight: Sequence[int | None] | None = None,
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """A heatmap of |score| (rows: runs, e.g. the reflection that built each partition;
    columns: group elements), with each row's expected column outlined in red.

    Args:
      values: ``(rows, cols)``.
      row_labels, col_labels: group element names (``"sr^3"``, ``"r^3/r^10"``), drawn
        in mathtext (:func:`element_tex`).
      title: the panel's title.
      highlight: per row, the column to outline (e.g. the building reflection), or None.
      ax: the Axes to draw in, or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    values = np.abs(np.asarray(values))
    rows, cols = values.shape
    fig, (ax,), owned = _new_or_given(
        ax, 1, "ax", figsize=(max(5.0, 0.16 * cols + 2.5), max(3.0, 0.16 * rows + 1.8))
    )
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=r"$|\mathrm{score}|$")
    if highlight is not None:
        for r, c in enumerate(highlight):
            if c is not None:
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="r", lw=0.8))
        ax.set_ylabel("red outline: the row's expected element", fontsize=8)
    size = 6 if max(rows, cols) > 30 else 7
    ax.set_xticks(np.arange(cols), [element_tex(c) for c in col_labels], rotation=90, fontsize=size)
    ax.set_yticks(np.arange(rows), [element_tex(r) for r in row_labels], fontsize=size)
    ax.set_xlabel(r"group element $g$ (score of $M$ against $S(g)$)")
    if title:
        ax.set_title(tex_elements(title), fontsize=10)
    return _finish(fig, owned, path)


_GRID_COLOURS = {
    "train": (0.82, 0.82, 0.82),
    "correct": (0.20, 0.63, 0.17),
    "wrong": (0.89, 0.10, 0.11),
}


def grid_outcomes(
    panels: Sequence[dict],
    *,
    title: str = "",
    axes: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """The n x n grid of points (a down, b across): train, correct and wrong test points,
    the predicted set outlined, and the reflection's fixed points (its axis) drawn.

    Args:
      panels: dicts with ``n``, ``train``, ``test``, ``correct`` (``(n^2,)`` bool, grid
        index ``a n + b``), optional ``predicted`` (``(n^2,)`` bool, outlined in black),
        optional ``axis`` (``(n^2,)`` bool, the fixed points, joined where adjacent) and
        ``title``.
      title: the figure's title.
      axes: one Axes per panel, or None for a new figure (four panels to a row, the
        key below them; with given Axes the key goes below the first).
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    cols = min(len(panels), 4)
    rows = -(-len(panels) // cols)
    fig, flat, owned = _new_or_given(
        axes,
        len(panels),
        "axes",
        nrows=rows,
        ncols=cols,
        figsize=(3.6 * cols, 3.7 * rows),
    )
    for ax in flat[len(panels) :]:
        ax.axis("off")
    for ax, panel in zip(flat, panels, strict=False):
        n = int(panel["n"])
        train = np.asarray(panel["train"]).reshape(n, n)
        test = np.asarray(panel["test"]).reshape(n, n)
        correct = np.asarray(panel["correct"]).reshape(n, n)
        image = np.ones((n, n, 3))
        image[train] = _GRID_COLOURS["train"]
        image[test & correct] = _GRID_COLOURS["correct"]
        image[test & ~correct] = _GRID_COLOURS["wrong"]
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
        ax.set_title(tex_elements(panel.get("title", "")), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=_GRID_COLOURS[k]) for k in ("train", "correct", "wrong")]
    labels = ["train", "test, correct", "test, wrong"]
    handles.append(Line2D([], [], marker="s", ls="", mfc="none", mec="k"))
    labels.append(r"predicted: $\mathrm{Orbit}_H(\mathrm{train}) \setminus \mathrm{train}$")
    handles.append(Line2D([], [], marker="x", ls="-", color="k"))
    labels.append("fixed points (axis)")
    key = {"ncol": 5, "fontsize": 8, "frameon": False, "loc": "upper center"}
    if owned:
        fig.legend(handles, labels, **{**key, "loc": "lower center"})
    else:
        flat[0].legend(handles, labels, bbox_to_anchor=(0.5, -0.02), **key)
    return _finish(fig, owned, path, title)


def measure_curves(
    panels: Sequence[dict],
    *,
    title: str = "",
    axes: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Per-iteration measures beside test accuracy (right axis), one panel per measure.

    Args:
      panels: dicts with ``title``, ``ylabel``, ``series`` (``{label: (T+1,) values}``,
        drawn at iterations 0..len-1), optional ``test_acc`` (``{label: (T,) values}``,
        dashed, right axis, percent), optional ``log`` (log y axis).
      title: the figure's title.
      axes: one Axes per panel, or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    fig, flat, owned = _new_or_given(
        axes,
        len(panels),
        "axes",
        ncols=len(panels),
        figsize=(5.6 * len(panels), 3.9),
        layout="constrained",
    )
    for ax, panel in zip(flat, panels, strict=True):
        series = panel["series"]
        for i, (label, values) in enumerate(series.items()):
            values = np.asarray(values, float)
            ax.plot(
                np.arange(len(values)),
                values,
                **_curve_style(i, len(series), dashes=False),  # dashed: test accuracy
                markevery=_staggered(i, len(series)),
                label=tex_elements(label),
            )
        if panel.get("log"):
            ax.set_yscale("log")
        ax.set_xlabel(r"RFM iteration $t$ (of $M_t$)")
        ax.set_ylabel(tex_elements(panel.get("ylabel", "")))
        ax.grid(alpha=0.3)
        ax.set_title(tex_elements(panel.get("title", "")), fontsize=9)
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
                    alpha=0.8,
                    label=f"test accuracy, {tex_elements(label)} (right axis)",
                )
            twin.set_ylim(-3, 103)
            twin.set_ylabel("test accuracy (%, dashed)")
            more_lines, more_labels = twin.get_legend_handles_labels()
            lines, labels = lines + more_lines, labels + more_labels
        ax.legend(lines, labels, fontsize=7, loc="best", framealpha=0.9)
    return _finish(fig, owned, path, title)


# --- networks beside RFM (grokrfm.network) ---------------------------------------------


def network_curves(
    records: Sequence[dict],
    *,
    title: str = "",
    axes: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Test accuracy (solid) and train accuracy (dashed) against epoch, and the NFA
    correlation against epoch, per task: mean over seeds (line), min–max (band).

    Args:
      records: :func:`grokrfm.network.run_records` records (setting ``"task"``).
      title: the figure's title.
      axes: two Axes (accuracy, NFA correlation), or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    groups: dict = {}
    for r in records:
        groups.setdefault(r["setting"]["task"], []).append(r)
    fig, (acc_ax, nfa_ax), owned = _new_or_given(
        axes, 2, "axes", ncols=2, figsize=(11, 3.9), layout="constrained"
    )
    word = _runs_word(groups.values())
    handles, labels = [], []
    for i, (name, runs) in enumerate(groups.items()):
        style = _curve_style(i, len(groups), dashes=False)
        for metric in ("test_acc", "train_acc"):
            curves = 100 * np.array([_values(r[metric]) for r in runs])
            epochs = np.arange(1, curves.shape[1] + 1)
            acc_ax.fill_between(
                epochs,
                curves.min(0),
                curves.max(0),
                color=style["color"],
                alpha=0.12,
                lw=0,
                zorder=1,
            )
            acc_ax.plot(
                epochs,
                curves.mean(0),
                **_metric_style(style, metric),
                markevery=_staggered(i, len(groups)),
            )
        handles.append(Line2D([], [], **{**style, "lw": 1.5, "ms": 5}))
        labels.append(f"{tex_elements(name)} ({_count(len(runs), word)})")
        for key, ls in (("nfa", "-"), ("nfa_off_diagonal", ":")):
            values = np.array([r[key] for r in runs])
            label = f"{tex_elements(name)}, {'all entries' if key == 'nfa' else 'off-diagonal'}"
            nfa_ax.plot(
                runs[0]["feature_epochs"],
                values.mean(0),
                **{**style, "ls": ls},
                markevery=_staggered(i, len(groups)),
                label=label,
            )
    for metric in ("test_acc", "train_acc"):
        handles.append(Line2D([], [], **_metric_style(_KEY_STYLE, metric)))
        labels.append(_accuracy_label(metric))
    band, text = _band_handle(f"line: mean, band: min–max over {word}s")
    acc_ax.set_xscale("log")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("test (solid) and train (dashed) accuracy (%)")
    acc_ax.set_ylim(-3, 103)
    acc_ax.grid(alpha=0.3)
    acc_ax.legend([*handles, band], [*labels, text], fontsize=7, framealpha=0.9)
    nfa_ax.set_xlabel("epoch")
    nfa_ax.set_ylabel(r"corr$(W_1^\top W_1,\ \mathrm{AGOP}^{1/2})$, mean over " + f"{word}s")
    nfa_ax.grid(alpha=0.3)
    nfa_ax.legend(fontsize=6, framealpha=0.9)
    return _finish(fig, owned, path, title)


def feature_matrices(
    panels: Sequence[dict],
    *,
    ncols: int = 2,
    title: str = "",
    axes: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """A grid of ``(2n, 2n)`` matrices (``title``, ``matrix``), diagonals blanked so the
    off-diagonal structure shows, block lines at n.

    Args:
      panels: dicts with ``title`` and ``matrix``.
      ncols: panels per row of a new figure.
      title: the figure's title.
      axes: one Axes per panel, or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    nrows = -(-len(panels) // ncols)
    fig, flat, owned = _new_or_given(
        axes,
        len(panels),
        "axes",
        nrows=nrows,
        ncols=ncols,
        figsize=(3.6 * ncols, 3.4 * nrows),
    )
    for ax in flat[len(panels) :]:
        ax.axis("off")
    for ax, panel in zip(flat, panels, strict=False):
        M = np.array(panel["matrix"], float)
        np.fill_diagonal(M, np.nan)
        limit = np.nanmax(np.abs(M)) or 1.0
        ax.imshow(M, cmap="RdBu_r", vmin=-limit, vmax=limit)
        _block_lines(ax, M.shape[0] // 2)
        ax.set_title(tex_elements(panel["title"]), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    return _finish(fig, owned, path, title)


def emergence_curves(
    rows: Sequence[dict],
    *,
    title: str = "",
    axes: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Final test accuracy, test loss and AGOP alignment against the training fraction
    (mean over seeds, ± std band), one panel each.

    Args:
      rows: dicts with ``fraction`` and ``<measure>_mean`` / ``<measure>_std`` for
        ``test_acc``, ``test_mse`` and ``alignment``.
      title: the figure's title.
      axes: three Axes (accuracy, MSE, alignment), or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    measures = (
        ("test_acc", "final test accuracy (%)", 100.0),
        ("test_mse", "final test MSE", 1.0),
        ("alignment", r"AGOP alignment $\cos(M, M_\mathrm{ref})$", 1.0),
    )
    fig, flat, owned = _new_or_given(
        axes, 3, "axes", ncols=3, figsize=(14, 3.8), layout="constrained"
    )
    r = np.array([row["fraction"] for row in rows])
    for ax, (key, label, scale) in zip(flat, measures, strict=True):
        mean = scale * _values([row[f"{key}_mean"] for row in rows])
        std = scale * _spreads([row[f"{key}_std"] for row in rows])
        ax.plot(100 * r, mean, marker="o", ms=3)
        ax.fill_between(100 * r, mean - std, mean + std, alpha=0.2, lw=0)
        ax.set_xlabel("training data (%)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    band, text = _band_handle("line: mean, band: ± 1 std over seeds")
    flat[0].legend([band], [text], fontsize=7, loc="best")
    return _finish(fig, owned, path, title)


def accuracy_vs_fraction(
    rows: Sequence[dict],
    *,
    threshold: float | None = None,
    title: str = "",
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Final test accuracy (mean ± std over seeds) against training fraction, one curve
    per ``rows[i]["group"]`` (summary rows of ``experiments.groups_random``); RFM solid,
    and the network dashed where the rows carry ``network_test_acc_mean``.

    Args:
      rows: summary rows with ``group``, ``fraction``, ``test_acc_mean``,
        ``test_acc_std`` (and ``network_...`` alike), optionally ``seeds``.
      threshold: a fraction drawn as a horizontal line (e.g. what counts as grokking).
      title: the panel's title.
      ax: the Axes to draw in, or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    fig, (ax,), owned = _new_or_given(ax, 1, "ax", figsize=(8.4, 4.2))
    names = list(dict.fromkeys(r["group"] for r in rows))
    for i, name in enumerate(names):
        mine = sorted((r for r in rows if r["group"] == name), key=lambda r: r["fraction"])
        x = [r["fraction"] for r in mine]
        seeds = sorted({r["seeds"] for r in mine if r.get("seeds")})
        count = f" ({_count(seeds[0], 'seed')})" if len(seeds) == 1 else ""
        style = _curve_style(i, len(names), dashes=False)
        for prefix, ls, label in (("", "-", "RFM"), ("network_", "--", "network")):
            if f"{prefix}test_acc_mean" not in mine[0]:
                continue
            y = 100 * _values([r[f"{prefix}test_acc_mean"] for r in mine])
            e = 100 * _spreads([r[f"{prefix}test_acc_std"] for r in mine])
            ax.errorbar(
                x,
                y,
                yerr=e,
                capsize=2,
                **{**style, "ls": ls},
                alpha=0.9,
                mfc=style["color"] if prefix == "" else "white",
                label=f"{tex_elements(name)}, {label}{count}",
            )
    if threshold is not None:
        ax.axhline(100 * threshold, color="k", lw=0.8, ls=":", label=f"{100 * threshold:g}%")
    ax.set_xlabel("training fraction")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.legend(
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title="mean ± 1 std over seeds",
        title_fontsize=7,
    )
    if title:
        ax.set_title(tex_elements(title))
    return _finish(fig, owned, path)


def family_accuracy_bars(
    rows: Sequence[dict],
    *,
    title: str = "",
    axes: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Final test accuracy (bar: mean, error bar: ± std over seeds) per partition
    family, one panel per group (summary rows of ``experiments.groups_summary``).

    Args:
      rows: summary rows with ``group``, ``family``, ``test_acc_mean``, ``test_acc_std``.
      title: the figure's title.
      axes: one Axes per group, in order of first appearance, or None for a new figure.
      path: where to write the figure, or None.

    Returns:
      The figure drawn on.
    """
    names = list(dict.fromkeys(r["group"] for r in rows))
    fig, flat, owned = _new_or_given(
        axes, len(names), "axes", ncols=len(names), figsize=(3.2 * len(names), 3.6)
    )
    for ax, name in zip(flat, names, strict=True):
        mine = [r for r in rows if r["group"] == name]
        x = np.arange(len(mine))
        y = 100 * _values([r["test_acc_mean"] for r in mine])
        e = 100 * _spreads([r["test_acc_std"] for r in mine])
        ax.bar(x, y, yerr=e, color=[f"C{i % 10}" for i in x], capsize=2)
        ax.set_xticks(x, [r["family"] for r in mine], rotation=70, fontsize=7)
        ax.set_ylim(0, 103)
        ax.set_title(tex_elements(name), fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    flat[0].set_ylabel("final test accuracy (%)\nbar: mean, error bar: ± 1 std over seeds")
    return _finish(fig, owned, path, title)
