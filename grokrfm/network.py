"""Neural networks beside RFM (arXiv 2407.20199, §4; docs/science.md P2): a one-hidden-layer MLP
trained with optax, its AGOP and the neural feature ansatz (NFA).

The network is the predecessor paper's: ``f(x) = W2 (W1 x)^2`` with the square taken
entrywise, no biases, ``W1 (width, 2n)``, ``W2 (n, width)``, on the one-hot pair inputs
``x = e_a || e_b``, trained on the MSE (mean over points and classes of
``(f(x) - e_{a*b})^2``) with AdamW. ``make_train(task, config)`` returns a pure
``train(key, partition) -> NetworkResult`` in the purejaxrl shape: the epoch loop is a
``lax.scan`` with an inner scan over minibatches, per-epoch metrics are the scan's
stacked outputs, and ``jax.jit(jax.vmap(train))`` trains many seeds and partitions of
equal capacity in one call.

Features. The input Jacobian of the network at x has the closed form
``J(x) = 2 W2 diag(W1 x) W1`` (``(n, 2n)``), so the AGOP at the training points is

    AGOP = (1/N) sum_j J_j^T J_j = (4/N) W1^T [(W2^T W2) o (H^T H)] W1,

with ``H (N, width)`` the hidden pre-activations ``W1 x_j`` and ``o`` the entrywise product
(``diag(h) G diag(h) = G o h h^T``), which costs one ``width x width`` Gram instead of N Jacobians.
The neural feature matrix is ``NFM = W1^T W1``. The NFA correlation is the Pearson correlation of
the entries of the NFM with those of ``AGOP^(1/2)`` (arXiv 2407.20199, §4; docs/science.md P2: "its
Pearson correlation with the square root of the network's AGOP"; the predecessor's numbers 0.955,
0.942, 0.924, 0.929 are this quantity). The paper does not say how the diagonal, which is large and
positive in both matrices, enters, so three conventions are measured (:class:`NFACorrelations`):

* ``nfa``: over all ``(2n)^2`` entries;
* ``nfa_off_diagonal``: over the ``2n (2n - 1)`` off-diagonal entries only, the diagonal dropped;
* ``nfa_no_diagonal``: over all ``(2n)^2`` entries of the two matrices with their diagonals set
  to zero, the ``2n`` zeros kept in the correlation (the predecessor's published code,
  ``nfa_no_diag_corr``; docs/science.md §8). The ``2n`` pairs of zeros are points of the
  correlation, so this differs from ``nfa_off_diagonal``.

The same three with the AGOP itself (power 1) are reported beside them. The AGOP here is *not*
centred by default (the ansatz compares with the plain AGOP of the trained network, as the
predecessor's code does); ``centre=True`` subtracts the mean Jacobian over the training points,
as RFM does.

Precision: networks train in float32 (``NetworkConfig.dtype``), as networks are trained
everywhere; float64 is only used by the tests, to check the closed forms against
``jax.jacfwd``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from grokrfm import distribute
from grokrfm.agop import matrix_power
from grokrfm.errors import InvalidArgument
from grokrfm.partition import Partition
from grokrfm.tasks import Task


class NetworkConfig(NamedTuple):
    """Static choices of a network run (closed over, never traced).

    Attributes:
      width: hidden units (1024 as arXiv 2407.20199, §4 states; its published code
        defaults to 256, docs/science.md §8).
      epochs: training epochs. An epoch is ``ceil(train_capacity / batch_size)``
        minibatch steps, so partitions padded to one capacity take the same number of
        steps (see :func:`make_train`).
      learning_rate, weight_decay: AdamW's (decoupled weight decay, as torch.optim.AdamW).
      b1, b2: AdamW's decay rates of the first and second moment estimates, each in
        ``[0, 1)``. The defaults (0.9, 0.999) are optax's and torch's; the predecessor's
        published code trains with (0.9, 0.98) (arXiv 2407.20199, §4; docs/science.md §8).
      batch_size: minibatch size.
      measure_every: measure the features every k epochs (and before training);
        ``epochs`` must be a multiple of k.
      init_scale: both layers start uniform in ``+-init_scale / sqrt(fan_in)`` (1.0 is
        PyTorch's default for ``nn.Linear``).
      centre: centre the Jacobians over the training points in the measured AGOP.
      dtype: ``"float32"`` (default) or ``"float64"``.
    """

    width: int = 1024
    epochs: int = 1000
    learning_rate: float = 1e-3
    weight_decay: float = 1.0
    b1: float = 0.9
    b2: float = 0.999
    batch_size: int = 32
    measure_every: int = 100
    init_scale: float = 1.0
    centre: bool = False
    dtype: str = "float32"

    def validate(self) -> NetworkConfig:
        """Return the config unchanged if every field is usable.

        Raises:
          InvalidArgument: naming the first bad field, in one line.
        """
        for name in ("width", "epochs", "batch_size", "measure_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise InvalidArgument(name, f"must be an integer, got {value!r}")
            if value < 1:
                raise InvalidArgument(name, f"must be >= 1, got {value}")
        if self.epochs % self.measure_every:
            raise InvalidArgument(
                "measure_every",
                f"must divide the number of epochs ({self.epochs}), got {self.measure_every}",
            )
        for name, ok, rule in (
            ("learning_rate", lambda v: v > 0, "> 0"),
            ("init_scale", lambda v: v > 0, "> 0"),
            ("weight_decay", lambda v: v >= 0, ">= 0"),
            ("b1", lambda v: 0 <= v < 1, "in [0, 1)"),
            ("b2", lambda v: 0 <= v < 1, "in [0, 1)"),
        ):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and ok(value)):
                raise InvalidArgument(name, f"must be finite and {rule}, got {value}")
        if self.dtype not in ("float32", "float64"):
            raise InvalidArgument("dtype", f"must be 'float32' or 'float64', got {self.dtype!r}")
        return self


class Params(NamedTuple):
    """``w1 (width, 2n)``, ``w2 (n, width)``."""

    w1: jax.Array
    w2: jax.Array


class Metrics(NamedTuple):
    """Per-epoch curves after each epoch's updates, each ``(epochs,)`` (batch axes in
    front when vmapped)."""

    train_acc: jax.Array
    test_acc: jax.Array
    train_mse: jax.Array
    test_mse: jax.Array


class FeatureMeasures(NamedTuple):
    """Features measured before training and every ``measure_every`` epochs:
    ``(measures,)`` scalars and ``(measures, 2n, 2n)`` matrices, with
    ``measures = epochs / measure_every + 1`` (entry k is after epoch k * measure_every).

    Attributes:
      epoch: the epoch each measurement follows (0: at initialisation).
      nfa, nfa_off_diagonal, nfa_no_diagonal, nfa_power1, nfa_power1_off_diagonal,
        nfa_power1_no_diagonal: the NFA correlations of :class:`NFACorrelations`.
      nfm: ``W1^T W1``.
      agop: the AGOP at the training points.
    """

    epoch: jax.Array
    nfa: jax.Array
    nfa_off_diagonal: jax.Array
    nfa_no_diagonal: jax.Array
    nfa_power1: jax.Array
    nfa_power1_off_diagonal: jax.Array
    nfa_power1_no_diagonal: jax.Array
    nfm: jax.Array
    agop: jax.Array


class NetworkResult(NamedTuple):
    """One run: final parameters, per-epoch metrics, feature measurements."""

    params: Params
    metrics: Metrics
    features: FeatureMeasures


def init_params(key: jax.Array, n: int, width: int, scale: float = 1.0, dtype=jnp.float32):
    """PyTorch-style uniform initialisation, ``U(+-scale / sqrt(fan_in))`` per layer."""
    k1, k2 = jax.random.split(key)
    b1 = scale / math.sqrt(2 * n)
    b2 = scale / math.sqrt(width)
    w1 = jax.random.uniform(k1, (width, 2 * n), dtype, -b1, b1)
    w2 = jax.random.uniform(k2, (n, width), dtype, -b2, b2)
    return Params(w1, w2)


def apply(params: Params, x: jax.Array) -> jax.Array:
    """``f(x) = W2 (W1 x)^2`` for ``x (..., 2n)``; returns ``(..., n)``."""
    h = x @ params.w1.T
    return (h * h) @ params.w2.T


def input_jacobian(params: Params, x: jax.Array) -> jax.Array:
    """``(n, 2n)`` closed form ``J(x) = 2 W2 diag(W1 x) W1`` for one ``x (2n,)``."""
    h = params.w1 @ x
    return 2.0 * (params.w2 * h[None, :]) @ params.w1


def agop(params: Params, x: jax.Array, valid: jax.Array, centre: bool = False) -> jax.Array:
    """``(2n, 2n)`` AGOP of the network over the valid rows of ``x (N, 2n)``.

    ``(1/N) sum_j J_j^T J_j`` over the ``N = sum(valid)`` valid points, computed as
    ``(4/N) W1^T [(W2^T W2) o (H^T H)] W1`` (module docstring); with ``centre`` the mean
    Jacobian ``J_bar = 2 W2 diag(h_bar) W1`` is subtracted first, which removes
    ``N h_bar h_bar^T`` from ``H^T H``.

    Args:
      params: ``w1 (width, 2n)``, ``w2 (n, width)``.
      x: ``(N, 2n)`` inputs, in the parameters' dtype.
      valid: ``(N,)`` bool, False on padding rows.
    """
    width, d = params.w1.shape
    chex.assert_shape([x, valid, params.w2], [(None, d), (x.shape[0],), (d // 2, width)])
    chex.assert_type([x, params.w2, valid], [params.w1.dtype, params.w1.dtype, bool])
    w = valid.astype(x.dtype)
    count = jnp.maximum(jnp.sum(w), 1.0)
    h = (x @ params.w1.T) * w[:, None]  # (N, width), padding rows zeroed
    gram_h = h.T @ h
    if centre:
        mean_h = jnp.sum(h, axis=0) / count
        gram_h = gram_h - count * jnp.outer(mean_h, mean_h)
    gram_w2 = params.w2.T @ params.w2
    return 4.0 * params.w1.T @ ((gram_w2 * gram_h) @ params.w1) / count


def neural_feature_matrix(params: Params) -> jax.Array:
    """``(2n, 2n)`` NFM ``W1^T W1``."""
    return params.w1.T @ params.w1


def pearson(a: jax.Array, b: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Pearson correlation of the entries of ``a`` and ``b`` (where ``mask``)."""
    w = jnp.ones(a.shape, a.dtype) if mask is None else mask.astype(a.dtype)
    count = jnp.sum(w)
    da = (a - jnp.sum(w * a) / count) * w
    db = (b - jnp.sum(w * b) / count) * w
    den = jnp.sqrt(jnp.sum(da * da) * jnp.sum(db * db))
    return jnp.where(den > 0, jnp.sum(da * db) / jnp.where(den > 0, den, 1.0), 0.0)


