"""The published code's conventions (the preset, the SVD root, partitions in another code's
row order) and tools/published_compare.py's comparison logic (no PyTorch needed: the
"published" side of the end-to-end test is a grokrfm run written in the driver's layout)."""

import importlib.util
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import grokrfm as gr
from grokrfm import agop, partition, rfm, symmetry, tasks
from grokrfm.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location(
    "published_compare", ROOT / "tools" / "published_compare.py"
)
compare_tool = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(compare_tool)


def symmetric_with_negative_eigenvalues(d=9, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    evals = np.concatenate([rng.uniform(0.5, 2.0, d - 3), [-1e-9, -0.3, 1e-3]])
    return (Q * evals) @ Q.T


def test_signed_root_is_the_svd_root_and_clip_is_the_real_root():
    A = symmetric_with_negative_eigenvalues()
    U, s, Vt = np.linalg.svd(A)
    svd_root = U @ np.diag(np.sqrt(s)) @ Vt  # the published quadratic update's form
    np.testing.assert_allclose(
        agop.matrix_power(jnp.asarray(A), 0.5, "signed"), svd_root, atol=1e-12
    )
    evals, Q = np.linalg.eigh(A)
    real_root = (Q * np.sqrt(np.clip(evals, 0, None))) @ Q.T
    np.testing.assert_allclose(
        agop.matrix_power(jnp.asarray(A), 0.5, "clip"), real_root, atol=1e-12
    )
    assert np.max(np.abs(svd_root - real_root)) > 0.1  # they differ where an eigenvalue < 0
    psd = A @ A.T + 1e-2 * np.eye(len(A))  # eigenvalues well above round-off
    np.testing.assert_allclose(
        agop.matrix_power(jnp.asarray(psd), 0.5, "signed"),
        agop.matrix_power(jnp.asarray(psd), 0.5, "clip"),
        atol=1e-12,
    )
    with pytest.raises(InvalidArgument, match="root"):
        rfm.RFMConfig(root="svd").validate()


def test_published_config_is_the_published_codes_conventions():
    gaussian = rfm.published_config("gaussian")
    quadratic = rfm.published_config("quadratic", 50, save_every=5)
    for config in (gaussian, quadratic):
        assert (config.solver, config.distances) == ("lu", "nonnegative")
        assert config.residual_limit == float("inf")
    assert (gaussian.root, gaussian.iterations) == ("clip", rfm.PUBLISHED_ITERATIONS)
    assert (quadratic.root, quadratic.iterations, quadratic.save_every) == ("signed", 50, 5)
    assert rfm.RFMConfig().root == "clip"  # the package default keeps the real root
    with pytest.raises(InvalidArgument, match="iters"):
        rfm.published_config("gaussian", 0)


def degenerate_with_moves(p=11, moved=3, seed=0):
    task = tasks.make_task("x+y", p=p)
    sym = symmetry.symmetry_group(task)
    base = partition.degenerate_split(sym, [sym.reflection(0)])
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(np.asarray(base.train))
    test = np.flatnonzero(np.asarray(base.test))
    out = rng.choice(train, moved, replace=False)
    train = np.setdiff1d(train, out)
    test = np.concatenate([test, out])
    return task, task.pairs[rng.permutation(train)], task.pairs[test]


def test_partition_from_pairs_in_any_order_runs_the_same_split():
    """Grid order is run_splits' layout exactly; another row order changes only round-off,
    which the root lifts to about sqrt(eps) |M| along the AGOP's null directions (the
    centred gradients' constant directions hold round-off-sized eigenvalues)."""
    task, train, test = degenerate_with_moves()
    config = rfm.RFMConfig(iterations=6)
    mask = np.zeros((2, task.n_points), bool)
    mask[0, train[:, 0] * task.n + train[:, 1]] = True
    mask[1, test[:, 0] * task.n + test[:, 1]] = True
    reference, _ = gr.run_splits(task, config, partition.Split(mask[:1], mask[1:]))
    order = np.argsort(train[:, 0] * task.n + train[:, 1])
    for rows, tol in ((train[order], 0.0), (train, 1e-7)):
        part = gr.partition_from_pairs(task.n, rows, test)
        batch = type(part)(*(x[None] for x in part))
        out = rfm.run_batch(task, config, rfm.make_spec(task, batch))
        np.testing.assert_array_equal(out.metrics.test_acc, reference.metrics.test_acc)
        np.testing.assert_array_equal(out.metrics.train_acc, reference.metrics.train_acc)
        scale = np.max(np.abs(reference.M))
        assert np.max(np.abs(out.M - reference.M)) <= tol * scale


@pytest.mark.parametrize(
    "train, test, argument",
    [
        (np.zeros((3, 3), int), np.zeros((1, 2), int), "train_pairs"),
        (np.array([[0, 11]]), np.array([[1, 1]]), "train_pairs"),
        (np.array([[0, 1], [0, 1]]), np.array([[1, 1]]), "train_pairs"),
        (np.array([[0.0, 1.0]]), np.array([[1, 1]]), "train_pairs"),
        (np.array([[0, 1]]), np.array([[0, 1]]), "test_pairs"),
        (np.array([[0, 1]]), np.zeros((0, 2), int), "test_pairs"),
    ],
)
def test_partition_from_pairs_refuses_bad_pairs(train, test, argument):
    with pytest.raises(InvalidArgument, match=argument):
        gr.partition_from_pairs(11, train, test)


def test_case_names_are_unique_and_the_distribution_has_five_draws_per_row():
    names = [c.name for c in compare_tool.SETS["all"]]
    assert len(names) == len(set(names))
    rows = {c._replace(seed=0) for c in compare_tool.DISTRIBUTION}
    assert rows == set(compare_tool.DISTRIBUTION_ROWS)
    assert len(compare_tool.DISTRIBUTION) == 5 * len(rows)
    kinds = {(c.kernel, c.op, c.moved > 0) for c in compare_tool.COMPARISON}
    assert len(kinds) == 2 * 3 * 2  # both kernels, three operations, degenerate and moved


def comparison(same_acc=True, dM=1e-9, first=None, jitter=None):
    return {
        "identical_accuracy": same_acc,
        "first_difference": first,
        "max_dM_relative": dM,
        "dM_relative": [1e-9 * 10**t for t in range(60)],
        "first_jitter": jitter,
        "first_failed_solve": None,
    }


def test_cause_names_the_convention_that_alone_removes_a_difference():
    assert compare_tool.cause({"default": comparison()}).startswith("none")
    runs = {
        "default": comparison(False, 0.5, 12),
        "solver='lu'": comparison(False, 0.4, 12),
        "root='signed'": comparison(True, 1e-8),
        "published": comparison(True, 1e-8),
    }
    assert compare_tool.cause(runs) == "convention: root='signed' alone makes grokrfm match"
    runs["root='signed'"] = comparison(False, 0.3, 20)
    assert compare_tool.cause(runs).startswith("conventions together")
    runs["published"] = comparison(False, 0.3, 5)
    assert compare_tool.cause(runs) == (
        "round-off: identical through iteration 4 under the published preset, no convention"
        " removes the difference; M's gap grows from 1e-09 after the first update to 1e-05"
        " at iteration 4; root='signed' alone moves the first difference from 12 to 20"
    )
    runs["root='signed'"] = comparison(False, 0.3, 9)
    assert "moves the first difference" not in compare_tool.cause(runs)  # 9 is earlier
    runs["M0+1e-13"] = {**comparison(False, 0.3, 7), "first_difference_from_default": 6}
    assert compare_tool.cause(runs).endswith(
        "; grokrfm itself, M0 perturbed by 1e-13, changes accuracy from iteration 6 on"
    )
    runs["default"] = comparison(False, 0.5, 12, jitter=3)
    assert compare_tool.cause(runs).startswith("singular kernel matrix: from iteration 3")


def test_first_difference_between_two_runs():
    a = {"train_correct": [5, 5, 5], "test_correct": [0, 1, 2]}
    assert compare_tool.first_difference(a, a) is None
    assert compare_tool.first_difference(a, {**a, "test_correct": [0, 1, 3]}) == 2
    assert compare_tool.first_difference(a, {**a, "train_correct": [5, 4, 5]}) == 1


def test_compare_counts_and_finds_the_first_differing_iteration():
    published = {"train_correct": [10, 10, 10], "test_correct": [0, 1, 2]}
    M_pub = np.stack([np.eye(2)] * 3)
    M = M_pub.copy()
    M[2, 0, 1] = 1e-3
    solves = {"first_failed_solve": None, "first_jitter": None}
    out = compare_tool.compare(published, M_pub, ([10, 10, 10], [0, 1, 3], M, solves))
    assert (out["identical_accuracy"], out["first_difference"]) == (False, 2)
    assert out["dM_relative"] == [0.0, 0.0, 0.001] and out["final_dM_relative"] == 0.001
    assert compare_tool.counts([0.0, 0.5, 1.0, np.nan], 62) == [0, 31, 62, None]
    missing = compare_tool.compare(published, M_pub, ([10, 10, None], [0, 1, None], M, solves))
    assert missing["first_difference"] == 2  # a failed solve's missing values differ


def test_compare_case_against_a_run_in_the_drivers_layout(tmp_path):
    """End to end without PyTorch: a "published" run made by grokrfm's preset, written as
    the driver writes it, is matched by the defaults at every iteration."""
    task, train, test = degenerate_with_moves(p=7, moved=2)
    case = compare_tool.Case("gaussian", "x+y", 7, 0, 2, 0, iters=5)
    variant = compare_tool.variants(case)["published"]
    train_c, test_c, M, _ = compare_tool.run_grokrfm(task, train, test, variant)
    folder = tmp_path / "published"
    folder.mkdir()
    np.savez_compressed(folder / f"{case.name}.npz", train=train, test=test, M_final=M[-1])
    np.save(folder / f"{case.name}.history.npy", M)
    published = {
        "file": f"published/{case.name}.npz",
        "train_correct": train_c,
        "test_correct": test_c,
    }
    record = compare_tool.compare_case(case, published, tmp_path)
    assert record["cause"].startswith("none"), record["cause"]
    assert record["stabilizer_order"] == 1
    assert set(record["grokrfm"]) == {"default", "published"}
    assert json.loads(json.dumps(record)) == record


def test_fresh_draws_are_new_for_every_count_and_nested_draws_grow():
    task = tasks.make_task("x+y", p=13)
    sym = symmetry.symmetry_group(task)
    base = partition.degenerate_split(sym, [sym.reflection(0)])
    moved_out = {}
    for draw in partition.DRAWS:
        splits, settings = partition.moved_splits(base, [1, 3, 6], [0, 1], draw=draw)
        out = np.asarray(splits.test) & ~np.asarray(base.test)  # the moved points
        moved_out[draw] = out
        assert [int(o.sum()) for o in out] == [1, 1, 3, 3, 6, 6]
        assert all(("draw" in s) == (draw == "fresh") for s in settings)
    nested = moved_out["nested"]
    assert np.all(nested[0] <= nested[2]) and np.all(nested[2] <= nested[4])  # seed 0 grows
    fresh = moved_out["fresh"]
    assert not (np.all(fresh[2] <= fresh[4]) and np.all(fresh[3] <= fresh[5]))
    with pytest.raises(InvalidArgument, match="draw"):
        partition.moved_splits(base, [1], [0], draw="random")


def test_published_conventions_option_plans_the_published_configs_and_fresh_draws():
    from grokrfm import experiment

    rows = [
        experiment.Row("x+y", 11, kernel, ("0",), "points", (0, 2))
        for kernel in ("gaussian", "quadratic")
    ]
    options = experiment.Options(False, None, None, None, 7, [0], 2.5, None, None, "/tmp/x")
    for conventions, draw in (("grokrfm", "nested"), ("published", "fresh")):
        sweeps = experiment.plan(rows, options._replace(conventions=conventions))
        for sw in sweeps:
            assert sw.draw == draw
            expected = experiment.kernel_config(sw.config.kernel, 7, conventions)
            assert sw.config == expected
        if conventions == "published":
            assert [sw.config.root for sw in sweeps] == ["clip", "signed"]
            assert {sw.config.solver for sw in sweeps} == {"lu"}
    with pytest.raises(InvalidArgument, match="conventions"):
        experiment.plan(rows, options._replace(conventions="pytorch"))


def test_published_conventions_take_the_published_iteration_count_unless_given():
    from experiments import dihedral_subgroups, table1
    from grokrfm import cli

    def iterations(module, argv):
        return cli.options_from_args(module.parse_args(argv)).iterations

    assert iterations(dihedral_subgroups, []) == 100
    assert iterations(dihedral_subgroups, ["--conventions", "published"]) == 50
    assert iterations(dihedral_subgroups, ["--conventions", "published", "--iters", "70"]) == 70
    assert iterations(dihedral_subgroups, ["--conventions", "published", "--quick"]) == 20
    assert iterations(table1, ["--conventions", "published"]) == 60
    options = cli.options_from_args(table1.parse_args(["--conventions", "published"]))
    assert options.conventions == "published"


def test_the_checkout_commit_is_read_only_from_a_checkouts_own_repository(tmp_path):
    import subprocess

    assert compare_tool.checkout_commit(tmp_path) is None  # an exported tree
    inside = ROOT / "tools"  # a folder inside another repository is not a checkout
    assert compare_tool.checkout_commit(inside) is None
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True)
    if head.returncode == 0:
        assert compare_tool.checkout_commit(ROOT) == head.stdout.decode().strip()
