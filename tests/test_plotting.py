"""Figures: every public function returns its Figure, draws into given Axes, writes a
file only when asked, leaves the backend and rcParams alone, explains its legends, and
writes group elements in mathtext."""

import ast
import inspect
import io
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no windows from a test run, whatever the developer's default

import matplotlib.mathtext  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from grokrfm import computed_symmetry, plotting, symmetry, tasks  # noqa: E402
from grokrfm.errors import InvalidArgument  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --- tiny synthetic inputs, shaped like the library's records ----------------------------


def sweep_records(moved=(0, 1), seeds=(0, 1, 2), iterations=6, models=("network", "RFM")):
    """:func:`grokrfm.sweep.run_records`-shaped records: every train curve at 100%, so the
    curves of different settings coincide there."""
    records = []
    for model in models:
        for move in ("points", "pairs"):
            for m in moved:
                for s in seeds:
                    rise = 0.0 if move == "pairs" else min(1.0, 0.3 * m + 0.1 * s)
                    records.append(
                        {
                            "setting": {"moved": m, "move": move, "model": model},
                            "seed": s,
                            "train_acc": [1.0] * iterations,
                            "test_acc": list(np.linspace(0.0, rise, iterations)),
                        }
                    )
    return records


def network_records(seeds=(0, 1)):
    return [
        {
            "setting": {"task": task},
            "seed": s,
            "test_acc": list(np.linspace(0.0, 1.0, 8)),
            "train_acc": [1.0] * 8,
            "feature_epochs": [1, 4, 8],
            "nfa": [0.2, 0.5, 0.9],
            "nfa_off_diagonal": [0.1, 0.4, 0.8],
        }
        for task in ("x+y mod 7", "x*y mod 7")
        for s in seeds
    ]


def matrix_panels(pi: bool):
    n = 3
    M = np.arange(4 * n * n, dtype=float).reshape(2 * n, 2 * n) / 10
    perm = np.eye(2 * n)[::-1] if pi else None
    return [{"M": M, "pi": perm, "title": "test = Fix(sr^1)", "pi_title": "Pi(sr^1)"}] * 2


def grid_panels():
    n = 3
    train = np.arange(n * n) % 2 == 0
    return [
        {
            "n": n,
            "train": train,
            "test": ~train,
            "correct": np.arange(n * n) % 3 == 0,
            "predicted": ~train,
            "axis": np.eye(n, dtype=bool).ravel(),
            "title": "M0 from sr^2",
        }
    ] * 2


SUMMARY = [
    {
        "group": g,
        "family": f,
        "fraction": fr,
        "seeds": 3,
        "test_acc_mean": 0.5 + 0.1 * i,
        "test_acc_std": 0.05,
        "network_test_acc_mean": 0.4,
        "network_test_acc_std": 0.1,
    }
    for i, (g, f, fr) in enumerate(
        [("Z7", "random", 0.3), ("Z7", "orbit", 0.5), ("S3", "random", 0.3), ("S3", "orbit", 0.5)]
    )
]

