"""The RFM engine against an independent Python loop, batches against single runs, and
the paper's central observation at p = 31."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokrfm import agop, kernels, partition, rfm, sweep, symmetry, tasks
from grokrfm.errors import InvalidArgument


def relerr(a, b):
    """Frobenius-relative error. At ridge 0 the solve is ill-conditioned and
    M = AGOP^(1/2) amplifies round-off in its smallest eigenvalues, so two correct
    implementations that sum in different orders drift apart by ~1e-9 within a few
    iterations; runs are compared in norm, not entry by entry."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def reference_loop(
    task,
    split,
    kernel,
    iterations,
    bandwidth=2.5,
    ridge=0.0,
    power=0.5,
    distances="tolerance",
    average=None,
):
    """RFM written plainly: dense inputs, numpy solve (LU), jacfwd AGOP, numpy eigh;
    ``average``: coordinate permutations to average M over after each update."""
    X, Y, labels = task.inputs(), task.targets(), task.labels
    tr = np.nonzero(np.asarray(split.train))[0]
    te = np.nonzero(np.asarray(split.test))[0]
    M = np.eye(2 * task.n)
    curves = {"train_acc": [], "test_acc": [], "train_mse": [], "test_mse": []}

    def gram(A, B, M):
        inner = kernels.dense_inner(jnp.asarray(A), jnp.asarray(B), jnp.asarray(M))
        return np.asarray(kernels.KERNELS[kernel].parts(inner, bandwidth, distances).K)

    for _ in range(iterations):
        K_tr = gram(X[tr], X[tr], M)
        alpha = np.linalg.solve(K_tr + ridge * np.eye(tr.size), Y[tr])
        K_te = gram(X[te], X[tr], M)
        for name, pred, idx in (("train", K_tr @ alpha, tr), ("test", K_te @ alpha, te)):
            curves[f"{name}_acc"].append(np.mean(pred.argmax(1) == labels[idx]))
            curves[f"{name}_mse"].append(np.mean((pred - Y[idx]) ** 2))
        G = np.asarray(
            agop.agop_autodiff(
                kernels.KERNELS[kernel].pointwise, jnp.asarray(X[tr]), alpha, M, bandwidth
            )
        )
        w, V = np.linalg.eigh((G + G.T) / 2)
        M = (V * np.clip(w, 0, None) ** power) @ V.T
        if average is not None:
            M = np.mean([M[np.ix_(perm, perm)] for perm in average], axis=0)
    return curves, M


def random_partition(task, key, fraction):
    n_train = partition.train_count(task.n_points, fraction)
    split = partition.random_split(key, task.n_points, n_train)
    return split, partition.to_partition(split, *partition.capacities(split))


