"""Recursive Feature Machines: kernel solve and AGOP update composed into one ``lax.scan``.

``make_rfm(task, config)`` returns a pure ``run(spec) -> RFMResult`` for one run; a batch of runs
(seeds x settings) is ``jax.jit(jax.vmap(run))`` over a batched :class:`RunSpec`, and
:func:`run_batch` does exactly that with a compile cache. A single run is a batch of one.
Conventions are docs/science.md §3 (arXiv 2604.00316, §2.1): M0 = I, exact solve, AGOP at the
training points with centred gradients, ``M <- AGOP^(1/2)``; iteration t reports the predictor built
with M_t, before the update, so iteration 0 is the plain kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import chex
import einops
import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import agop as agop_
from grokrfm import distribute, memory, runtime
from grokrfm import kernels as kernels_
from grokrfm import progress as progress_
from grokrfm.errors import InvalidArgument
from grokrfm.partition import Partition
from grokrfm.solve import check_solver, solve
from grokrfm.tasks import Task

AGOP_METHODS = ("pairs", "dense", "autodiff")

# The largest relative residual |(K + lambda I) alpha - Y| / |Y| of a solve that counts as
# successful, per dtype. An ordinary run solves to about 1e-13 in float64 and 1e-4 in
# float32; a near-singular kernel (e.g. from a feature matrix learned on a symmetric
# partition, at ridge 0) can give finite coefficients that interpolate nothing. From
# the first failed iteration on, a run's accuracies and MSEs are recorded as missing.
RESIDUAL_LIMIT = {"float64": 1e-5, "float32": 1e-2}


class RFMConfig(NamedTuple):
    """Static choices of a run (closed over, never traced).

    Attributes:
      kernel: a key of :data:`grokrfm.kernels.KERNELS`.
      iterations: T, the number of reported iterations (and AGOP updates).
      centre: centre gradients over training points before the outer product.
      normalize: divide M by its largest absolute entry after each update (the
        convention of some other RFM codebases; off in the paper's).
      agop: ``"pairs"`` (closed form exploiting one-hot pairs; fastest), ``"dense"``
        (closed form on dense inputs) or ``"autodiff"`` (``jacfwd``; any kernel).
      save_every: record M every k iterations in ``M_history`` (0: do not record).
      solve_retries: jittered retries after a failed Cholesky factorisation (see
        :mod:`grokrfm.solve`); None picks the policy by dtype: 0 in float64 (failures
        are reported, never masked), 3 in float32.
      solver: ``"lapack"`` (Cholesky by LAPACK on the buffers as they are, on CPU),
        ``"reference"`` (the same Cholesky solve by the generic XLA path) or ``"lu"``
        (the general solve, which needs no positive definiteness); see
        :mod:`grokrfm.solve`.
      residual_limit: the largest relative residual a solve may leave and count as
        solved; None: :data:`RESIDUAL_LIMIT` for the dtype. ``float("inf")`` counts
        every solve with finite coefficients, as the paper's published code does (it
        checks nothing): a run then goes on from a solve that may not interpolate, and
        its ``residual`` curve says how far off it was.
      distances: how squared distances' round-off near zero is treated (a key of
        :data:`grokrfm.kernels.DISTANCES`): ``"tolerance"`` zeroes values within a few
        ulps, ``"nonnegative"`` only negative ones.
      root: how the update's power of the AGOP treats the AGOP's eigenvalues below zero
        (round-off of a PSD matrix; one of :data:`grokrfm.agop.ROOTS`): ``"clip"`` sets
        them to 0 (as a real matrix square root does; the published code's Gaussian
        update), ``"signed"`` keeps their sign, ``sign(l) |l|^power`` (what the published
        code's quadratic update computes by an SVD, ``U S^power V^T``).

    The paper's published code solves by LU at ridge 0 with distances clamped only
    below zero, checks no residual and takes the quadratic kernel's root by SVD:
    :func:`published_config` builds that config (:data:`PAPER_SOLVE` holds its solve).
    This package's default is Cholesky with the tolerance and the clipped root; the two
    agree wherever Cholesky succeeds except for points closer than a few ulps and
    round-off-sized negative eigenvalues.
    """

    kernel: str = "gaussian"
    iterations: int = 60
    centre: bool = True
    normalize: bool = False
    agop: str = "pairs"
    save_every: int = 0
    solve_retries: int | None = None
    solver: str = "lapack"
    distances: str = "tolerance"
    residual_limit: float | None = None
    root: str = "clip"

    def validate(self) -> RFMConfig:
        kernels_.get_kernel(self.kernel)
        if int(self.iterations) < 1:
            raise InvalidArgument("iters", f"need at least one iteration, got {self.iterations}")
        if self.agop not in AGOP_METHODS:
            raise InvalidArgument(
                "agop", f"unknown method {self.agop!r}; choose from {AGOP_METHODS}"
            )
        if int(self.save_every) < 0:
            raise InvalidArgument("save_every", f"must be >= 0, got {self.save_every}")
        check_solver(self.solver)
        kernels_.check_distances(self.distances)
        agop_.check_root(self.root)
        if self.residual_limit is not None and not float(self.residual_limit) > 0:
            raise InvalidArgument(
                "residual_limit", f"must be > 0 (or None), got {self.residual_limit}"
            )
        if self.solve_retries is not None and int(self.solve_retries) < 0:
            raise InvalidArgument("solve_retries", f"must be >= 0, got {self.solve_retries}")
        return self


# The solve of the paper's published code, as :class:`RFMConfig` fields.
PAPER_SOLVE = {"solver": "lu", "distances": "nonnegative"}

# Iterations the published code's notebook runs: 50 for the dihedral-subgroup partitions
# (arXiv 2604.00316, App. D.3), 60 everywhere else.
PUBLISHED_ITERATIONS = 60


def published_config(kernel: str = "gaussian", iterations: int = PUBLISHED_ITERATIONS, **fields):
    """The conventions of the paper's published code, as an :class:`RFMConfig`.

    LU at ridge 0 (:data:`PAPER_SOLVE`), squared distances clamped only below zero, every
    solve with finite coefficients kept (no residual check), and the update's root as its
    kernels take it: the real square root for the Gaussian (and Laplace), the SVD's
    sign-keeping root for the quadratic kernel. ``fields`` override any of these (e.g.
    ``save_every``). Beside :class:`RFMConfig`'s defaults in docs/library.md.
    """
    root = "signed" if kernel == "quadratic" else "clip"
    preset = dict(PAPER_SOLVE, residual_limit=float("inf"), root=root)
    return RFMConfig(kernel=kernel, iterations=iterations, **{**preset, **fields}).validate()


class SymmetryAverage(NamedTuple):
    """A finite group of input-coordinate permutations to average M over, padded.

    After each update M is replaced by ``sum_g weights[g] * M[perms[g]][:, perms[g]]``;
    with the weights ``1/|H|`` on the elements of a group H (and 0 on padding rows) this
    is the orthogonal projection of M onto the H-invariant matrices, ``P_g M P_g^T = M``
    for every g in H. It removes the round-off that breaks an exact symmetry of the
    training set: an exact-symmetry control (see :func:`grokrfm.sweep.stabilizer_averages`).

    Attributes:
      perms: ``(G, 2n)`` int; row g sends coordinate i to ``perms[g, i]``.
      weights: ``(G,)`` floats summing to 1 (0 on padding rows).
    """

    perms: jax.Array
    weights: jax.Array


def average_over(M: jax.Array, average: SymmetryAverage) -> jax.Array:
    """``sum_g w_g M[perm_g][:, perm_g]`` for ``M (d, d)`` (see :class:`SymmetryAverage`)."""
    moved = jax.vmap(lambda perm: M[perm][:, perm])(average.perms)
    return jnp.einsum("g,gij->ij", average.weights.astype(M.dtype), moved)


class RunSpec(NamedTuple):
    """Per-run inputs; every field may carry a leading batch axis.

    Attributes:
      partition: padded train/test indices.
      bandwidth: scalar L (ignored by the quadratic kernel).
      ridge: scalar lambda >= 0.
      power: scalar exponent of the AGOP in the update (1/2 in the paper).
      M0: ``(2n, 2n)`` initial feature matrix.
      average: a :class:`SymmetryAverage` applied to M after every update (the
        exact-symmetry control), or None (RFM as it is).
    """

    partition: Partition
    bandwidth: jax.Array
    ridge: jax.Array
    power: jax.Array
    M0: jax.Array
    average: SymmetryAverage | None = None


class Metrics(NamedTuple):
    """Per-iteration curves, each ``(T,)``.

    Attributes:
      train_acc, test_acc: argmax accuracy in [0, 1] (NaN for an empty test set).
      train_mse, test_mse: mean over points and classes of (prediction - one-hot)^2.
      solve_ok: bool, the solve succeeded: finite coefficients whose relative residual
        is at most :data:`RESIDUAL_LIMIT` for the dtype.
      jitter: diagonal added beyond the requested ridge by the retry policy (0 normally).
      residual: ``|(K + (ridge + jitter) I) alpha - Y| / |Y|`` on the training points
        (Frobenius norms), the solve's relative residual.
    """

    train_acc: jax.Array
    test_acc: jax.Array
    train_mse: jax.Array
    test_mse: jax.Array
    solve_ok: jax.Array
    jitter: jax.Array
    residual: jax.Array


class RFMResult(NamedTuple):
    """What a run returns.

    Attributes:
      metrics: per-iteration :class:`Metrics`.
      M: ``(2n, 2n)`` feature matrix after the last update, M_T.
      alpha: ``(train_capacity, n)`` coefficients of the last reported predictor.
      alpha_M: ``(2n, 2n)`` the feature matrix ``alpha`` was solved with, M_{T-1}.
      M_history: ``(T // k + 1, 2n, 2n)`` M at iterations 0, k, 2k, ... (or None).
    """

    metrics: Metrics
    M: jax.Array
    alpha: jax.Array
    alpha_M: jax.Array
    M_history: jax.Array | None


def check_scalars(bandwidth=None, ridge=None, power=None):
    """Validate per-run scalars on the host (each may be a sequence of values)."""
    for name, values, ok, rule in (
        ("bandwidth", bandwidth, lambda v: v > 0, "> 0"),
        ("ridge", ridge, lambda v: v >= 0, ">= 0"),
        ("power", power, lambda v: v > 0, "> 0"),
    ):
        if values is None:
            continue
        for v in np.atleast_1d(np.asarray(values, dtype=float)):
            if not (np.isfinite(v) and ok(v)):
                raise InvalidArgument(name, f"must be finite and {rule}, got {v}")


def make_spec(
    task: Task,
    partition: Partition,
    bandwidth: float = 2.5,
    ridge: float = 0.0,
    power: float = 0.5,
    M0: jax.Array | None = None,
    dtype=None,
    average: SymmetryAverage | None = None,
) -> RunSpec:
    """A :class:`RunSpec`; if ``partition`` is batched the scalars and M0 are broadcast
    (``average``, if given, must already carry the batch axes).

    Raises:
      InvalidArgument: naming a scalar out of range, ``M0`` of the wrong shape, or
        ``average`` whose permutations do not act on the task's ``2n`` coordinates.
    """
    check_scalars(bandwidth, ridge, power)
    if dtype is None:
        dtype = jnp.result_type(float)
        runtime.warn_if_float32(dtype)
    d = 2 * task.n
    batch = partition.train_idx.shape[:-1]
    if M0 is None:
        M0 = jnp.eye(d, dtype=dtype)
    M0 = jnp.asarray(M0, dtype)
    if M0.shape[-2:] != (d, d):
        raise InvalidArgument("M0", f"must be {d} x {d} for {task.name}, got {M0.shape}")

    def full(x, shape):
        return jnp.broadcast_to(jnp.asarray(x, dtype), shape)

    if average is not None:
        perms, weights = np.asarray(average.perms), np.asarray(average.weights)
        G = perms.shape[-2] if perms.ndim >= 2 else 0
        if perms.shape != batch + (G, d) or weights.shape != batch + (G,):
            raise InvalidArgument(
                "average",
                f"needs perms {batch + ('G', d)} and weights {batch + ('G',)}, "
                f"got {perms.shape} and {weights.shape}",
            )
        if perms.min(initial=0) < 0 or perms.max(initial=0) >= d:
            raise InvalidArgument("average", f"permutations must map 0..{d - 1} onto itself")
        if not np.allclose(weights.sum(axis=-1), 1.0):
            raise InvalidArgument("average", "each run's weights must sum to 1")
        average = SymmetryAverage(jnp.asarray(perms, jnp.int32), jnp.asarray(weights, dtype))

    return RunSpec(
        partition,
        full(bandwidth, batch),
        full(ridge, batch),
        full(power, batch),
        full(M0, batch + (d, d)),
        average,
    )


def _masked_mean(values: jax.Array, valid: jax.Array) -> jax.Array:
    count = jnp.sum(valid, dtype=values.dtype)
    total = jnp.sum(jnp.where(valid, values, 0.0))
    return jnp.where(count > 0, total / jnp.maximum(count, 1.0), jnp.nan)


def _scores(pred, labels, targets, valid):
    correct = (jnp.argmax(pred, axis=1).astype(labels.dtype) == labels).astype(pred.dtype)
    sq = jnp.mean((pred - targets) ** 2, axis=1)
    return _masked_mean(correct, valid), _masked_mean(sq, valid)


def missing_after_failure(metrics: Metrics) -> Metrics:
    """NaN (missing) accuracies and MSEs from a run's first failed solve on: once a solve
    has failed, M and everything after it are not RFM's, so no later value is either.
    Curves are ``(T,)``; ``solve_ok``, ``jitter`` and ``residual`` are kept as measured."""
    failed = jnp.cumsum(~metrics.solve_ok) > 0

    def missing(x):
        return jnp.where(failed, jnp.nan, x)

    return metrics._replace(
        train_acc=missing(metrics.train_acc),
        test_acc=missing(metrics.test_acc),
        train_mse=missing(metrics.train_mse),
        test_mse=missing(metrics.test_mse),
    )


def make_rfm(
    task: Task,
    config: RFMConfig | None = None,
    kernel_fn: kernels_.PointwiseKernel | None = None,
    progress: bool = False,
) -> Callable[[RunSpec], RFMResult]:
    """Build the pure single-run function for ``task``.

    Args:
      task: the task (its grid, labels and one-hot encoding are closed over).
      config: static choices.
      kernel_fn: optional custom pointwise kernel ``k(x, z, M, L)``; it is evaluated
        pointwise and its AGOP taken by autodiff (``config.kernel`` is then ignored).
      progress: report each finished iteration to :func:`grokrfm.progress.tick` (a
        host callback that changes no result; see :mod:`grokrfm.progress`).

    Returns:
      ``run(spec) -> RFMResult``, pure and jittable; vmap it over a batched spec.
    """
    config = (config or RFMConfig()).validate()
    pairs_all = jnp.asarray(task.pairs, jnp.int32)  # (n^2, 2), row g is grid point g
    labels_all = jnp.asarray(task.labels, jnp.int32)
    n = task.n
    custom = kernel_fn is not None
    method = "autodiff" if custom else config.agop
    kernel = kernels_.get_kernel(config.kernel)
    pointwise = kernel_fn if custom else kernel.pointwise

    def kernel_parts(M, pairs, bandwidth) -> kernels_.KernelParts:
        """Kernel (and gradient weights) between every grid point and ``pairs``."""
        if custom:
            X1 = agop_.pair_inputs(pairs_all, n, M.dtype)
            X2 = agop_.pair_inputs(pairs, n, M.dtype)
            rows = jax.vmap(lambda x: jax.vmap(lambda z: pointwise(x, z, M, bandwidth))(X2))
            K = rows(X1)
            return kernels_.KernelParts(K, K, jnp.ones((), M.dtype))  # W unused
        if method == "pairs":
            inner = kernels_.pair_inner(None, pairs, M)  # the grid's rows, fused
        else:
            X1 = agop_.pair_inputs(pairs_all, n, M.dtype)
            X2 = agop_.pair_inputs(pairs, n, M.dtype)
            inner = kernels_.dense_inner(X1, X2, M)
        return kernel.parts(inner, bandwidth, config.distances)

    def agop_pairs(M, spec, parts, alpha, tr_pairs, valid):
        # Closed form over the kernel's grid rows, already computed for the solve. The
        # self-term coefficients W alpha come out of the same contraction.
        B = None if kernel.self_term else jnp.zeros_like(alpha)
        return agop_.agop_pairs_from_grid(
            parts.W, B, parts.scale, alpha, tr_pairs, M, valid, config.centre
        )

    def agop_dense(M, spec, parts, alpha, tr_pairs, valid):
        X = agop_.pair_inputs(tr_pairs, n, M.dtype)
        G = agop_.agop_dense(
            kernel, X, alpha, M, spec.bandwidth, valid, config.centre, config.distances
        )
        return G, None

    def agop_autodiff(M, spec, parts, alpha, tr_pairs, valid):
        X = agop_.pair_inputs(tr_pairs, n, M.dtype)
        G = agop_.agop_autodiff(pointwise, X, alpha, M, spec.bandwidth, valid, config.centre)
        return G, None

    agop_methods = {"pairs": agop_pairs, "dense": agop_dense, "autodiff": agop_autodiff}
    # The pairs AGOP's self-term coefficients W alpha are K alpha, the predictions at the
    # training points, when the kernel's gradient weights are the kernel itself.
    predictions_from_agop = method == "pairs" and kernel.weights_are_kernel and not custom

    def step(M, spec: RunSpec):
        part = spec.partition
        valid = part.train_valid
        tr_pairs = pairs_all[part.train_idx]
        tr_labels = labels_all[part.train_idx]
        te_labels = labels_all[part.test_idx]
        tr_targets = jax.nn.one_hot(tr_labels, n, dtype=M.dtype)
        te_targets = jax.nn.one_hot(te_labels, n, dtype=M.dtype)

        # One kernel evaluation between every grid point and the training points serves
        # the solve (training rows), the test predictions (test rows) and the AGOP. Its
        # padding columns are not masked here (that would be another n^2 x N array):
        # the solve masks its block, alpha is zero on padding, and the AGOP masks its
        # column chunks.
        parts = kernel_parts(M, tr_pairs, spec.bandwidth)
        K_grid = parts.K
        retries = config.solve_retries
        if retries is None:
            retries = 0 if M.dtype == jnp.float64 else 3
        alpha, ok, jitter = solve(
            K_grid[part.train_idx],
            tr_targets,
            valid,
            spec.ridge,
            retries=int(retries),
            solver=config.solver,
        )
        G, B = agop_methods[method](M, spec, parts, alpha, tr_pairs, valid)
        if predictions_from_agop:
            train_pred = B
        else:
            train_pred = jnp.where(valid[:, None], K_grid[part.train_idx] @ alpha, 0.0)
        test_pred = K_grid[part.test_idx] @ alpha
        train_acc, train_mse = _scores(train_pred, tr_labels, tr_targets, valid)
        test_acc, test_mse = _scores(test_pred, te_labels, te_targets, part.test_valid)

        M_next = agop_.matrix_power(G, spec.power, config.root)
        if config.normalize:
            M_next = M_next / jnp.max(jnp.abs(M_next))
        if spec.average is not None:
            M_next = average_over(M_next, spec.average)
        # The solve's residual costs nothing extra: K alpha is the prediction at the
        # training points, already computed for the training accuracy.
        system = train_pred + (spec.ridge + jitter) * alpha
        target_norm = jnp.sqrt(jnp.sum(jnp.where(valid[:, None], tr_targets, 0.0) ** 2))
        residual = jnp.sqrt(jnp.sum((system - jnp.where(valid[:, None], tr_targets, 0.0)) ** 2))
        residual = residual / jnp.maximum(target_norm, jnp.finfo(M.dtype).tiny)
        limit = config.residual_limit
        if limit is None:
            limit = RESIDUAL_LIMIT.get(str(M.dtype), RESIDUAL_LIMIT["float32"])
        if limit != float("inf"):
            ok = ok & (residual <= limit)
        metrics = Metrics(train_acc, test_acc, train_mse, test_mse, ok, jitter, residual)
        return M_next, metrics, alpha

    def run(spec: RunSpec) -> RFMResult:
        part = spec.partition
        chex.assert_shape(spec.M0, (2 * n, 2 * n))
        chex.assert_rank(
            [part.train_idx, part.train_valid, part.test_idx, part.test_valid], [1, 1, 1, 1]
        )
        chex.assert_equal_shape([part.train_idx, part.train_valid])
        chex.assert_equal_shape([part.test_idx, part.test_valid])
        chex.assert_type([part.train_idx, part.test_idx], int)
        chex.assert_type([part.train_valid, part.test_valid], bool)
        chex.assert_rank([spec.bandwidth, spec.ridge, spec.power], 0)
        # float32 matmuls on GPU default to TF32-like passes; the solve and the AGOP need
        # full precision (this is a no-op on CPU and in float64).
        with jax.default_matmul_precision("highest"):
            return _run(spec)

    def _run(spec: RunSpec) -> RFMResult:
        def body(carry, _):
            M, _, _, t = carry
            M_next, metrics, alpha = step(M, spec)
            if progress:
                jax.debug.callback(progress_.tick, t)
            return (M_next, alpha, M, t + 1), metrics

        T, k = int(config.iterations), int(config.save_every)
        M0 = spec.M0
        alpha0 = jnp.zeros((spec.partition.train_idx.shape[0], n), M0.dtype)
        carry = (M0, alpha0, M0, jnp.zeros((), jnp.int32))
        if k == 0:
            (M, alpha, alpha_M, _), metrics = jax.lax.scan(body, carry, None, length=T)
            return RFMResult(missing_after_failure(metrics), M, alpha, alpha_M, None)

        def block(carry, _):
            end, metrics = jax.lax.scan(body, carry, None, length=k)
            return end, (metrics, carry[0])

        blocks, tail = divmod(T, k)
        carry, (metrics, saved) = jax.lax.scan(block, carry, None, length=blocks)
        metrics = jax.tree.map(lambda x: einops.rearrange(x, "b k ... -> (b k) ..."), metrics)
        history = jnp.concatenate([saved, carry[0][None]])
        if tail:
            carry, tail_metrics = jax.lax.scan(body, carry, None, length=tail)
            metrics = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), metrics, tail_metrics)
        M, alpha, alpha_M, _ = carry
        return RFMResult(missing_after_failure(metrics), M, alpha, alpha_M, history)

    return run


@distribute.compile_cache
def batched_rfm(
    task: Task, config: RFMConfig, progress: bool = False
) -> Callable[[RunSpec], RFMResult]:
    """``jax.jit(jax.vmap(make_rfm(task, config, progress=progress)))``, cached."""
    return jax.jit(jax.vmap(make_rfm(task, config, progress=progress)))


@distribute.compile_cache
def sharded_rfm(
    task: Task, config: RFMConfig, devices: tuple, progress: bool = False
) -> Callable[[RunSpec], RFMResult]:
    """The batched run with its batch axis sharded over ``devices`` (cached)."""
    return distribute.sharded(make_rfm(task, config, progress=progress), devices)


def runs_per_call(
    task: Task,
    specs: RunSpec,
    devices: Sequence[jax.Device],
    memory_budget: int | None = None,
) -> int:
    """How many runs of a batched ``specs`` one compiled call takes: as many as fit
    ``memory_budget`` bytes per device (default
    :func:`grokrfm.memory.default_budget_bytes`) by :func:`grokrfm.memory.run_bytes`.

    Raises:
      InvalidArgument: naming ``memory_budget`` when a single run cannot fit.
    """
    train_cap = specs.partition.train_idx.shape[-1]
    test_cap = specs.partition.test_idx.shape[-1]
    per_run = memory.run_bytes(task.n, train_cap, test_cap, specs.M0.dtype.itemsize)
    budget = memory_budget if memory_budget is not None else memory.default_budget_bytes(devices[0])
    return memory.chunk_size(
        distribute.batch_size(specs),
        per_run,
        budget,
        len(devices),
        what=f"one run of {task.name} ({train_cap} training points)",
    )


def run_batch(
    task: Task,
    config: RFMConfig,
    specs: RunSpec,
    devices: Sequence[jax.Device] | None = None,
    memory_budget: int | None = None,
    progress: bool | None = None,
    label: str = "",
) -> RFMResult:
    """Run every spec of a batched :class:`RunSpec`, in as few compiled calls as fit.

    With several processes (:func:`grokrfm.distribute.initialize`) every process calls
    this with the same specs; the batch is spread over every process's devices and every
    process gets the whole result.

    The batch is split into equal chunks whose estimated working memory
    (:func:`grokrfm.memory.run_bytes`) fits ``memory_budget`` on each device (the last
    chunk is padded, so there is one compilation); with several devices each chunk's
    batch axis is sharded over them (:mod:`grokrfm.distribute`).

    Args:
      task: the task the specs' partitions index into.
      config: static choices.
      specs: a :class:`RunSpec` with a leading batch axis.
      devices: devices to spread the batch over (default: all of the default backend).
      memory_budget: bytes per device (default :func:`grokrfm.memory.default_budget_bytes`).
      progress: show a bar of iterations per call (default: when standard error is a
        terminal; see :mod:`grokrfm.progress`). It changes no result.
      label: the bar's description (default: the task and the runs of the call).

    Raises:
      InvalidArgument: naming ``memory_budget`` when a single run cannot fit.
    """
    config = config.validate()
    devices = list(devices) if devices is not None else jax.devices()
    # Several processes run one batch together: they must hold the same one.
    distribute.check_same_everywhere("batch of runs", "specs", specs, repr(config))
    show = progress_.wanted(progress)
    if jax.process_count() > 1:
        # One program in every process: process 0's choice everywhere, drawn by it alone.
        show = distribute.every_process(show or not distribute.is_lead_process())
    draw = show and distribute.is_lead_process()
    if len(devices) > 1:
        run = sharded_rfm(task, config, tuple(devices), show)
    else:
        run = batched_rfm(task, config, show)
    total = distribute.batch_size(specs)
    size = runs_per_call(task, specs, devices, memory_budget)
    outputs = []
    for start in range(0, total, size):
        chunk = jax.tree.map(lambda x, start=start: x[start : start + size], specs)
        chunk = distribute.pad_batch(chunk, size)
        if len(devices) > 1:
            chunk = distribute.place(chunk, devices)
        stop = min(start + size, total) - 1
        text = label or f"{task.name}, runs {start}-{stop} of {total}"
        with progress_.bar(config.iterations, text, draw):
            out = distribute.gather(run(chunk))
            if show:
                out = jax.block_until_ready(out)
        keep = min(size, total - start)
        outputs.append(jax.tree.map(lambda x, keep=keep: x[:keep], out))
    if len(outputs) == 1:
        return outputs[0]
    return jax.tree.map(lambda *xs: jnp.concatenate(xs), *outputs)


def run_single(task: Task, config: RFMConfig, spec: RunSpec) -> RFMResult:
    """One run, as the batch of one."""
    batched = jax.tree.map(lambda x: x[None], spec)
    return jax.tree.map(lambda x: x[0], run_batch(task, config, batched))


def predict(
    task: Task,
    result: RFMResult,
    partitions: Partition,
    pairs=None,
    *,
    kernel: RFMConfig | str = "gaussian",
    bandwidth=2.5,
) -> jax.Array:
    """The fitted predictor of each run at any grid points: class scores ``K alpha``.

    A run's last reported predictor is ``alpha`` solved with ``alpha_M`` (M before the
    last update), so the argmax at the training and test points reproduces the run's
    final ``train_acc`` and ``test_acc``.

    Args:
      task: the task the runs were fitted on.
      result: one run's :class:`RFMResult`, or a batch of them (leading axis).
      partitions: the :class:`~grokrfm.partition.Partition` (batched alike) it ran on.
      pairs: ``(N, 2)`` operands ``(a, b)`` of the points to predict, as element
        indices; None for every grid point in grid order (``task.pairs``).
      kernel: the :class:`RFMConfig` the runs used (its kernel and distance convention),
        or its kernel's name (the default distance convention).
      bandwidth: the runs' L, a scalar or one per run.

    Returns:
      ``(N, n)`` scores, or ``(B, N, n)`` for a batch; ``argmax(-1)`` is the label.

    Raises:
      InvalidArgument: naming ``pairs`` (not ``(N, 2)`` indices of the group) or
        ``result`` (batched unlike ``partitions``).
    """
    distances = kernel.distances if isinstance(kernel, RFMConfig) else "tolerance"
    kernel = kernels_.get_kernel(kernel.kernel if isinstance(kernel, RFMConfig) else kernel)
    n = task.n
    if pairs is not None:
        pairs = np.asarray(pairs)
        if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
            raise InvalidArgument("pairs", f"must be (N, 2) integer operands, got {pairs.shape}")
        if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
            raise InvalidArgument("pairs", f"operands must lie in 0..{n - 1} for {task.name}")
        pairs = jnp.asarray(pairs, jnp.int32)
    batched = result.alpha.ndim == 3
    if batched != (partitions.train_idx.ndim == 2):
        raise InvalidArgument("result", "result and partitions must both be batched or neither")
    grid = jnp.asarray(task.pairs, jnp.int32)

    def one(alpha, alpha_M, train_idx, train_valid, L):
        inner = kernels_.pair_inner(pairs, grid[train_idx], alpha_M)
        K = kernel.parts(inner, L, distances).K
        return K @ jnp.where(train_valid[:, None], alpha, 0.0)

    args = (result.alpha, result.alpha_M, partitions.train_idx, partitions.train_valid)
    if not batched:
        return jax.jit(one)(*args, jnp.asarray(bandwidth, result.alpha.dtype))
    L = jnp.broadcast_to(jnp.asarray(bandwidth, result.alpha.dtype), result.alpha.shape[:1])
    return jax.jit(jax.vmap(one))(*args, L)