# name -> (call drawing with extra keyword arguments, number of panels, "ax" or "axes")
CASES = {
    "accuracy_curves": (lambda **kw: plotting.accuracy_curves(sweep_records(), "moved", **kw), 2),
    "final_accuracy_vs_moved": (
        lambda **kw: plotting.final_accuracy_vs_moved(
            sweep_records(),
            curve_key="move",
            panel_key="model",
            metrics=("test_acc", "train_acc"),
            **kw,
        ),
        2,
    ),
    "comparison_bars": (
        lambda **kw: plotting.comparison_bars(
            [
                {
                    "setting": "x*y mod 7, sr^3",
                    "quantity": "test accuracy",
                    "paper": p,
                    "measured_mean": 0.9,
                    "measured_std": 0.02,
                    "seeds": 3,
                }
                for p in (0.95, "62-70%", None)
            ],
            **kw,
        ),
        None,
    ),
    "matrices_with_representations": (
        lambda **kw: plotting.matrices_with_representations(matrix_panels(pi=True), **kw),
        4,
    ),
    "matrices_without_representations": (
        lambda **kw: plotting.matrices_with_representations(matrix_panels(pi=False), **kw),
        2,
    ),
    "score_matrix": (
        lambda **kw: plotting.score_matrix(
            np.array([[0.9, 0.1, 0.2], [0.1, 0.8, 0.3]]),
            ["sr^0", "sr^1"],
            ["sr^0", "sr^1", "r^1/r^2"],
            highlight=[0, 1],
            **kw,
        ),
        None,
    ),
    "grid_outcomes": (lambda **kw: plotting.grid_outcomes(grid_panels(), **kw), 2),
    "measure_curves": (
        lambda **kw: plotting.measure_curves(
            [
                {
                    "title": "circulant deviation",
                    "ylabel": "D",
                    "series": {"seed 0": [1.0, 0.5, 0.1], "seed 1": [1.0, 0.4, 0.2]},
                    "test_acc": {"seed 0": [0.1, 0.9], "seed 1": [0.2, 0.8]},
                    "log": True,
                }
            ],
            **kw,
        ),
        1,
    ),
    "network_curves": (lambda **kw: plotting.network_curves(network_records(), **kw), 2),
    "feature_matrices": (
        lambda **kw: plotting.feature_matrices(
            [{"title": f"M {k}", "matrix": np.ones((4, 4)) * k} for k in range(3)], **kw
        ),
        3,
    ),
    "emergence_curves": (
        lambda **kw: plotting.emergence_curves(
            [
                {
                    "fraction": f,
                    **{f"{k}_mean": 0.5 for k in ("test_acc", "test_mse", "alignment")},
                    **{f"{k}_std": 0.1 for k in ("test_acc", "test_mse", "alignment")},
                }
                for f in (0.2, 0.4, 0.6)
            ],
            **kw,
        ),
        3,
    ),
    "accuracy_vs_fraction": (
        lambda **kw: plotting.accuracy_vs_fraction(SUMMARY, threshold=0.9, **kw),
        None,
    ),
    "family_accuracy_bars": (lambda **kw: plotting.family_accuracy_bars(SUMMARY, **kw), 2),
}


def given_axes(panels):
    """Axes of a figure made here: one Axes (``ax=``) when ``panels`` is None."""
    if panels is None:
        fig, ax = plt.subplots()
        return fig, {"ax": ax}, [ax]
    fig, axes = plt.subplots(1, panels, squeeze=False)
    return fig, {"axes": list(axes.flat)}, list(axes.flat)


def test_every_public_drawing_function_has_a_case():
    drawing = {
        name
        for name, f in inspect.getmembers(plotting, inspect.isfunction)
        if f.__module__ == plotting.__name__
        and not name.startswith("_")
        and inspect.signature(f).return_annotation in (Figure, "Figure")
        and name != "save"
    }
    covered = {name.replace("_without_", "_with_") for name in CASES}
    assert drawing == covered


@pytest.mark.parametrize("name", CASES)
def test_returns_its_figure_and_leaves_it_open(name):
    draw, _ = CASES[name]
    fig = draw()
    assert isinstance(fig, Figure)
    assert fig.number in plt.get_fignums()  # no path: nothing is closed
    assert any(ax.has_data() for ax in fig.axes)


@pytest.mark.parametrize("name", CASES)
def test_draws_into_given_axes(name):
    draw, panels = CASES[name]
    fig, kwargs, axes = given_axes(panels)
    assert draw(**kwargs) is fig
    assert all(ax.has_data() for ax in axes)


@pytest.mark.parametrize("name", CASES)
def test_path_writes_the_figure_and_closes_only_its_own(name, tmp_path):
    draw, panels = CASES[name]
    own = draw(path=tmp_path / "own.png")
    assert (tmp_path / "own.png").read_bytes().startswith(b"\x89PNG")
    assert own.number not in plt.get_fignums()  # made here, written, closed
    fig, kwargs, _ = given_axes(panels)
    draw(path=tmp_path / "given.pdf", **kwargs)
    assert (tmp_path / "given.pdf").read_bytes().startswith(b"%PDF")
    assert fig.number in plt.get_fignums()  # the caller's figure stays open
    assert sorted(os.listdir(tmp_path)) == ["given.pdf", "own.png"]  # no temporary left