@pytest.mark.parametrize("kernel", kernels.KERNELS)
def test_scan_matches_python_loop(kernel, getkey):
    task = tasks.make_task("x+y", p=7)
    split, part = random_partition(task, getkey(), 0.6)
    ridge = 1e-3 if kernel == "quadratic" else 0.0  # keeps the reference solve well posed
    config = rfm.RFMConfig(kernel=kernel, iterations=5)
    result = rfm.run_single(task, config, rfm.make_spec(task, part, ridge=ridge))
    curves, M = reference_loop(task, split, kernel, 5, ridge=ridge)
    m = result.metrics
    np.testing.assert_array_equal(m.train_acc, curves["train_acc"])
    np.testing.assert_array_equal(m.test_acc, curves["test_acc"])
    np.testing.assert_allclose(m.train_mse, curves["train_mse"], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(m.test_mse, curves["test_mse"], rtol=1e-7)
    assert relerr(result.M, M) < 1e-7
    assert bool(m.solve_ok.all())


@pytest.mark.parametrize("method", ["dense", "autodiff"])
def test_agop_methods_agree_inside_the_engine(method, getkey):
    task = tasks.make_task("x*y", p=7)
    _, part = random_partition(task, getkey(), 0.5)
    spec = rfm.make_spec(task, part)
    fast = rfm.run_single(task, rfm.RFMConfig(iterations=4), spec)
    other = rfm.run_single(task, rfm.RFMConfig(iterations=4, agop=method), spec)
    assert relerr(other.M, fast.M) < 1e-7
    np.testing.assert_array_equal(other.metrics.test_acc, fast.metrics.test_acc)


def test_custom_kernel_function_matches_builtin(getkey):
    task = tasks.make_task("x-y", p=5)
    _, part = random_partition(task, getkey(), 0.5)
    spec = rfm.make_spec(task, part)
    config = rfm.RFMConfig(iterations=3)
    builtin = rfm.run_single(task, config, spec)
    custom = jax.jit(rfm.make_rfm(task, config, kernel_fn=kernels.gaussian))(spec)
    assert relerr(custom.M, builtin.M) < 1e-7


def test_batch_equals_single_runs(getkey):
    task = tasks.make_task("x+y", p=11)
    sym = symmetry.symmetry_group(task)
    base = partition.degenerate_split(sym, [sym.reflection(0)])
    splits, settings = partition.moved_splits(base, [0, 3, 20], [0, 1])
    parts = partition.to_partitions(splits)
    spec = rfm.make_spec(task, parts, bandwidth=jnp.array([2.5, 2.0, 2.5, 3.0, 2.5]))
    config = rfm.RFMConfig(iterations=6)
    batch = rfm.run_batch(task, config, spec)
    assert len(settings) == 5 and batch.M.shape == (5, 22, 22)
    for b in range(5):
        one = rfm.run_single(task, config, jax.tree.map(lambda x, b=b: x[b], spec))
        assert relerr(batch.M[b], one.M) < 1e-7
        np.testing.assert_array_equal(batch.metrics.test_acc[b], one.metrics.test_acc)
        assert relerr(batch.alpha[b], one.alpha) < 1e-6


def test_padding_to_a_larger_capacity_changes_nothing(getkey):
    task = tasks.make_task("x+y", p=7)
    split, part = random_partition(task, getkey(), 0.5)
    padded = partition.to_partition(split, 40, 30)
    config = rfm.RFMConfig(iterations=4)
    a = rfm.run_single(task, config, rfm.make_spec(task, part))
    b = rfm.run_single(task, config, rfm.make_spec(task, padded))
    assert relerr(a.M, b.M) < 1e-7
    np.testing.assert_array_equal(a.metrics.test_acc, b.metrics.test_acc)
    np.testing.assert_allclose(a.metrics.test_mse, b.metrics.test_mse, rtol=1e-10)


@pytest.mark.parametrize("iterations,every", [(5, 2), (4, 2), (3, 5)])
def test_history_records_M_every_k_iterations(iterations, every, getkey):
    task = tasks.make_task("x+y", p=5)
    _, part = random_partition(task, getkey(), 0.6)
    spec = rfm.make_spec(task, part)
    result = rfm.run_single(task, rfm.RFMConfig(iterations=iterations, save_every=every), spec)
    steps = list(range(0, iterations + 1, every))
    assert result.M_history.shape[0] == len(steps)
    for i, t in enumerate(steps):
        expected = spec.M0 if t == 0 else rfm.run_single(task, rfm.RFMConfig(iterations=t), spec).M
        assert relerr(result.M_history[i], expected) < 1e-7
    plain = rfm.run_single(task, rfm.RFMConfig(iterations=iterations), spec)
    assert relerr(result.M, plain.M) < 1e-7
    np.testing.assert_array_equal(result.metrics.test_acc, plain.metrics.test_acc)
    before_last = rfm.run_single(task, rfm.RFMConfig(iterations=iterations - 1), spec).M
    assert relerr(result.alpha_M, before_last) < 1e-7


def test_symmetry_trap_and_its_breaking_at_p31():
    """docs/science.md R2 (arXiv 2604.00316, Table 1) at p = 31: holding out the fixed points of s
    gives 0% test accuracy at 100% train; moving one random training point breaks the symmetry."""
    task = tasks.make_task("x+y", p=31)
    sym = symmetry.symmetry_group(task)
    base = partition.degenerate_split(sym, [sym.reflection(0)])
    splits, settings = partition.moved_splits(base, [0, 1], [0, 1, 2])
    result, _ = sweep.run_splits(task, rfm.RFMConfig(iterations=20), splits)
    m = jax.tree.map(np.asarray, result.metrics)
    moved = np.array([s["moved"] for s in settings])
    assert m.solve_ok.all()
    assert (m.train_acc[:, -1] == 1.0).all()
    assert (m.test_acc[moved == 0] == 0.0).all()  # at every iteration
    broken = m.test_acc[moved == 1, -1]
    assert (broken >= 0.8).sum() >= 2, broken


@pytest.mark.parametrize("kernel", kernels.KERNELS)
def test_lapack_and_reference_solvers_give_the_same_run(kernel, getkey):
    """The default solver (LAPACK on the buffers as they are) against the reference
    (jax.lax.linalg.cholesky + cho_solve): a batch of runs identical to the last bit."""
    task = tasks.make_task("x+y", p=7)
    splits = [random_partition(task, getkey(), 0.5)[0] for _ in range(2)]
    spec = rfm.make_spec(task, partition.to_partitions(partition.stack(splits)))
    runs = {
        solver: rfm.run_batch(task, rfm.RFMConfig(kernel=kernel, iterations=4, solver=solver), spec)
        for solver in ("lapack", "reference")
    }
    leaves = [jax.tree.leaves(runs[s]) for s in ("lapack", "reference")]
    for got, ref in zip(*leaves, strict=True):
        np.testing.assert_array_equal(got, ref)


def test_bad_configuration_is_rejected_before_compute():
    task = tasks.make_task("x+y", p=5)
    for config, argument in (
        (rfm.RFMConfig(kernel="cauchy"), "kernel"),
        (rfm.RFMConfig(iterations=0), "iters"),
        (rfm.RFMConfig(agop="magic"), "agop"),
        (rfm.RFMConfig(save_every=-1), "save_every"),
        (rfm.RFMConfig(solver="qr"), "solver"),
        (rfm.RFMConfig(distances="clamped"), "distances"),
        (rfm.RFMConfig(residual_limit=0.0), "residual_limit"),
    ):
        with pytest.raises(InvalidArgument) as err:
            rfm.make_rfm(task, config)
        assert err.value.argument == argument
    split = partition.Split(jnp.arange(25) < 10, jnp.arange(25) >= 10)
    part = partition.to_partition(split, 10, 15)
    for kwargs, argument in (
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"ridge": -1.0}, "ridge"),
        ({"power": float("nan")}, "power"),
        ({"M0": jnp.eye(4)}, "M0"),
    ):
        with pytest.raises(InvalidArgument) as err:
            rfm.make_spec(task, part, **kwargs)
        assert err.value.argument == argument


