"""Circulant structure and AGOP alignment of M over RFM iterations.

In the ordering of A by powers of its smallest generator (the discrete logarithm for
Z_p^*; the identity ordering for Z_p: :func:`cyclic_order`) every Pi(g) has circulant
diagonal blocks; its off-diagonal blocks are circulant (entries depend on j - i) for
``a . b`` tasks and Hankel (on i + j) for ``a . b^-1`` tasks. :func:`circulant_deviation`
measures how far a block is from that form, and :func:`agop_alignment` is the cosine of
vec(M_t) with vec(M_final): the two progress measures of the predecessor paper
(arXiv 2407.20199, section 4), which move steadily while the test loss is flat. Both are
computed after a run from ``RFMResult.M_history`` (``RFMConfig(save_every=1)``).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from grokrfm import tasks
from grokrfm.analysis.representation import check_square, safe_ratio
from grokrfm.errors import InvalidArgument
from grokrfm.tasks import Group, Task


def cyclic_order(group: Group) -> np.ndarray:
    """``(n,)`` element indices ``g^0, g^1, ..., g^(n-1)`` for the smallest generator g.

    For Z_p^* the position of an element is its discrete logarithm to the smallest
    primitive root; for Z_p the order is 0, 1, ..., p-1; for a cyclic product such as
    Z_5 x Z_7 the generator is the smallest mixed-radix index of order n, (1,1).

    Raises:
      InvalidArgument: naming ``group`` when it is not cyclic (e.g. Z_3 x Z_3).
    """
    n = group.order
    generators = np.nonzero(tasks.element_orders(group) == n)[0]
    if generators.size == 0:
        raise InvalidArgument("group", f"{group.name} is not cyclic; it has no discrete log")
    g = int(generators[0])
    out = np.zeros(n, int)
    out[0] = group.identity
    for k in range(1, n):
        out[k] = group.table[out[k - 1], g]
    return out


def smallest_generator(group: Group) -> str:
    """The name of the generator :func:`cyclic_order` uses (``"2"`` for Z_29^*)."""
    return group.element_names[int(cyclic_order(group)[1])]


def is_cyclic(group: Group) -> bool:
    return bool((tasks.element_orders(group) == group.order).any())


def reorder(M: jax.Array, order) -> jax.Array:
    """``M (..., 2n, 2n)`` with both blocks' coordinates permuted to ``order (n,)``."""
    order = jnp.asarray(order)
    n = order.shape[0]
    check_square(M, 2 * n, "M")
    both = jnp.concatenate([order, order + n])
    return M[..., both, :][..., :, both]


def circulant_deviation(A: jax.Array, hankel: bool = False) -> jax.Array:
    """docs/science.md P1 (arXiv 2407.20199, §3) on one ``(n, n)`` block: align, column variances, /
    ``|A|_F^2``.

    Row l is rolled so that a circulant block (``A[i, j] = c(j - i)``; ``hankel=False``)
    or a Hankel block (``A[i, j] = c(i + j)``; ``hankel=True``) has constant columns:
    ``aligned[l, m] = A[l, (m + l) mod n]`` or ``A[l, (m - l) mod n]``. The deviation is
    ``sum_m Var_l(aligned[l, m]) / |A|_F^2``: 0 exactly for that form, scale invariant,
    NaN for a zero block. (The section's "shift row l right by l" is literally the Hankel
    alignment; which form a block of M has follows from the representation, see
    :func:`block_forms`.) Pure, vmappable.

    Raises:
      InvalidArgument: naming ``block`` unless ``A`` is square (batches allowed).
    """
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise InvalidArgument("block", f"must be square, got shape {A.shape}")
    n = A.shape[-1]
    rows = jnp.arange(n)[:, None]
    cols = jnp.arange(n)[None, :]
    shift = -rows if hankel else rows
    aligned = jnp.take_along_axis(A, jnp.broadcast_to((cols + shift) % n, A.shape), axis=-1)
    variance = jnp.sum(jnp.var(aligned, axis=-2), axis=-1)
    norm2 = jnp.sum(A * A, axis=(-2, -1))
    return jnp.where(norm2 > 0, variance / jnp.where(norm2 > 0, norm2, 1.0), jnp.nan)