class NFACorrelations(NamedTuple):
    """Pearson correlations of the entries of the NFM ``W1^T W1`` with those of
    ``AGOP^(1/2)`` (``nfa*``) and of the AGOP itself (``nfa_power1*``), in three
    conventions for the diagonal (arXiv 2407.20199, §4, which does not fix one; module
    docstring). Scalars (batch axes in front when vmapped); 0 where a matrix is constant.

    Attributes:
      nfa: over all ``(2n)^2`` entries (this module's headline).
      nfa_off_diagonal: over the ``2n (2n - 1)`` off-diagonal entries, the diagonal
        dropped from the correlation.
      nfa_no_diagonal: over all ``(2n)^2`` entries after setting the diagonal of both
        matrices to zero, the zeros kept (the predecessor's published code's
        ``nfa_no_diag_corr``; docs/science.md §8).
      nfa_power1, nfa_power1_off_diagonal, nfa_power1_no_diagonal: the same three with
        the AGOP in place of ``AGOP^(1/2)``.
    """

    nfa: jax.Array
    nfa_off_diagonal: jax.Array
    nfa_no_diagonal: jax.Array
    nfa_power1: jax.Array
    nfa_power1_off_diagonal: jax.Array
    nfa_power1_no_diagonal: jax.Array


def nfa_correlations(nfm: jax.Array, agop_matrix: jax.Array) -> NFACorrelations:
    """The NFA correlations of one NFM and one AGOP.

    Args:
      nfm: ``(2n, 2n)`` ``W1^T W1``.
      agop_matrix: ``(2n, 2n)`` the network's AGOP (its square root is taken here).

    Returns:
      :class:`NFACorrelations`: all entries, off-diagonal entries only, and all entries
      with both diagonals zeroed, against ``AGOP^(1/2)`` and against the AGOP.
    """
    eye = jnp.eye(nfm.shape[0], dtype=bool)
    root = matrix_power(agop_matrix, 0.5)

    def zero_diagonal(m):
        return jnp.where(eye, jnp.zeros_like(m), m)

    return NFACorrelations(
        nfa=pearson(nfm, root),
        nfa_off_diagonal=pearson(nfm, root, ~eye),
        nfa_no_diagonal=pearson(zero_diagonal(nfm), zero_diagonal(root)),
        nfa_power1=pearson(nfm, agop_matrix),
        nfa_power1_off_diagonal=pearson(nfm, agop_matrix, ~eye),
        nfa_power1_no_diagonal=pearson(zero_diagonal(nfm), zero_diagonal(agop_matrix)),
    )


