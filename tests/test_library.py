"""The library as a notebook uses it: predictions at any grid point, fitted runs saved
and reloaded (verified), arrays kept by chunked sweeps, progress bars that change no
result, and a loud warning when float64 was never enabled."""

import contextlib
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import grokrfm as gr
from grokrfm import progress, rfm, sweep
from grokrfm.errors import InvalidArgument


@pytest.fixture(scope="module")
def fitted():
    task = gr.make_task("x+y", p=7)
    sym = gr.symmetry_group(task)
    base = gr.degenerate_split(sym, [sym.reflection(0)])
    splits, settings = gr.moved_splits(base, moved=[0, 2], seeds=[0, 1])
    config = gr.RFMConfig(iterations=4, save_every=2)
    result, partitions = gr.run_splits(task, config, splits, bandwidth=2.0)
    return task, config, result, partitions, settings, splits


def accuracy(scores, labels, idx, valid):
    right = (np.argmax(scores[idx], axis=-1) == labels[idx]) & valid
    return right.sum() / max(valid.sum(), 1)


def test_predict_reproduces_each_runs_final_accuracies(fitted):
    task, config, result, partitions, settings, _ = fitted
    scores = np.asarray(gr.predict(task, result, partitions, kernel=config, bandwidth=2.0))
    assert scores.shape == (len(settings), task.n_points, task.n)
    labels = np.asarray(task.labels)
    for b in range(len(settings)):
        part = jax.tree.map(lambda x, b=b: np.asarray(x[b]), partitions)
        train = accuracy(scores[b], labels, part.train_idx, part.train_valid)
        test = accuracy(scores[b], labels, part.test_idx, part.test_valid)
        assert train == pytest.approx(float(result.metrics.train_acc[b, -1]), abs=1e-12)
        assert test == pytest.approx(float(result.metrics.test_acc[b, -1]), abs=1e-12)


def test_predict_at_chosen_points_and_for_one_run(fitted):
    task, config, result, partitions, _, _ = fitted
    grid = np.asarray(gr.predict(task, result, partitions, kernel="gaussian", bandwidth=2.0))
    pairs = np.array([[3, 4], [0, 0], [6, 1]])
    some = gr.predict(task, result, partitions, pairs, kernel=config, bandwidth=2.0)
    np.testing.assert_allclose(some, grid[:, pairs[:, 0] * task.n + pairs[:, 1]], atol=1e-12)
    one = jax.tree.map(lambda x: x[1], (result, partitions))
    single = gr.predict(task, *one, pairs, kernel=config, bandwidth=2.0)
    np.testing.assert_allclose(single, some[1], atol=1e-12)


@pytest.mark.parametrize(
    "pairs", [np.array([[0, 7]]), np.array([0, 1]), np.array([[0.5, 1.0]]), np.array([[-1, 0]])]
)
def test_predict_refuses_points_outside_the_grid(fitted, pairs):
    task, config, result, partitions, _, _ = fitted
    with pytest.raises(InvalidArgument) as err:
        gr.predict(task, result, partitions, pairs)
    assert err.value.argument == "pairs"


def test_saved_runs_reload_identically_and_predict_alike(fitted, tmp_path):
    task, config, result, partitions, settings, _ = fitted
    path = gr.save_runs(tmp_path / "runs.npz", task, config, result, partitions, settings,
                        bandwidth=2.0)  # fmt: skip
    runs = gr.load_runs(path)
    assert runs.config == config and runs.settings == settings
    assert runs.task.name == task.name and runs.task.op == task.op
    np.testing.assert_array_equal(runs.task.labels, task.labels)
    for got, want in zip(jax.tree.leaves(runs.result), jax.tree.leaves(result), strict=True):
        np.testing.assert_array_equal(got, want)
    B = len(settings)
    assert runs.result.M_history.shape == (B, 3, 2 * task.n, 2 * task.n)  # M_0, M_2, M_4
    np.testing.assert_array_equal(runs.bandwidth, [2.0] * B)
    np.testing.assert_array_equal(
        runs.predict(), gr.predict(task, result, partitions, kernel=config, bandwidth=2.0)
    )
    assert runs.header["environment"]["x64"] is True


def test_a_damaged_saved_file_is_refused(fitted, tmp_path):
    task, config, result, partitions, _, _ = fitted
    path = gr.save_runs(tmp_path / "runs.npz", task, config, result, partitions)
    arrays = dict(np.load(path))
    arrays["M"] = arrays["M"] * (1 + 1e-15)  # same names and shapes, other values
    np.savez(path, **arrays)
    with pytest.raises(InvalidArgument, match="does not match its digest") as err:
        gr.load_runs(path)
    assert err.value.argument == "path"
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(InvalidArgument, match="cannot read"):
        gr.load_runs(tmp_path / "junk.npz")


