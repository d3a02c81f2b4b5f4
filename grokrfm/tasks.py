"""Group tasks: a finite group A, a binary operation on it, and the n x n grid of inputs.

A task is the map (a, b) -> a * b (or a * b^-1) on a finite group A of order n
(PAPER.md section 1). Its n^2 grid points are indexed ``g = a * n + b``; the input for
point g is the pair of one-hots ``e_a || e_b`` in R^{2n} and the label is ``e_{a*b}``.

Groups are stored by their Cayley table over element indices 0..n-1, so every group
(Z_p, Z_p^*, products of cyclic groups) is handled by the same code downstream.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from grokrfm.errors import InvalidArgument

OPERATIONS = ("x+y", "x-y", "x*y", "x/y")


@dataclasses.dataclass(frozen=True, eq=False)
class Group:
    """A finite group given by its Cayley table.

    Attributes:
      name: human-readable name, e.g. ``"Z_61"`` or ``"Z_5 x Z_11"``.
      table: ``(n, n)`` int array, ``table[a, b]`` is the index of ``a . b``.
      identity: index of the identity element.
      inverse: ``(n,)`` int array, ``inverse[a]`` is the index of ``a^-1``.
      element_names: how each element index is written for people (``"35"``,
        ``"(3,2)"``).
    """

    name: str
    table: np.ndarray
    identity: int
    inverse: np.ndarray
    element_names: tuple[str, ...]

    @property
    def order(self) -> int:
        return self.table.shape[0]

    def element(self, value, argument: str = "element") -> int:
        """The index of the element written as ``value`` (an int, a tuple or ``"3,2"``).

        Raises:
          InvalidArgument: naming ``argument`` when ``value`` is not an element.
        """
        key = _normalise_element_name(value)
        try:
            return self.element_names.index(key)
        except ValueError:
            raise InvalidArgument(argument, f"{value!r} is not an element of {self.name}") from None


def _integer_name(v) -> str:
    """``str`` of an integer-valued number; anything else cannot name an element."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return repr(v)  # never matches an element name, so the caller reports it
    return str(int(v))


def _normalise_element_name(value) -> str:
    if isinstance(value, str):
        parts = [s.strip() for s in value.strip().strip("()").split(",")]
        if len(parts) == 1:
            return parts[0]
        return "(" + ",".join(parts) + ")"
    if isinstance(value, (Sequence, np.ndarray)):
        return "(" + ",".join(_integer_name(v) for v in np.asarray(value).tolist()) + ")"
    return _integer_name(value)


def is_prime(p: int) -> bool:
    if p < 2:
        return False
    return all(p % d for d in range(2, math.isqrt(p) + 1))


def cyclic_group(n: int) -> Group:
    """Z_n under addition, elements 0..n-1."""
    if n < 2:
        raise InvalidArgument("p", f"the modulus must be at least 2, got {n}")
    idx = np.arange(n)
    table = (idx[:, None] + idx[None, :]) % n
    return Group(f"Z_{n}", table, 0, (-idx) % n, tuple(str(i) for i in range(n)))


def multiplicative_group(p: int) -> Group:
    """Z_p^* for a prime p: residues 1..p-1 stored as indices 0..p-2."""
    if not is_prime(p):
        raise InvalidArgument("p", f"x*y and x/y need a prime modulus, got {p}")
    values = np.arange(1, p)
    table = (values[:, None] * values[None, :]) % p - 1
    inverse = np.array([pow(int(v), -1, p) for v in values]) - 1
    return Group(f"Z_{p}^*", table, 0, inverse, tuple(str(int(v)) for v in values))