def _check_partition(part: Partition) -> None:
    """One unbatched, padded partition with room for at least one training point."""
    shapes = {name: tuple(getattr(part, name).shape) for name in Partition._fields}
    if any(len(shape) != 1 for shape in shapes.values()):
        raise InvalidArgument(
            "partition",
            f"train takes one partition, each field of rank 1 (vmap it over a batch), got "
            f"shapes {shapes}",
        )
    if shapes["train_idx"] != shapes["train_valid"] or shapes["test_idx"] != shapes["test_valid"]:
        raise InvalidArgument("partition", f"index and mask shapes differ: {shapes}")
    if shapes["train_idx"][0] < 1:
        raise InvalidArgument("partition", "the training set has no room for a point")


def make_train(
    task: Task, config: NetworkConfig
) -> Callable[[jax.Array, Partition], NetworkResult]:
    """A pure ``train(key, partition) -> NetworkResult`` for ``task``.

    Minibatches: each epoch draws a fresh random order of the *valid* training indices
    (padding sorted last) and takes ``steps = ceil(capacity / batch_size)`` minibatches
    of consecutive positions in that order, wrapping around modulo the number of valid
    points. With no padding this is an ordinary shuffled epoch (its last minibatch
    topped up from the front); a partition with fewer valid points than the capacity
    sees ``capacity`` samples an epoch, never a padding row. So partitions with
    different training counts padded to one capacity vmap, and their step counts agree.

    Args:
      task: the task (inputs and targets are built once, in ``config.dtype``).
      config: a validated :class:`NetworkConfig`.

    Returns:
      ``train``; vmap over ``key (2,)`` and over a batched :class:`Partition`.
    """
    config = config.validate()
    dtype = jnp.dtype(config.dtype)
    x_all = jnp.asarray(task.inputs(np.float64), dtype)
    y_all = jnp.asarray(task.targets(np.float64), dtype)
    labels = jnp.asarray(task.labels, jnp.int32)
    optimizer = optax.adamw(
        config.learning_rate, b1=config.b1, b2=config.b2, weight_decay=config.weight_decay
    )
    blocks = config.epochs // config.measure_every

    def loss_fn(params, x, y):
        err = apply(params, x) - y
        return jnp.mean(err * err)

    def scores(pred, idx, valid):
        w = valid.astype(dtype)
        count = jnp.maximum(jnp.sum(w), 1.0)
        p = pred[idx]
        correct = (jnp.argmax(p, axis=-1).astype(jnp.int32) == labels[idx]).astype(dtype)
        err = jnp.mean((p - y_all[idx]) ** 2, axis=-1)
        return jnp.sum(correct * w) / count, jnp.sum(err * w) / count

    def measure(params, part, epoch):
        nfm = neural_feature_matrix(params)
        g = agop(params, x_all[part.train_idx], part.train_valid, config.centre)
        corr = nfa_correlations(nfm, g)
        return FeatureMeasures(
            epoch=jnp.asarray(epoch, jnp.int32), nfm=nfm, agop=g, **corr._asdict()
        )

    def train(key: jax.Array, part: Partition) -> NetworkResult:
        _check_partition(part)
        capacity = part.train_idx.shape[0]
        steps = -(-capacity // config.batch_size)
        n_valid = jnp.maximum(jnp.sum(part.train_valid, dtype=jnp.int32), 1)
        init_key, key = jax.random.split(key)
        params = init_params(init_key, task.n, config.width, config.init_scale, dtype)
        opt_state = optimizer.init(params)

        def step(carry, positions):
            params, opt_state, order = carry
            idx = part.train_idx[order[positions % n_valid]]
            grads = jax.grad(loss_fn)(params, x_all[idx], y_all[idx])
            # optax's bias correction raises a Python float to its int32 step count, which
            # strict dtype promotion (the tests' setting) rejects; the result is the same.
            with jax.numpy_dtype_promotion("standard"):
                updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, order), None

        def epoch(carry, epoch_key):
            params, opt_state = carry
            # Valid positions first, in random order; padding (score inf) last.
            score = jnp.where(part.train_valid, jax.random.uniform(epoch_key, (capacity,)), 2.0)
            order = jnp.argsort(score)
            positions = jnp.arange(steps * config.batch_size, dtype=jnp.int32)
            positions = positions.reshape(steps, config.batch_size)
            (params, opt_state, _), _ = jax.lax.scan(step, (params, opt_state, order), positions)
            pred = apply(params, x_all)
            train_acc, train_mse = scores(pred, part.train_idx, part.train_valid)
            test_acc, test_mse = scores(pred, part.test_idx, part.test_valid)
            return (params, opt_state), Metrics(train_acc, test_acc, train_mse, test_mse)

        def block(carry, inputs):
            index, block_keys = inputs
            carry, metrics = jax.lax.scan(epoch, carry, block_keys)
            measured = measure(carry[0], part, (index + 1) * config.measure_every)
            return carry, (metrics, measured)

        epoch_keys = jax.random.split(key, config.epochs)
        epoch_keys = epoch_keys.reshape(blocks, config.measure_every, *epoch_keys.shape[1:])
        initial = measure(params, part, 0)
        (params, _), (metrics, measured) = jax.lax.scan(
            block, (params, opt_state), (jnp.arange(blocks, dtype=jnp.int32), epoch_keys)
        )
        metrics = jax.tree.map(lambda m: m.reshape(config.epochs), metrics)
        measured = jax.tree.map(
            lambda first, rest: jnp.concatenate([first[None], rest]), initial, measured
        )
        return NetworkResult(params, metrics, measured)

    return train


