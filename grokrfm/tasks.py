"""Group tasks: a finite group A, a binary operation on it, and the n x n grid of inputs.

A task is the map (a, b) -> a * b (or a * b^-1) on a finite group A of order n
(arXiv 2604.00316, §2; docs/science.md §1). Its n^2 grid points are indexed
``g = a * n + b``; the input for point g is the pair of one-hots ``e_a || e_b`` in R^{2n}
and the label is ``e_{a*b}``.

Groups are stored by their Cayley table over element indices 0..n-1, so every group
(Z_p, Z_p^*, products of cyclic groups) is handled by the same code downstream.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import numpy as np

from grokrfm.errors import InvalidArgument

OPERATIONS = ("x+y", "x-y", "x*y", "x/y")
# Short names of the operations, for folder and file names.
OPERATION_SLUGS = {"x+y": "add", "x-y": "sub", "x*y": "mul", "x/y": "div"}


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


# --- any finite group, by its Cayley table ---------------------------------------------
#
# The constructors below extend the paper's cyclic groups to non-cyclic abelian and non-abelian
# groups (beyond arXiv 2604.00316; docs/science.md Q). Each builds a Cayley table and hands it to
# :func:`group_from_table`, which validates it, so hand-written and built-in tables go through the
# same checks. Element 0 is the identity in every built-in group.


def group_from_table(table, name: str = "G", element_names: Sequence[str] | None = None) -> Group:
    """Validate a Cayley table and wrap it as a :class:`Group`.

    Args:
      table: ``(n, n)`` integers, ``table[a][b]`` the index of ``a . b``.
      name: the group's name.
      element_names: how each element is written (default ``"0"``, ..., ``"n-1"``).

    Raises:
      InvalidArgument: naming ``table`` when it is not square, has an entry outside
        0..n-1 (not closed), has no identity, an element has no inverse, or the operation
        is not associative (the message names one offending triple); naming
        ``element_names`` when they are not n distinct strings.
    """
    try:
        t = np.asarray(table)
    except (TypeError, ValueError) as err:
        raise InvalidArgument("table", f"not an array of integers: {err}") from None
    if t.ndim != 2 or t.shape[0] != t.shape[1] or t.shape[0] < 1:
        raise InvalidArgument("table", f"must be a square (n, n) array, got shape {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        if not (np.issubdtype(t.dtype, np.floating) and np.all(np.mod(t, 1) == 0)):
            raise InvalidArgument("table", f"entries must be integers, got dtype {t.dtype}")
    t = t.astype(np.int64)
    n = t.shape[0]
    bad = np.argwhere((t < 0) | (t >= n))
    if bad.size:
        a, b = bad[0]
        raise InvalidArgument(
            "table", f"not closed: table[{a}, {b}] = {t[a, b]} is not an element 0..{n - 1}"
        )
    idx = np.arange(n)
    identities = [e for e in range(n) if (t[e] == idx).all() and (t[:, e] == idx).all()]
    if not identities:
        raise InvalidArgument("table", "no identity: no e with e.a = a.e = a for every a")
    e = identities[0]
    inverse = np.full(n, -1)
    for a in range(n):
        right = np.nonzero(t[a] == e)[0]
        left = [b for b in right if t[b, a] == e]
        if not left:
            raise InvalidArgument("table", f"element {a} has no two-sided inverse")
        inverse[a] = left[0]
    # (a.b).c == a.(b.c) for every triple, at once: n^3 <= 216,000 entries for n <= 60.
    lhs = t[t[:, :, None], idx[None, None, :]]  # [a, b, c] -> (a.b).c
    rhs = t[idx[:, None, None], t[None, :, :]]  # [a, b, c] -> a.(b.c)
    wrong = np.argwhere(lhs != rhs)
    if wrong.size:
        a, b, c = wrong[0]
        raise InvalidArgument(
            "table",
            f"not associative: ({a}.{b}).{c} = {lhs[a, b, c]} but {a}.({b}.{c}) = {rhs[a, b, c]}",
        )
    if element_names is None:
        element_names = tuple(str(i) for i in range(n))
    element_names = tuple(str(s) for s in element_names)
    if len(element_names) != n or len(set(element_names)) != n:
        raise InvalidArgument("element_names", f"need {n} distinct names, got {element_names}")
    return Group(name, t, e, inverse, element_names)


def is_abelian(group: Group) -> bool:
    return bool((group.table == group.table.T).all())


def permutation_orders(perms) -> np.ndarray:
    """``(k,)`` int: the order of each permutation in ``perms (k, d)`` (1 for the identity)."""
    perms = np.asarray(perms)
    identity = np.arange(perms.shape[1])
    orders = np.zeros(perms.shape[0], int)
    power = perms.copy()  # p^k, every permutation at once
    for k in range(1, perms.shape[1] + 1):
        done = (orders == 0) & (power == identity).all(axis=1)
        orders = np.where(done, k, orders)
        if (orders > 0).all():
            break
        power = np.take_along_axis(perms, power, axis=1)
    return orders


def element_orders(group: Group) -> np.ndarray:
    """``(n,)`` int: the order of each element of ``group`` (1 for the identity): the order
    of its left multiplication ``x -> g x``, a permutation of the elements."""
    return permutation_orders(group.table)


def dihedral_group(m: int) -> Group:
    """D_m, the symmetries of a regular m-gon, order 2m: ``r^i s^j`` is index ``i + m j``.

    ``s r s = r^-1``, so ``(r^i s^j)(r^k s^l) = r^(i + (-1)^j k) s^(j + l)``.
    """
    if isinstance(m, bool) or int(m) != m or m < 3:
        raise InvalidArgument("group", f"D_m needs m >= 3 (D_2 is Z_2 x Z_2), got {m}")
    m = int(m)
    i, j = np.divmod(np.arange(2 * m), m)[::-1]  # index = i + m j
    rot = (i[:, None] + np.where(j[:, None] == 0, 1, -1) * i[None, :]) % m
    table = rot + m * ((j[:, None] + j[None, :]) % 2)
    names = [f"r^{k}" for k in range(m)] + [f"r^{k}s" for k in range(m)]
    return group_from_table(table, f"D_{m}", names)


def _permutation_group(perms: list[tuple[int, ...]], name: str) -> Group:
    """The group of ``perms`` (closed under composition) with ``(s t)(i) = s(t(i))``,
    each element named in one-line notation, ``"(1,0,2)"``."""
    index = {p: k for k, p in enumerate(perms)}
    table = np.array([[index[tuple(s[i] for i in t)] for t in perms] for s in perms])
    names = ["(" + ",".join(map(str, p)) + ")" for p in perms]
    return group_from_table(table, name, names)


def _parity(p: tuple[int, ...]) -> int:
    return sum(p[i] > p[j] for i in range(len(p)) for j in range(i + 1, len(p))) % 2


def symmetric_group(k: int) -> Group:
    """S_k, permutations of {0..k-1} in lexicographic order (the identity first)."""
    if isinstance(k, bool) or int(k) != k or not 3 <= k <= 5:
        raise InvalidArgument("group", f"S_k is built for 3 <= k <= 5, got {k}")
    return _permutation_group(list(itertools.permutations(range(int(k)))), f"S_{int(k)}")


def alternating_group(k: int) -> Group:
    """A_k, the even permutations of {0..k-1} in lexicographic order."""
    if isinstance(k, bool) or int(k) != k or not 4 <= k <= 5:
        raise InvalidArgument("group", f"A_k is built for k = 4 or 5, got {k}")
    perms = [p for p in itertools.permutations(range(int(k))) if _parity(p) == 0]
    return _permutation_group(perms, f"A_{int(k)}")


def quaternion_group() -> Group:
    """Q_8 = {+-1, +-i, +-j, +-k}: index ``2 u + s`` is ``(-1)^s u`` for the unit
    ``u`` in (1, i, j, k)."""
    # unit products u v = sign * w over (1, i, j, k)
    product = [
        [(1, 0), (1, 1), (1, 2), (1, 3)],
        [(1, 1), (-1, 0), (1, 3), (-1, 2)],
        [(1, 2), (-1, 3), (-1, 0), (1, 1)],
        [(1, 3), (1, 2), (-1, 1), (-1, 0)],
    ]
    table = np.zeros((8, 8), int)
    for x in range(8):
        for y in range(8):
            (u, s), (v, t) = divmod(x, 2), divmod(y, 2)
            sign, w = product[u][v]
            negative = (sign < 0) ^ bool(s) ^ bool(t)
            table[x, y] = 2 * w + int(negative)
    names = ["1", "-1", "i", "-i", "j", "-j", "k", "-k"]
    return group_from_table(table, "Q_8", names)


def named_group(spec: str) -> Group:
    """A group from a short name: ``"Z7"``, ``"Z3xZ3"``, ``"Z2^3"``, ``"Z2xZ4"``,
    ``"D4"``, ``"S3"``, ``"S4"``, ``"A4"``, ``"Q8"`` (underscores and spaces ignored).

    Raises:
      InvalidArgument: naming ``group`` for a name not of these forms.
    """
    s = str(spec).replace("_", "").replace(" ", "").upper()
    if s == "Q8":
        return quaternion_group()
    try:
        if s.startswith("D"):
            return dihedral_group(int(s[1:]))
        if s.startswith("S"):
            return symmetric_group(int(s[1:]))
        if s.startswith("A"):
            return alternating_group(int(s[1:]))
        if s.startswith("Z"):
            factors = []
            for part in s.split("X"):
                if not part.startswith("Z"):
                    raise ValueError(part)
                base, _, power = part[1:].partition("^")
                factors += [int(base)] * (int(power) if power else 1)
            if len(factors) == 1:
                return cyclic_group(factors[0])
            return product_group(factors)
    except ValueError:
        pass
    raise InvalidArgument(
        "group", f"unknown group {spec!r}; e.g. Z7, Z3xZ3, Z2^3, D4, S3, S4, A4, Q8"
    )


def group_task(group: Group | str, divide: bool = False) -> Task:
    """The task ``a . b`` (``divide``: ``a . b^-1``) on any finite group.

    The op is written ``"x*y"`` / ``"x/y"`` whatever the group (for an additive group
    these are ``x+y`` / ``x-y``); the name says which group, e.g. ``"x*y on D_4"``.
    """
    if isinstance(group, str):
        group = named_group(group)
    if not isinstance(group, Group):
        raise InvalidArgument("group", f"need a Group or a group name, got {group!r}")
    op = "x/y" if divide else "x*y"
    return Task(op, group, bool(divide), f"{op} on {group.name}")


def task_slug(task: Task) -> str:
    """A short file-name-safe name of a modular task, e.g. ``"add61"``, ``"add5x11"``."""
    size = task.group.name.replace("Z_", "").replace("^*", "").replace(" x ", "x")
    return f"{OPERATION_SLUGS[task.op]}{size}"