class CirculantStructure(NamedTuple):
    """How to read a task's feature matrix for circulant structure.

    Attributes:
      order: ``(n,)`` the cyclic order of A's elements (:func:`cyclic_order`).
      off_diagonal_hankel: the off-diagonal blocks are Hankel (``a . b^-1`` tasks) rather
        than circulant (``a . b`` tasks) in that order.
      generator: the generator's name.
    """

    order: np.ndarray
    off_diagonal_hankel: bool
    generator: str


def block_forms(task: Task) -> CirculantStructure:
    """The :class:`CirculantStructure` the representation predicts for ``task``.

    In the cyclic order, r^k shifts both blocks (diagonal blocks of Pi circulant); sr^k sends
    coordinate i of block 1 to i + k of block 2 for ``a . b`` (circulant off-diagonal
    block) and to -(i + k) for ``a . b^-1`` (Hankel).
    """
    order = cyclic_order(task.group)
    return CirculantStructure(order, bool(task.divide), smallest_generator(task.group))


class Deviation(NamedTuple):
    """Circulant deviation of a feature matrix after reordering (batched as M is).

    Attributes:
      off_diagonal: of the lower-left block (the block docs/science.md P1 (arXiv 2407.20199, §3)
      measures;
        NaN while it is zero, e.g. for M = I).
      combined: over all four blocks, each aligned by its predicted form:
        ``sum of column variances / |M|_F^2``.
    """

    off_diagonal: jax.Array
    combined: jax.Array


def block_circulant_deviation(M: jax.Array, structure: CirculantStructure) -> Deviation:
    """:class:`Deviation` of ``M (..., 2n, 2n)``; pure, vmappable."""
    # The order permutes coordinates: integer indices, one per element of A.
    chex.assert_rank(structure.order, 1)
    chex.assert_type(structure.order, int)
    n = len(structure.order)
    R = reorder(M, structure.order)
    blocks = (R[..., :n, :n], R[..., n:, n:], R[..., n:, :n], R[..., :n, n:])
    hankel = (False, False, structure.off_diagonal_hankel, structure.off_diagonal_hankel)
    variance = 0.0
    for A, h in zip(blocks, hankel, strict=True):
        variance = variance + circulant_deviation(A, h) * jnp.sum(A * A, axis=(-2, -1))
    variance = jnp.nan_to_num(variance)  # zero blocks contribute nothing
    norm2 = jnp.sum(M * M, axis=(-2, -1))
    combined = jnp.where(norm2 > 0, variance / jnp.where(norm2 > 0, norm2, 1.0), jnp.nan)
    return Deviation(circulant_deviation(blocks[2], hankel[2]), combined)


@functools.partial(jax.jit, static_argnames=("hankel",))
def _deviation(M, order, hankel):
    return block_circulant_deviation(M, CirculantStructure(order, hankel, ""))


def batch_deviation(M: jax.Array, structure: CirculantStructure) -> Deviation:
    """:func:`block_circulant_deviation` as one compiled call (any leading batch axes)."""
    order = jnp.asarray(structure.order)
    return _deviation(jnp.asarray(M), order, bool(structure.off_diagonal_hankel))


def agop_alignment(history: jax.Array, block: str = "full") -> jax.Array:
    """``(T+1,)`` cosine of vec(M_t) with vec(M_T) over ``history (T+1, 2n, 2n)``.

    Args:
      history: M_0, ..., M_T (``RFMResult.M_history`` with ``save_every=1``); batches
        allowed in front.
      block: ``"full"`` (arXiv 2407.20199, §3; docs/science.md P1) or ``"off_diagonal"`` (the
      lower-left block
        only, which is 0 at M_0 = I, so the curve starts at 0 instead of near the
        diagonal's share).

    Raises:
      InvalidArgument: naming ``block`` or ``history``.
    """
    if block not in ("full", "off_diagonal"):
        raise InvalidArgument("block", f"unknown {block!r}; choose 'full' or 'off_diagonal'")
    if history.ndim < 3 or history.shape[-1] != history.shape[-2] or history.shape[-1] % 2:
        raise InvalidArgument("history", f"must be (T+1, 2n, 2n), got {history.shape}")
    if block == "off_diagonal":
        n = history.shape[-1] // 2
        history = history[..., n:, :n]
    flat = history.reshape(history.shape[:-2] + (-1,))
    final = flat[..., -1:, :]
    dots = jnp.sum(flat * final, axis=-1)
    norms = jnp.linalg.norm(flat, axis=-1) * jnp.linalg.norm(final, axis=-1)
    return safe_ratio(dots, norms)