def test_a_misshapen_spec_fails_before_tracing_the_run():
    task = tasks.make_task("x+y", p=5)
    run = rfm.make_rfm(task, rfm.RFMConfig(iterations=2))
    split = partition.random_split(jax.random.PRNGKey(0), task.n_points, 12)
    spec = rfm.make_spec(task, partition.to_partitions(partition.stack([split])))
    one = jax.tree.map(lambda x: x[0], spec)
    run(one)  # the well-formed spec runs
    with pytest.raises(AssertionError):
        run(one._replace(M0=jnp.eye(8)))  # M0 of another task
    with pytest.raises(AssertionError):
        run(one._replace(partition=one.partition._replace(train_valid=one.partition.train_idx)))


def test_paper_solve_matches_python_loop(getkey):
    """The published code's solve (LU, distances clamped only below zero) inside the scan
    against the plain loop with the same conventions."""
    task = tasks.make_task("x+y", p=7)
    split, part = random_partition(task, getkey(), 0.5)
    config = rfm.RFMConfig(kernel="gaussian", iterations=4, **rfm.PAPER_SOLVE)
    result = rfm.make_rfm(task, config)(rfm.make_spec(task, part))
    curves, M = reference_loop(task, split, "gaussian", 4, distances="nonnegative")
    assert relerr(result.M, M) < 1e-7
    for name, values in curves.items():
        np.testing.assert_allclose(getattr(result.metrics, name), values, atol=1e-9)


def test_lu_solves_where_cholesky_breaks_down():
    """x+y mod 13 with M0 nearly annihilating the differences of Fix(s)'s points: at ridge
    0 the kernel matrix is numerically indefinite, Cholesky fails, LU solves."""
    task = tasks.make_task("x+y", p=13)
    sym = symmetry.symmetry_group(task)
    base = partition.degenerate_split(sym, [sym.reflection(0)])
    M_k = rfm.run_batch(
        task,
        rfm.RFMConfig(iterations=20),
        rfm.make_spec(task, partition.to_partitions(partition.stack([base]))),
    ).M
    splits = partition.fraction_splits(task.n_points, 0.5, np.arange(6))
    spec = rfm.make_spec(task, partition.to_partitions(splits), M0=M_k[0])
    ok = {}
    for name, fields in {
        "cholesky": {},
        "lu": {"solver": "lu", "residual_limit": float("inf")},
    }.items():
        out = rfm.run_batch(task, rfm.RFMConfig(iterations=1, **fields), spec)
        ok[name] = np.asarray(out.metrics.solve_ok[:, 0])
        finite = np.isfinite(np.asarray(out.alpha)).all(axis=(1, 2))
        assert (finite == ok[name]).all() or name == "cholesky"
    assert not ok["cholesky"].all(), "expected Cholesky to break down on some splits"
    assert ok["lu"].all()


