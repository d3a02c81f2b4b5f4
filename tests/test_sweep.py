"""Chunked, resumable sweeps: chunks against one call, and an interrupted sweep resumed."""

import json

import numpy as np
import pytest

from grokrfm import partition, rfm, sweep, symmetry, tasks
from grokrfm.errors import InvalidArgument

CONFIG = rfm.RFMConfig(iterations=3)


def setup():
    task = tasks.make_task("x+y", p=7)
    sym = symmetry.symmetry_group(task)
    base = partition.degenerate_split(sym, [sym.reflection(0)])
    splits, settings = partition.moved_splits(base, [0, 1, 3], [0, 1, 2])
    return task, splits, settings


def test_chunks_match_one_call(tmp_path):
    task, splits, settings = setup()
    result, parts = sweep.run_splits(task, CONFIG, splits)
    expected = sweep.run_records(settings, result, parts)
    got = sweep.run_chunked(task, CONFIG, splits, settings, tmp_path, chunk_runs=2, log=None)
    assert len(got) == len(expected) == 7
    for a, b in zip(got, expected, strict=True):
        assert a["setting"] == b["setting"] and a["seed"] == b["seed"]
        np.testing.assert_allclose(a["test_acc"], b["test_acc"])
        np.testing.assert_allclose(a["train_mse"], b["train_mse"], rtol=1e-10)
    assert len(list((tmp_path / "chunks").glob("*.json"))) == 4  # 2 + 2 + 2 + 1
    assert not list((tmp_path / "chunks").glob(".*"))  # no temporary files left


def test_interrupted_sweep_resumes_without_recomputing(tmp_path, monkeypatch):
    task, splits, settings = setup()
    calls = []
    real = rfm.run_batch

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(rfm, "run_batch", counting)

    def interrupt_after_two(line):
        if line.startswith("chunk 2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run_chunked(
            task, CONFIG, splits, settings, tmp_path, chunk_runs=2, log=interrupt_after_two
        )
    assert len(calls) == 2 and len(list((tmp_path / "chunks").glob("*.json"))) == 2

    lines = []
    resumed = sweep.run_chunked(
        task, CONFIG, splits, settings, tmp_path, chunk_runs=2, log=lines.append
    )
    assert len(calls) == 4  # only chunks 3 and 4 were computed
    assert ["loaded" in line for line in lines] == [True, True, False, False]
    fresh = sweep.run_chunked(
        task, CONFIG, splits, settings, tmp_path / "again", chunk_runs=2, log=None
    )
    assert json.dumps(resumed) == json.dumps(fresh)

    # Everything saved: a third run computes nothing.
    sweep.run_chunked(task, CONFIG, splits, settings, tmp_path, chunk_runs=2, log=None)
    assert len(calls) == 4 + 4


def test_changed_setting_is_not_served_from_a_stale_chunk(tmp_path):
    task, splits, settings = setup()
    sweep.run_chunked(task, CONFIG, splits, settings, tmp_path, chunk_runs=7, log=None)
    lines = []
    sweep.run_chunked(
        task, CONFIG, splits, settings, tmp_path, chunk_runs=7, bandwidth=1.5, log=lines.append
    )
    assert "done" in lines[0]
    assert len(list((tmp_path / "chunks").glob("*.json"))) == 2


def test_bad_chunking_is_refused(tmp_path):
    task, splits, settings = setup()
    with pytest.raises(InvalidArgument, match="chunk_runs"):
        sweep.run_chunked(task, CONFIG, splits, settings, tmp_path, chunk_runs=0)
    with pytest.raises(InvalidArgument, match="settings"):
        sweep.run_chunked(task, CONFIG, splits, settings[:3], tmp_path)
