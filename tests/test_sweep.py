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


# --- a saved chunk is trusted only if it passes every check ---------------------------


def _sweep_twice(tmp_path, damage):
    """Run a 2-chunk sweep, damage its chunk files, rerun: (first records, rerun records,
    warnings, how many runs the rerun computed)."""
    task, splits, settings = setup()
    first = sweep.run_chunked(task, CONFIG, splits, settings, tmp_path, chunk_runs=4, log=None)
    chunks = sorted((tmp_path / "chunks").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    damage(chunks)
    warnings, computed = [], []
    real = rfm.run_batch

    def counting(*args, **kwargs):
        computed.append(1)
        return real(*args, **kwargs)

    rfm.run_batch = counting
    try:
        again = sweep.run_chunked(
            task, CONFIG, splits, settings, tmp_path, chunk_runs=4, log=None, warn=warnings.append
        )
    finally:
        rfm.run_batch = real
    return first, again, warnings, len(computed)


@pytest.mark.parametrize(
    "damage,reason",
    [
        (lambda c: c[0].write_text(c[0].read_text()[:50]), "unreadable"),
        (lambda c: c[0].write_text('{"records": []}'), "another version"),
        (lambda c: c[1].write_text(c[0].read_text()), "fingerprint"),
        (
            lambda c: c[0].write_text(c[0].read_text().replace('"seed": 1', '"seed": 9', 1)),
            "other settings",
        ),
        (
            lambda c: c[0].write_text(c[0].read_text().replace("0.0", "0.5", 1)),
            "digest",
        ),
    ],
    ids=["truncated", "emptied", "copied_over_another", "wrong_setting", "edited"],
)
def test_a_damaged_chunk_is_recomputed_with_one_warning(tmp_path, damage, reason):
    first, again, warnings, computed = _sweep_twice(tmp_path, damage)
    assert again == first  # nothing lost, nothing duplicated
    assert computed == 1 and len(warnings) == 1 and reason in warnings[0]
    assert warnings[0].startswith("warning: chunk ") and "\n" not in warnings[0]


def test_chunks_of_other_code_are_not_reused_and_are_removed(tmp_path, monkeypatch):
    task, splits, settings = setup()
    sweep.run_chunked(task, CONFIG, splits, settings, tmp_path, chunk_runs=4, log=None)
    assert len(list((tmp_path / "chunks").glob("*.json"))) == 2
    # The same sweep after a change to the library's code: nothing is reused.
    monkeypatch.setattr(sweep, "library_fingerprint", lambda: "changed-code")
    lines = []
    sweep.run_chunked(task, CONFIG, splits, settings, tmp_path, chunk_runs=4, log=lines.append)
    assert not any("loaded" in line for line in lines)
    assert any("removed 2 chunk files" in line for line in lines)
    assert len(list((tmp_path / "chunks").glob("*.json"))) == 2