def train_batch(
    task: Task, config: NetworkConfig, keys: jax.Array, partitions: Partition
) -> NetworkResult:
    """``jax.jit(jax.vmap(make_train(task, config)))`` over ``keys (B, 2)`` and a batched
    :class:`Partition` (one capacity), compiled once per task, config and shape.

    Args:
      keys: ``(B, 2)`` uint32 PRNG keys, one per run.
      partitions: each field ``(B, capacity)``: int32 indices, bool masks (e.g.
        :func:`grokrfm.partition.to_partitions`).
    """
    chex.assert_rank([keys, *partitions], 2)
    chex.assert_shape(keys, (None, 2))
    chex.assert_equal_shape_prefix([keys, *partitions], 1)
    chex.assert_equal_shape([partitions.train_idx, partitions.train_valid])
    chex.assert_equal_shape([partitions.test_idx, partitions.test_valid])
    chex.assert_type([keys, partitions.train_idx, partitions.test_idx], [jnp.uint32, int, int])
    chex.assert_type([partitions.train_valid, partitions.test_valid], bool)
    return batched_train(task, config)(keys, partitions)


@distribute.compile_cache
def batched_train(task: Task, config: NetworkConfig):
    """``jax.jit(jax.vmap(make_train(task, config)))``, cached per (task, config)."""
    return jax.jit(jax.vmap(make_train(task, config)))