def test_residual_limit_decides_what_counts_as_solved(getkey):
    """A solve that leaves a residual above the limit is a failure (its accuracies NaN);
    with an infinite limit only non-finite coefficients are."""
    task = tasks.make_task("x+y", p=7)
    split, part = random_partition(task, getkey(), 0.5)
    spec = rfm.make_spec(task, part)
    strict = rfm.make_rfm(task, rfm.RFMConfig(iterations=3, residual_limit=1e-300))(spec)
    loose = rfm.make_rfm(task, rfm.RFMConfig(iterations=3, residual_limit=float("inf")))(spec)
    plain = rfm.make_rfm(task, rfm.RFMConfig(iterations=3))(spec)
    assert not np.asarray(strict.metrics.solve_ok).any()
    assert np.isnan(np.asarray(strict.metrics.test_acc)).all()
    assert np.asarray(loose.metrics.solve_ok).all() and np.asarray(plain.metrics.solve_ok).all()
    np.testing.assert_array_equal(loose.metrics.test_acc, plain.metrics.test_acc)
    assert (np.asarray(plain.metrics.residual) > 0).all()


def _symmetric_trap(p=8):
    task = tasks.make_task("x+y", p=p)
    sym = symmetry.symmetry_group(task)
    refl, _ = symmetry.subgroup_reflections(task, [p // 2])
    base = partition.degenerate_split(sym, symmetry.reflections(sym, refl))
    return task, sym, partition.stack([base, base])


def test_stabiliser_average_matches_python_loop():
    """The exact-symmetry control inside the scan against the plain loop that averages
    M over the same permutations after each update."""
    task, sym, splits = _symmetric_trap()
    average, orders = sweep.stabilizer_averages(sym, splits)
    assert (orders == 8).all()  # <r^4, s> and what else keeps Fix of its reflections
    spec = rfm.make_spec(task, partition.to_partitions(splits), average=average)
    result = rfm.run_batch(task, rfm.RFMConfig(iterations=4), spec)
    split0 = jax.tree.map(lambda x: x[0], splits)
    perms = average.perms[0][average.weights[0] > 0]
    curves, M = reference_loop(task, split0, "gaussian", 4, average=perms)
    assert relerr(result.M[0], M) < 1e-7
    np.testing.assert_allclose(result.metrics.test_acc[0], curves["test_acc"], atol=1e-12)


def test_stabiliser_average_is_the_projection_onto_invariant_matrices(getkey):
    task, sym, splits = _symmetric_trap()
    average, _ = sweep.stabilizer_averages(sym, splits)
    one = rfm.SymmetryAverage(jnp.asarray(average.perms[0]), jnp.asarray(average.weights[0]))
    A = jax.random.normal(getkey(), (2 * task.n, 2 * task.n))
    P = rfm.average_over(A, one)
    np.testing.assert_allclose(rfm.average_over(P, one), P, atol=1e-14)  # idempotent
    for perm in np.asarray(one.perms):  # invariant under every element
        np.testing.assert_allclose(P[np.ix_(perm, perm)], P, atol=1e-14)
    assert float(jnp.abs(P - A).max()) > 0.1  # it did something


def test_stabiliser_average_keeps_the_symmetry_exactly_and_changes_only_round_off():
    """On a symmetric partition the plain run's M drifts off the stabiliser's symmetry by
    round-off; the controlled run stays on it, and the two differ by that round-off."""
    task, sym, splits = _symmetric_trap(16)
    average, _ = sweep.stabilizer_averages(sym, splits)
    parts = partition.to_partitions(splits)
    config = rfm.RFMConfig(iterations=30)
    plain = rfm.run_batch(task, config, rfm.make_spec(task, parts))
    kept = rfm.run_batch(task, config, rfm.make_spec(task, parts, average=average))
    one = rfm.SymmetryAverage(jnp.asarray(average.perms[0]), jnp.asarray(average.weights[0]))

    def asymmetry(M):
        return float(jnp.abs(rfm.average_over(M, one) - M).max() / jnp.abs(M).max())

    assert asymmetry(kept.M[0]) < 1e-14
    assert asymmetry(plain.M[0]) > 100 * asymmetry(kept.M[0])
    assert relerr(plain.M[0], kept.M[0]) < 1e-4


def test_a_malformed_average_is_refused():
    task, sym, splits = _symmetric_trap()
    average, _ = sweep.stabilizer_averages(sym, splits)
    parts = partition.to_partitions(splits)
    for bad in (
        rfm.SymmetryAverage(average.perms[:1], average.weights[:1]),
        rfm.SymmetryAverage(average.perms + 100, average.weights),
        rfm.SymmetryAverage(average.perms, 2 * average.weights),
    ):
        with pytest.raises(InvalidArgument) as err:
            rfm.make_spec(task, parts, average=bad)
        assert err.value.argument == "average"