def test_save_runs_refuses_an_unbatched_result(fitted, tmp_path):
    task, config, result, partitions, settings, _ = fitted
    one = jax.tree.map(lambda x: x[0], (result, partitions))
    with pytest.raises(InvalidArgument) as err:
        gr.save_runs(tmp_path / "x.npz", task, config, *one)
    assert err.value.argument == "result"
    with pytest.raises(InvalidArgument) as err:
        gr.save_runs(tmp_path / "x.npz", task, config, result, partitions, settings[:1])
    assert err.value.argument == "settings"


def test_a_chunked_sweep_keeps_every_runs_arrays_and_resumes_with_them(fitted, tmp_path):
    task, config, result, partitions, settings, splits = fitted
    kwargs = dict(chunk_runs=2, bandwidth=2.0, log=None, keep_arrays=True)
    records = sweep.run_chunked(task, config, splits, settings, tmp_path, **kwargs)
    runs = gr.load_runs(tmp_path / "runs.npz")
    assert runs.settings == settings
    np.testing.assert_array_equal(runs.result.M_history, result.M_history)
    np.testing.assert_array_equal(runs.result.alpha, result.alpha)
    assert [r["test_acc"] for r in records] == np.asarray(result.metrics.test_acc).tolist()
    # A rerun loads both chunks; a chunk whose arrays are gone is recomputed, with a warning.
    chunk_arrays = sorted((tmp_path / "chunks").glob("*.npz"))
    assert len(chunk_arrays) == 2
    chunk_arrays[0].unlink()
    warnings = []
    again = sweep.run_chunked(
        task, config, splits, settings, tmp_path, **kwargs | {"warn": warnings.append}
    )
    assert again == records and len(warnings) == 1 and "arrays" in warnings[0]
    np.testing.assert_array_equal(gr.load_runs(tmp_path / "runs.npz").result.M, result.M)


def test_progress_changes_no_result_and_reaches_the_last_iteration(fitted, capsys, monkeypatch):
    task, _, _, partitions, _, _ = fitted
    config = gr.RFMConfig(iterations=5)
    spec = rfm.make_spec(task, partitions)
    opened = []
    real_bar = progress.bar

    @contextlib.contextmanager
    def watched(*args, **kwargs):
        with real_bar(*args, **kwargs) as shown:
            opened.append(shown)
            yield shown

    monkeypatch.setattr(progress, "bar", watched)
    quiet = rfm.run_batch(task, config, spec, progress=False)
    assert opened == [None]  # no bar drawn
    shown = rfm.run_batch(task, config, spec, progress=True, label="test bar")
    for a, b in zip(jax.tree.leaves(quiet), jax.tree.leaves(shown), strict=True):
        np.testing.assert_array_equal(a, b)
    assert opened[1].n == opened[1].total == 5  # every iteration of the call ticked
    assert "test bar" in capsys.readouterr().err


def test_progress_ticks_advance_only_the_open_bar():
    progress.tick(np.array([3, 1]))  # no bar open: ignored
    with progress.bar(10, "t", enabled=True) as shown:
        progress.tick(np.array([2, 0]))  # two runs of a batch: the furthest counts
        progress.tick(np.int32(1))
        assert shown.n == 3
    with progress.bar(10, "t", enabled=False) as shown:
        assert shown is None
    assert progress.wanted(True) and not progress.wanted(False)


FLOAT32_SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import grokrfm as gr
    task = gr.make_task("x+y", p=5)
    sym = gr.symmetry_group(task)
    splits, _ = gr.moved_splits(gr.degenerate_split(sym, [sym.reflection(0)]), [0], [0])
    seen = {}
    for choice in ("none", "float32", "float64"):  # in this order: x64 is never on before
        if choice == "float32":
            gr.configure(x64=False)
        elif choice == "float64":
            gr.configure()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result, _ = gr.run_splits(task, gr.RFMConfig(iterations=1), splits)
        seen[choice] = {"dtype": str(result.M.dtype),
                        "warned": [str(w.message) for w in caught
                                   if issubclass(w.category, gr.Float32Warning)]}
    print(json.dumps(seen))
    """
)


def test_float32_by_accident_warns_and_by_choice_does_not(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    out = subprocess.run(
        [sys.executable, "-c", FLOAT32_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["none"]["dtype"] == "float32" and len(seen["none"]["warned"]) == 1
    assert "grokrfm.configure()" in seen["none"]["warned"][0]
    assert seen["float32"] == {"dtype": "float32", "warned": []}  # chosen: silent
    assert seen["float64"] == {"dtype": "float64", "warned": []}


def test_results_record_the_package_version():
    from grokrfm import results

    assert results.environment()["grokrfm"] == gr.__version__