def test_wrong_number_of_axes_is_refused():
    _, axes = plt.subplots(1, 3)
    with pytest.raises(InvalidArgument, match="axes"):
        plotting.accuracy_curves(sweep_records(), "moved", axes=axes)


def test_axes_of_a_subfigure_return_the_whole_figure(tmp_path):
    fig = plt.figure()
    left, _ = fig.subfigures(1, 2)
    ax = left.subplots()
    out = plotting.score_matrix(np.eye(2), ["r^0", "sr^0"], ["r^0", "sr^0"], ax=ax)
    assert out is fig


# --- the backend and rcParams ------------------------------------------------------------


def test_import_leaves_the_backend_alone():
    code = (
        "import matplotlib\n"
        "import grokrfm.plotting\n"
        "import matplotlib.pyplot as plt\n"
        "fig = grokrfm.plotting.score_matrix([[1.0]], ['r^0'], ['r^0'])\n"
        "print(matplotlib.get_backend())\n"
    )
    env = {**os.environ, "MPLBACKEND": "svg"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().lower() == "svg"


def test_no_global_matplotlib_state_is_changed():
    tree = ast.parse(Path(plotting.__file__).read_text())
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    used |= {
        a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for a in node.names
    }
    global_state = {"use", "rcParams", "rc", "rcdefaults", "style", "switch_backend", "ion"}
    assert not used & global_state
    before = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    for draw, _ in CASES.values():
        draw()
    after = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    assert after == before


# --- what the figures say ---------------------------------------------------------------


def legend_texts(fig: Figure) -> list[str]:
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    return [t.get_text() for legend in legends if legend is not None for t in legend.texts]


def test_accuracy_curves_legend_says_what_counts_and_bands_are():
    fig = plotting.accuracy_curves(sweep_records(models=("RFM",)), "moved")
    texts = legend_texts(fig)
    assert "moved = 1 (6 runs)" in texts  # two moves of three seeds each: not seeds
    fig = plotting.accuracy_curves(
        [r for r in sweep_records(models=("RFM",)) if r["setting"]["move"] == "points"], "moved"
    )
    texts = legend_texts(fig)
    assert "moved = 0 (3 seeds)" in texts and "moved = 1 (3 seeds)" in texts
    assert "line: mean, band: min–max over seeds" in texts
    assert [ax.get_ylabel() for ax in fig.axes] == ["test accuracy (%)", "train accuracy (%)"]


def test_final_accuracy_legend_and_axis_say_test_train_and_band():
    fig = plotting.final_accuracy_vs_moved(
        sweep_records(),
        curve_key="move",
        panel_key="model",
        metrics=("test_acc", "train_acc"),
        curve_names={"points": "random points", "pairs": "reflected pairs"},
    )
    for ax in fig.axes:
        texts = [t.get_text() for t in ax.get_legend().texts]
        assert "random points (3 seeds)" in texts and "reflected pairs (3 seeds)" in texts
        assert "test accuracy" in texts and "train accuracy" in texts
        assert "line: median, band: min–max over seeds" in texts
        assert ax.get_ylabel() == "final test and train accuracy (%)"
    one_seed = sweep_records(seeds=(0,), models=("RFM",))
    test_only = plotting.final_accuracy_vs_moved(one_seed, curve_key="move")
    (ax,) = test_only.axes
    assert ax.get_ylabel() == "final test accuracy (%)"
    assert not any("band" in t for t in legend_texts(test_only))  # one seed: no band


def test_final_accuracy_band_is_the_seeds_range_within_0_to_100():
    """Seeds split 0, 0, 100% (as fig1's Gaussian m = 2 runs do): the band spans exactly
    0-100% and the line is the median, where mean ± std would run from -24% to 91%."""
    records = [
        {
            "setting": {"moved": m, "move": "points"},
            "seed": s,
            "train_acc": [1.0],
            "test_acc": [final],
        }
        for m, finals in ((0, (0.0, 0.0, 0.0)), (2, (0.0, 0.0, 1.0)))
        for s, final in enumerate(finals)
    ]
    fig = plotting.final_accuracy_vs_moved(records, curve_key="move")
    (ax,) = fig.axes
    (band,) = ax.collections
    y = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
    assert y.min() == 0.0 and y.max() == 100.0
    (line,) = [l for l in ax.get_lines() if len(l.get_xdata()) == 2]
    assert list(line.get_ydata()) == [0.0, 0.0]  # the median of 0, 0, 100


def test_network_curves_legend():
    texts = legend_texts(plotting.network_curves(network_records()))
    assert "x+y mod 7 (2 seeds)" in texts
    assert "line: mean, band: min–max over seeds" in texts
    assert "test accuracy" in texts and "train accuracy" in texts


def test_no_axis_says_bare_final_accuracy():
    for draw, _ in CASES.values():
        fig = draw()
        for ax in fig.axes:
            label = ax.get_ylabel()
            assert "final accuracy" not in label
            if "accuracy" in label:
                assert "test" in label or "train" in label, label


def test_coinciding_curves_stay_distinguishable():
    """Every train curve sits at 100%: each has its own marker, the later ones are
    thinner and drawn on top, and accuracy_curves staggers their markers."""
    fig = plotting.final_accuracy_vs_moved(
        sweep_records(), curve_key="move", panel_key="model", metrics=("test_acc", "train_acc")
    )
    network = fig.axes[0]
    train = [line for line in network.get_lines() if line.get_linestyle() == "--"]
    assert len(train) == 2
    assert np.array_equal(train[0].get_ydata(), train[1].get_ydata())  # they coincide
    assert train[0].get_marker() != train[1].get_marker()
    assert train[0].get_linewidth() > train[1].get_linewidth()
    assert train[0].get_zorder() < train[1].get_zorder()
    fig = plotting.accuracy_curves(sweep_records(models=("RFM",)), "moved")
    lines = fig.axes[1].get_lines()
    assert len({(line.get_linestyle(), line.get_marker()) for line in lines}) == len(lines)
    assert len({line.get_markevery() for line in lines}) == len(lines)


# --- group elements in mathtext ---------------------------------------------------------


@pytest.mark.parametrize(
    "name, tex",
    [
        ("sr^13", "$sr^{13}$"),
        ("r^0", "$r^{0}$"),
        ("s", "$s$"),
        ("sr^(1,2)", "$sr^{(1,2)}$"),
        ("r^3/r^10", "$r^{3}/r^{10}$"),
        ("sr^-i", "$sr^{-i}$"),
        ("sr^r^3s", "$sr^{r^{3}s}$"),
        ("r^2s", "$r^{2}s$"),
        ("id", r"$\mathrm{id}$"),
        ("aut1[0,2,1]", r"$\mathrm{aut}1[0,2,1]$"),
        ("<r^6, s>", r"$\langle r^{6}, s\rangle$"),
        ("<s>", r"$\langle s\rangle$"),
    ],
)
def test_element_tex(name, tex):
    assert plotting.element_tex(name) == tex


def test_tex_elements_in_free_text():
    assert plotting.tex_elements("x+y mod 19, sr^3") == "x+y mod 19, $sr^{3}$"
    assert plotting.tex_elements("Fix(sr^(1,2) + r^4)") == "Fix($sr^{(1,2)}$ + $r^{4}$)"
    assert plotting.tex_elements("already $sr^3$, corr^2") == "already $sr^3$, corr^2"


def library_element_names() -> set[str]:
    """Every kind of element name the library writes, from small groups."""
    names = set()
    for group in ("Z5", "Z2xZ3", "D3", "Q8", "S3"):
        task = tasks.group_task(group)
        sym = symmetry.symmetry_group(task)
        names.update(sym.names)
        names.add(symmetry.reflection_label(sym, task.n + sym.identity))
        if tasks.is_abelian(task.group):  # Dih(A) is a group (has classes) for abelian A
            names.update(symmetry.element_classes(sym)[1])
    s3 = tasks.group_task("S3")
    names.update(computed_symmetry.autotopism_group(s3).generator_names)
    names.update(computed_symmetry.label_preserving_group(s3).names)
    return names


def test_every_library_element_name_is_valid_mathtext():
    names = library_element_names()
    assert {"s", "sr^-i", "sr^(1,2)", "sr^r^2s"} <= names
    for name in names:
        tex = plotting.element_tex(name)
        matplotlib.mathtext.math_to_image(tex, io.BytesIO(), format="png")  # raises if invalid
        if "^" in name:
            assert "^{" in tex
