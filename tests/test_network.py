"""grokrfm.network: closed forms against autodiff, the scan against a Python loop, vmapped
against single runs, padding never sampled."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from grokrfm import agop, network, partition, symmetry, tasks
from grokrfm.analysis import measure
from grokrfm.errors import InvalidArgument

SMALL = network.NetworkConfig(
    width=16, epochs=4, batch_size=8, measure_every=2, learning_rate=1e-2, dtype="float64"
)


N_TRAIN = 13  # every single-run test uses this capacity, so `train` compiles once


@pytest.fixture(scope="module")
def task():
    return tasks.make_task("x+y", p=5)


@pytest.fixture(scope="module")
def train(task):
    return jax.jit(network.make_train(task, SMALL))


def _params(key, n=5, width=16):
    k1, k2 = jax.random.split(key)
    return network.Params(
        jax.random.normal(k1, (width, 2 * n), jnp.float64),
        jax.random.normal(k2, (n, width), jnp.float64),
    )


def test_input_jacobian_matches_jacfwd(getkey, task):
    params = _params(getkey())
    x = jnp.asarray(task.inputs()[7])
    auto = jax.jacfwd(lambda v: network.apply(params, v))(x)
    np.testing.assert_allclose(network.input_jacobian(params, x), auto, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("centre", [False, True])
def test_agop_matches_jacfwd_over_valid_points(getkey, task, centre):
    params = _params(getkey())
    x = jnp.asarray(task.inputs())
    valid = jax.random.uniform(getkey(), (task.n_points,)) < 0.6
    jac = jax.vmap(jax.jacfwd(lambda v: network.apply(params, v)))(x[valid])  # (N, n, 2n)
    if centre:
        jac = jac - jac.mean(axis=0, keepdims=True)
    expected = jnp.einsum("jci,jck->ik", jac, jac) / jac.shape[0]
    got = network.agop(params, x, valid, centre=centre)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_nfa_correlations_match_numpy(getkey):
    a = jax.random.normal(getkey(), (6, 6), jnp.float64)
    nfm = a @ a.T
    b = jax.random.normal(getkey(), (6, 6), jnp.float64)
    g = b @ b.T
    root = agop.matrix_power(g, 0.5)
    np.testing.assert_allclose(root @ root, g, rtol=1e-10, atol=1e-10)
    off = ~np.eye(6, dtype=bool)
    nfm_, root_, g_ = (np.asarray(m) for m in (nfm, root, g))

    def zero_diagonal(m):
        return (m - np.diag(np.diag(m))).ravel()  # as the predecessor's code: all entries kept

    expected = network.NFACorrelations(
        nfa=np.corrcoef(nfm_.ravel(), root_.ravel())[0, 1],
        nfa_off_diagonal=np.corrcoef(nfm_[off], root_[off])[0, 1],
        nfa_no_diagonal=np.corrcoef(zero_diagonal(nfm_), zero_diagonal(root_))[0, 1],
        nfa_power1=np.corrcoef(nfm_.ravel(), g_.ravel())[0, 1],
        nfa_power1_off_diagonal=np.corrcoef(nfm_[off], g_[off])[0, 1],
        nfa_power1_no_diagonal=np.corrcoef(zero_diagonal(nfm_), zero_diagonal(g_))[0, 1],
    )
    got = network.nfa_correlations(nfm, g)
    for name in network.NFACorrelations._fields:
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=1e-10)
    # Zeroing the diagonal but keeping its entries is not dropping them.
    assert abs(got.nfa_no_diagonal - got.nfa_off_diagonal) > 1e-6


def _reference_train(task, config, key, part, b1=0.9, b2=0.999):
    """The same training written as Python loops (one minibatch at a time), with a
    hand-built ``optax.adamw`` of betas ``(b1, b2)``."""
    x_all = jnp.asarray(task.inputs())
    y_all = jnp.asarray(task.targets())
    capacity = part.train_idx.shape[0]
    steps = -(-capacity // config.batch_size)
    n_valid = int(np.sum(part.train_valid))
    init_key, key = jax.random.split(key)
    params = network.init_params(init_key, task.n, config.width, config.init_scale, jnp.float64)
    opt = optax.adamw(config.learning_rate, b1=b1, b2=b2, weight_decay=config.weight_decay)
    state = opt.init(params)

    def loss(p, x, y):
        return jnp.mean((network.apply(p, x) - y) ** 2)

    @jax.jit
    def update(params, state, x, y):
        grads = jax.grad(loss)(params, x, y)
        with jax.numpy_dtype_promotion("standard"):  # optax: float ** int32 count
            updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    test_acc = []
    for epoch_key in jax.random.split(key, config.epochs):
        score = jnp.where(part.train_valid, jax.random.uniform(epoch_key, (capacity,)), 2.0)
        order = np.asarray(jnp.argsort(score))
        for s in range(steps):
            positions = np.arange(s * config.batch_size, (s + 1) * config.batch_size) % n_valid
            idx = np.asarray(part.train_idx)[order[positions]]
            params, state = update(params, state, x_all[idx], y_all[idx])
        test_idx = np.asarray(part.test_idx)[np.asarray(part.test_valid)]
        pred = network.apply(params, x_all[test_idx]).argmax(-1)
        test_acc.append(float(np.mean(np.asarray(pred) == task.labels[test_idx])))
    return params, np.array(test_acc)


def _partitions(task, seeds, n_train):
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    splits = jax.vmap(lambda k: partition.random_split(k, task.n_points, n_train))(keys)
    return partition.to_partitions(splits)


def test_scan_matches_python_loop_and_features_match_final_params(task, train):
    part = jax.tree.map(lambda x: x[0], _partitions(task, [0], N_TRAIN))
    key = jax.random.PRNGKey(3)
    result = train(key, part)
    params, test_acc = _reference_train(task, SMALL, key, part)
    np.testing.assert_allclose(result.params.w1, params.w1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.params.w2, params.w2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.metrics.test_acc, test_acc)
    f = result.features
    assert f.epoch.tolist() == [0, 2, 4]
    x_train = jnp.asarray(task.inputs())[part.train_idx]
    np.testing.assert_allclose(f.agop[-1], network.agop(params, x_train, part.train_valid))
    np.testing.assert_allclose(f.nfm[-1], params.w1.T @ params.w1, rtol=1e-12)
    corr = network.nfa_correlations(f.nfm[-1], f.agop[-1])
    for name in network.NFACorrelations._fields:
        np.testing.assert_allclose(getattr(f, name)[-1], getattr(corr, name), rtol=1e-12)


def test_adamw_betas_reach_optax(task, train):
    """Betas (0.8, 0.98) train differently from the defaults, and exactly as a hand-built
    ``optax.adamw(b1=0.8, b2=0.98)`` does."""
    part = jax.tree.map(lambda x: x[0], _partitions(task, [0], N_TRAIN))
    key = jax.random.PRNGKey(3)
    config = SMALL._replace(b1=0.8, b2=0.98)
    result = jax.jit(network.make_train(task, config))(key, part)
    default = train(key, part)
    assert not np.allclose(result.params.w1, default.params.w1, rtol=1e-6, atol=0)
    params, _ = _reference_train(task, SMALL, key, part, b1=0.8, b2=0.98)
    np.testing.assert_allclose(result.params.w1, params.w1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.params.w2, params.w2, rtol=1e-9, atol=1e-12)
    # b2 left at its default would miss the reference by far more than 1e-9.
    other, _ = _reference_train(task, SMALL, key, part, b1=0.8, b2=0.999)
    assert not np.allclose(other.w1, params.w1, rtol=1e-9, atol=1e-12)


def test_vmapped_batch_matches_single_runs(task, train):
    parts = _partitions(task, [0, 1], N_TRAIN)
    keys = jnp.stack([jax.random.PRNGKey(10), jax.random.PRNGKey(11)])
    batch = network.train_batch(task, SMALL, keys, parts)
    for b in range(2):
        single = train(keys[b], jax.tree.map(lambda x, b=b: x[b], parts))
        for got, want in zip(jax.tree.leaves(batch), jax.tree.leaves(single), strict=True):
            np.testing.assert_allclose(got[b], want, rtol=1e-9, atol=1e-12)


def test_padding_is_never_sampled(task, train):
    """A partition with its last 4 entries marked as padding trains on its 9 valid
    points only: pointing the padding entries at other grid points changes nothing."""
    part = jax.tree.map(lambda x: x[0], _partitions(task, [2], N_TRAIN))
    valid = jnp.arange(N_TRAIN) < N_TRAIN - 4

    def padded(fill):
        idx = jnp.where(valid, part.train_idx, jnp.asarray(fill, jnp.int32))
        return part._replace(train_idx=idx, train_valid=valid)

    key = jax.random.PRNGKey(0)
    a, b = train(key, padded(0)), train(key, padded(int(part.test_idx[0])))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    full = train(key, part)
    assert not np.allclose(full.params.w1, a.params.w1)  # the padding mask did matter


def test_float32_default_and_config_validation():
    assert network.NetworkConfig().dtype == "float32"
    params = network.init_params(jax.random.PRNGKey(0), 5, 8)
    assert params.w1.dtype == jnp.float32 and params.w1.shape == (8, 10)
    assert float(jnp.max(jnp.abs(params.w1))) <= 1 / np.sqrt(10)  # PyTorch's bound
    with pytest.raises(InvalidArgument, match="measure_every"):
        network.NetworkConfig(epochs=10, measure_every=3).validate()
    with pytest.raises(InvalidArgument, match="width"):
        network.NetworkConfig(width=0).validate()


def test_matrix_measures_of_a_circulant(task):

    sym = symmetry.symmetry_group(task)
    n = task.n
    c = np.arange(n, dtype=float) ** 2
    block = c[(np.arange(n)[None, :] - np.arange(n)[:, None]) % n]  # circulant
    M = np.block([[np.eye(n), block.T], [block, np.eye(n)]])
    (out,) = measure.matrix_measures(sym, M[None])
    assert abs(out["circulant_deviation"]) < 1e-12
    assert len(out["top"]) == 3


def test_config_errors_are_one_line_and_name_the_field():
    cases = {
        "measure_every": dict(epochs=10, measure_every=3),
        "width": dict(width=0),
        "batch_size": dict(batch_size=2.5),
        "learning_rate": dict(learning_rate=float("nan")),
        "weight_decay": dict(weight_decay=-1.0),
        "dtype": dict(dtype="float16"),
        "b1": dict(b1=1.0),
        "b2": dict(b2=-0.1),
    }
    for name, fields in cases.items():
        with pytest.raises(InvalidArgument, match=f"^{name}: ") as info:
            network.NetworkConfig(**fields).validate()
        assert "\n" not in str(info.value)


def test_misuse_fails_clearly(task):
    parts = _partitions(task, [0, 1], N_TRAIN)
    keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(1)])
    with pytest.raises(InvalidArgument, match="^partition: .*rank 1"):
        network.make_train(task, SMALL)(keys[0], parts)  # a batch given to the single run
    with pytest.raises(AssertionError):
        network.train_batch(task, SMALL, keys[0], parts)  # one key for a batch
    with pytest.raises(AssertionError):
        network.train_batch(task, SMALL, keys[:1], parts)  # fewer keys than partitions
    with pytest.raises(AssertionError):
        network.train_batch(task, SMALL, keys, parts._replace(train_valid=parts.train_idx))
    params = _params(jax.random.PRNGKey(0))
    x = jnp.asarray(task.inputs())
    with pytest.raises(AssertionError):
        network.agop(params, x, jnp.ones(task.n_points - 1, bool))  # valid of the wrong length
    with pytest.raises(AssertionError):
        network.agop(params, x[:, :-1], jnp.ones(task.n_points, bool))  # inputs of width 2n-1
    with pytest.raises(AssertionError):
        network.agop(params, x.astype(jnp.float32), jnp.ones(task.n_points, bool))


@pytest.mark.parametrize(
    "module,argv,argument",
    [
        ("network_grokking", ["--p", "0"], "p"),
        ("network_grokking", ["--ops", "x^y"], "ops"),
        ("network_grokking", ["--ops", "x+y", "x+y"], "ops"),
        ("network_grokking", ["--fraction", "1.5"], "fraction"),
        ("network_grokking", ["--seeds", "0"], "seeds"),
        ("network_grokking", ["--epochs", "0"], "epochs"),
        ("network_grokking", ["--epochs", "10", "--measure-every", "3"], "measure_every"),
        ("network_grokking", ["--width", "0"], "width"),
        ("network_grokking", ["--setups", "theirs"], "setups"),
        ("network_grokking", ["--setups", "ours", "ours"], "setups"),
        ("network_trap", ["--p", "1"], "p"),
        ("network_trap", ["--reflection", "9"], "reflection"),
        ("network_trap", ["--points", "0", "400"], "points"),
        ("network_trap", ["--pairs", "-1"], "pairs"),
        ("network_trap", ["--pairs", "1", "1"], "pairs"),
        ("network_trap", ["--seeds", "0"], "seeds"),
        ("network_trap", ["--iters", "0"], "iters"),
        ("network_trap", ["--chunk-runs", "0"], "chunk_runs"),
        ("network_trap", ["--epochs", "0"], "epochs"),
    ],
)
def test_bad_arguments_fail_before_compute(module, argv, argument, capsys, tmp_path):
    import importlib

    main = importlib.import_module(f"experiments.{module}").main
    with pytest.raises(SystemExit) as exit_info:
        main(["--quick", "--p", "7", "--out", str(tmp_path / "x"), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {argument}: ") and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_network_trap_end_to_end(tmp_path):
    """Tiny: networks run m = 0 once per seed, RFM once; every row is summarised and
    compared, the network rows with their accuracy on the fixed points."""
    from experiments import network_trap

    argv = ["--p", "5", "--seeds", "2", "--iters", "2", "--epochs", "2", "--width", "8"]
    moves = ["--points", "0", "2", "--pairs", "1"]
    payload = network_trap.main([*argv, *moves, "--out", str(tmp_path)])
    runs = payload["runs"]

    def key(r):
        return r["setting"]["model"], r["setting"]["move"], r["setting"]["moved"], r["seed"]

    assert [key(r) for r in runs] == [
        ("network", "points", 2, 0),
        ("network", "points", 2, 1),
        ("network", "pairs", 1, 0),
        ("network", "pairs", 1, 1),
        ("network", "none", 0, 0),
        ("network", "none", 0, 1),
        ("rfm", "none", 0, 0),
        ("rfm", "points", 2, 0),
        ("rfm", "points", 2, 1),
        ("rfm", "pairs", 1, 0),
        ("rfm", "pairs", 1, 1),
    ]
    for r in runs:  # the 5 fixed points of s, plus 2 points or 1 pair {x, s x}
        assert r["n_test"] == 5 + 2 * (r["setting"]["moved"] > 0)
    rows = payload["summary"]
    assert [(r["model"], r["move"], r["moved"], r["seeds"]) for r in rows] == [
        ("network", "points", 2, 2),
        ("network", "pairs", 1, 2),
        ("network", "none", 0, 2),
        ("rfm", "none", 0, 1),
        ("rfm", "points", 2, 2),
        ("rfm", "pairs", 1, 2),
    ]
    for row in rows:
        same = [r for r in runs if key(r)[:3] == (row["model"], row["move"], row["moved"])]
        assert row["test_acc_mean"] == pytest.approx(np.mean([r["test_acc"][-1] for r in same]))
        assert ("fixed_point_acc_mean" in row) == (row["model"] == "network")
    papers = [c["paper"] for c in payload["paper_comparison"]]
    assert papers == [None, None, None, 0.0, None, None]
    assert (tmp_path / "trap.png").exists()


def test_network_grokking_setups_resolve_before_compute():
    """Both set-ups by default, at paper size and --quick; --setups picks, --width
    overrides every set-up's width; the shared flags reach every set-up's config."""
    from experiments import network_grokking as ng

    both = [("ours", 1024, 0.9, 0.999), ("predecessor", 256, 0.9, 0.98)]
    for argv in ([], ["--quick"]):
        options = ng.options_from_args(ng.parse_args(argv))
        assert [tuple(s) for s in options.setups] == both
        configs = [options.config_for(s) for s in options.setups]
        assert [(c.width, c.b1, c.b2) for c in configs] == [s[1:] for s in both]
        assert {c._replace(width=0, b1=0, b2=0) for c in configs} == {
            options.config._replace(width=0, b1=0, b2=0)
        }
    argv = ["--setups", "predecessor", "--width", "64", "--lr", "0.01", "--p", "7"]
    options = ng.options_from_args(ng.parse_args(argv))
    assert [tuple(s) for s in options.setups] == [("predecessor", 64, 0.9, 0.98)]
    config = options.config_for(options.setups[0])
    assert (config.width, config.b2, config.learning_rate) == (64, 0.98, 0.01)


def test_network_grokking_records_both_setups(tmp_path):
    """Smallest size: each run, row, comparison and the config name the set-up it used
    (width, betas); the betas change the training; the paper's value sits beside the
    all-entries and the zeroed-diagonal NFA correlations."""
    from experiments import network_grokking as ng

    argv = ["--p", "5", "--seeds", "1", "--epochs", "1", "--batch", "4", "--width", "8"]
    payload = ng.main([*argv, "--ops", "x+y", "--out", str(tmp_path)])
    setups = [
        {"name": "ours", "width": 8, "b1": 0.9, "b2": 0.999},
        {"name": "predecessor", "width": 8, "b1": 0.9, "b2": 0.98},
    ]
    assert payload["config"]["setups"] == setups
    assert "width" not in payload["config"]["network"]
    runs, rows = payload["runs"], payload["summary"]
    assert [r["setup"] for r in runs] == setups
    assert [r["setting"]["setup"] for r in runs] == ["ours", "predecessor"]
    assert runs[0]["train_mse"][-1] != runs[1]["train_mse"][-1]  # betas (0.9, 0.98) reached
    for run, row in zip(runs, rows, strict=True):
        setup = run["setup"]
        assert (row["setup"], row["width"], row["b2"]) == (setup["name"], 8, setup["b2"])
        assert len(run["nfa_no_diagonal"]) == len(run["feature_epochs"]) == 2
        assert row["nfa_no_diagonal_mean"] == run["nfa_no_diagonal"][-1]
        assert row["nfa_paper"] is None  # not at the paper's p = 61
    entries = payload["paper_comparison"]
    assert len(entries) == 6
    assert all(
        "predecessor set-up (width 8, AdamW betas (0.9, 0.98))" in e["setting"] for e in entries[3:]
    )
    entries = ng.comparisons({**rows[1], "nfa_paper": 0.955})
    assert [e["paper"] for e in entries] == [1.0, 0.955, 0.955]
    assert (
        "all entries" in entries[1]["quantity"] and "diagonals set to 0" in entries[2]["quantity"]
    )
    assert entries[1]["measured_mean"] == rows[1]["nfa_mean"]
    assert entries[2]["measured_mean"] == rows[1]["nfa_no_diagonal_mean"]
    assert entries[2]["measured_seeds"] == [runs[1]["nfa_no_diagonal"][-1]]
    assert (tmp_path / "curves.png").exists() and (tmp_path / "matrices.png").exists()