def product_group(factors: Sequence[int]) -> Group:
    """Z_n1 x ... x Z_nk under componentwise addition, mixed radix (last factor fastest)."""
    if any(isinstance(f, bool) or int(f) != f for f in factors):
        raise InvalidArgument("group", f"factors must be integers, got {tuple(factors)}")
    factors = tuple(int(f) for f in factors)
    if not factors or any(f < 2 for f in factors):
        raise InvalidArgument("group", f"each factor must be at least 2, got {factors}")
    digits = np.array(list(np.ndindex(*factors)))  # (n, k), last factor fastest
    radix = np.array(factors)
    weights = np.cumprod((radix[1:].tolist() + [1])[::-1])[::-1]

    def index(d):
        return (d % radix) @ weights

    table = index(digits[:, None, :] + digits[None, :, :])
    inverse = index(-digits)
    names = tuple("(" + ",".join(str(v) for v in d) + ")" for d in digits)
    name = " x ".join(f"Z_{f}" for f in factors)
    return Group(name, table, 0, inverse, names)


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """A binary operation on a finite group, and its n^2 grid of labelled points.

    Attributes:
      op: ``"x+y"``, ``"x-y"``, ``"x*y"`` or ``"x/y"``.
      group: the group A.
      divide: whether the operation is ``a . b^-1`` (``x-y``, ``x/y``) rather than
        ``a . b``.
      name: e.g. ``"x+y mod 61"``.
    """

    op: str
    group: Group
    divide: bool
    name: str

    @property
    def n(self) -> int:
        """Group order; inputs live in R^{2n}, labels in R^n."""
        return self.group.order

    @property
    def n_points(self) -> int:
        return self.n * self.n

    @property
    def table(self) -> np.ndarray:
        """``(n, n)``: ``table[a, b]`` is the label of grid point ``(a, b)``."""
        g = self.group
        second = g.inverse if self.divide else np.arange(self.n)
        return g.table[:, second]

    @property
    def pairs(self) -> np.ndarray:
        """``(n_points, 2)`` int: the operands ``(a, b)`` of each grid point."""
        a, b = np.divmod(np.arange(self.n_points), self.n)
        return np.stack([a, b], axis=1)

    @property
    def labels(self) -> np.ndarray:
        """``(n_points,)`` int: the class ``a * b`` of each grid point."""
        return self.table.reshape(-1)

    def inputs(self, dtype=np.float64) -> np.ndarray:
        """``(n_points, 2n)`` one-hot pair encodings ``e_a || e_b``."""
        x = np.zeros((self.n_points, 2 * self.n), dtype)
        rows = np.arange(self.n_points)
        a, b = self.pairs.T
        x[rows, a] = 1
        x[rows, self.n + b] = 1
        return x

    def targets(self, dtype=np.float64) -> np.ndarray:
        """``(n_points, n)`` one-hot labels."""
        return np.eye(self.n, dtype=dtype)[self.labels]


def make_task(op: str, p: int | None = None, group: Sequence[int] | None = None) -> Task:
    """Build a task from the command-line vocabulary.

    Args:
      op: one of ``OPERATIONS``.
      p: the modulus for Z_p (``x+y``, ``x-y``) or Z_p^* (``x*y``, ``x/y``, p prime).
      group: factors ``(n1, ..., nk)`` of an abelian product Z_n1 x ... x Z_nk, instead
        of ``p`` (``x+y`` and ``x-y`` only).

    Raises:
      InvalidArgument: unknown ``op``, ``p`` < 2, non-prime ``p`` for ``x*y``/``x/y``,
        both or neither of ``p`` and ``group``.
    """
    if op not in OPERATIONS:
        raise InvalidArgument("op", f"unknown operation {op!r}; choose from {OPERATIONS}")
    if (p is None) == (group is None):
        raise InvalidArgument("p", "give exactly one of a modulus p or group factors")
    divide = op in ("x-y", "x/y")
    if group is not None:
        if op not in ("x+y", "x-y"):
            raise InvalidArgument("op", f"product groups are additive; {op} is not defined")
        g = product_group(group)
        return Task(op, g, divide, f"{op} on {g.name}")
    if not isinstance(p, (int, np.integer)):
        raise InvalidArgument("p", f"must be an integer, got {p!r}")
    p = int(p)
    if op in ("x+y", "x-y"):
        g = cyclic_group(p)
    else:
        if p < 3:
            raise InvalidArgument("p", f"x*y and x/y need a prime p >= 3, got {p}")
        g = multiplicative_group(p)
    return Task(op, g, divide, f"{op} mod {p}")
