"""The dihedral symmetry group Dih(A) = A x| C2 of a task, acting on its grid and inputs.

For a task on a group A (arXiv 2604.00316, §3, App. A; docs/science.md §2) the rotations r^k and
reflections sr^k (k in A) permute the grid points while preserving every label:

* ``a . b`` tasks:     r^k(a, b) = (a k, k^-1 b),    sr^k(a, b) = (k^-1 b, a k)
* ``a . b^-1`` tasks:  r^k(a, b) = (a k, b k),       sr^k(a, b) = ((b k)^-1, (a k)^-1)

Each element also permutes the 2n input coordinates (rotations within the two one-hot
blocks, reflections across them); that coordinate permutation is the fundamental object
here, and the grid action and the permutation matrix Pi(g) are derived from it, so the
three are consistent by construction. Elements are indexed ``0..2n-1``: rotation r^k
is ``k`` and reflection sr^k is ``n + k`` (k an element index of A).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Iterable, Sequence
from typing import NamedTuple

import numpy as np

from grokrfm.errors import InvalidArgument
from grokrfm.tasks import Task, permutation_orders


def _coordinate_permutation(task: Task, reflection: bool, k: int) -> np.ndarray:
    """``(2n,)``: input coordinate ``i`` is sent to coordinate ``perm[i]``."""
    g = task.group
    n = task.n
    elems = np.arange(n)
    kinv = g.inverse[k]
    if not task.divide:
        a_image = g.table[elems, k]  # a -> a k
        b_image = g.table[kinv, elems]  # b -> k^-1 b
    else:
        a_image = g.table[elems, k]  # a -> a k
        b_image = g.table[elems, k]  # b -> b k
    if not reflection:
        return np.concatenate([a_image, n + b_image])
    if not task.divide:
        # (a, b) -> (k^-1 b, a k): operand a lands in block 2, operand b in block 1.
        return np.concatenate([n + a_image, b_image])
    # (a, b) -> ((b k)^-1, (a k)^-1)
    return np.concatenate([n + g.inverse[a_image], g.inverse[b_image]])


def grid_permutations(task: Task, coord_perms: np.ndarray) -> np.ndarray:
    """``(k, n_points)``: how each coordinate permutation ``coord_perms (k, 2n)`` moves
    the grid; grid point ``g`` is sent to ``[i, g]``.

    A block-preserving permutation sends ``(a, b)`` to ``(perm[a], perm[n + b] - n)``, a
    block-swapping one sends it to ``(perm[n + b], perm[a] - n)``.
    """
    n = task.n
    perms = np.asarray(coord_perms)
    a, b = task.pairs.T
    ia, ib = perms[:, a], perms[:, n + b]
    first = np.where(ia < n, ia, ib)
    second = np.where(ia < n, ib, ia) - n
    return first * n + second


@dataclasses.dataclass(frozen=True, eq=False)
class SymmetryGroup:
    """Dih(A) for one task: its 2n elements and their actions.

    Attributes:
      task: the task acted on.
      coordinate_perms: ``(2n, 2n)``; row e sends input coordinate i to ``[e, i]``.
      grid_perms: ``(2n, n_points)``; row e sends grid point g to ``[e, g]``.
      names: ``("r^0", ..., "sr^k", ...)`` written with A's element names.
      identity_element: index of the identity permutation when the elements are not
        Dih(A)'s (a group computed by :mod:`grokrfm.computed_symmetry`); None for Dih(A),
        whose identity r^e sits at A's identity index.

    :meth:`rotation` and :meth:`reflection` read Dih(A)'s indexing; everything else
    (composition, orbits, fixed points, Pi(g), stabilisers) works for any group of
    coordinate permutations that map each one-hot block onto a block.
    """

    task: Task
    coordinate_perms: np.ndarray
    grid_perms: np.ndarray
    names: tuple[str, ...]
    identity_element: int | None = None

    @property
    def order(self) -> int:
        return self.coordinate_perms.shape[0]

    @property
    def identity(self) -> int:
        if self.identity_element is not None:
            return self.identity_element
        return self.task.group.identity

    def rotation(self, value, argument: str = "rotations") -> int:
        """Element index of r^k, with k written as the user writes it (``35``, ``"3,2"``)."""
        return self.task.group.element(value, argument)

    def reflection(self, value, argument: str = "reflections") -> int:
        """Element index of sr^k, with k written as the user writes it."""
        return self.task.n + self.task.group.element(value, argument)

    def is_reflection(self, element: int) -> bool:
        """Whether ``element`` swaps the two one-hot blocks (for Dih(A): is some sr^k)."""
        return bool(self.coordinate_perms[element, 0] >= self.task.n)

    @functools.cached_property
    def _index(self) -> dict[bytes, int]:
        return {row.tobytes(): e for e, row in enumerate(self.coordinate_perms)}

    def compose(self, g: int, h: int) -> int:
        """The element ``g o h`` (apply h first)."""
        perm = self.coordinate_perms[g][self.coordinate_perms[h]]
        return self._index[perm.tobytes()]

    def inverse(self, g: int) -> int:
        return int(self.inverses[g])

    @functools.cached_property
    def inverses(self) -> np.ndarray:
        """``(|G|,)`` int: the inverse of each element."""
        return np.array([self._index[np.argsort(row).tobytes()] for row in self.coordinate_perms])

    @functools.cached_property
    def element_orders(self) -> np.ndarray:
        """``(|G|,)`` int: the order of each element (1 for the identity)."""
        return permutation_orders(self.coordinate_perms)

    def generate(self, generators: Iterable[int]) -> tuple[int, ...]:
        """The sorted element indices of the subgroup generated by ``generators``."""
        generators = list(generators)
        elements = {self.identity}
        frontier = [self.identity]
        while frontier:
            new = []
            for x in frontier:
                for s in generators:
                    y = self.compose(s, x)
                    if y not in elements:
                        elements.add(y)
                        new.append(y)
            frontier = new
        return tuple(sorted(elements))

    def fixed_points(self, elements: Iterable[int]) -> np.ndarray:
        """``(n_points,)`` bool: points fixed by at least one of ``elements``."""
        idx = np.arange(self.task.n_points)
        mask = np.zeros(self.task.n_points, bool)
        for e in elements:
            mask |= self.grid_perms[e] == idx
        return mask

    def orbits(self, generators: Iterable[int]) -> np.ndarray:
        """``(n_points,)`` int: each point's orbit label under the generated subgroup.

        The label is the smallest grid index in the orbit, so labels are canonical and
        two points share an orbit exactly when their labels agree.
        """
        subgroup = list(self.generate(generators))
        return self.grid_perms[subgroup].min(axis=0)

    def permutation_matrix(self, element: int) -> np.ndarray:
        """``(2n, 2n)`` Pi(g) with ``Pi(g) x_p = x_{g p}`` for every grid point p."""
        return representation(self, [element])[0]


class Stabilizer(NamedTuple):
    """The subgroup of Dih(A) that maps both the train and the test set onto themselves.

    Attributes:
      elements: sorted element indices (always contains the identity).
      generators: a small generating set (greedy), as element indices.
      names: the generators' names (``"sr^0"``, ...).
    """

    elements: tuple[int, ...]
    generators: tuple[int, ...]
    names: tuple[str, ...]

    @property
    def order(self) -> int:
        return len(self.elements)


def stabilizing_elements(symmetry: SymmetryGroup, train, test, batch: int = 64) -> np.ndarray:
    """``(..., |G|)`` bool: which elements map both masks onto themselves (batches allowed).

    ``train`` and ``test`` are ``(..., n_points)`` boolean masks; g stabilises a set S
    when ``S[g^-1 x] == S[x]`` for all points, i.e. ``S[perm_g] == S``. A batch is taken
    ``batch`` masks at a time (the intermediate is ``(batch, |G|, n_points)``); row sums
    are the stabilisers' orders.
    """
    train, test = np.asarray(train), np.asarray(test)
    if train.ndim == 2 and train.shape[0] > batch:
        return np.concatenate(
            [
                stabilizing_elements(symmetry, train[i : i + batch], test[i : i + batch], batch)
                for i in range(0, train.shape[0], batch)
            ]
        )
    perms = symmetry.grid_perms  # (|G|, n_points)
    out = None
    for mask in (train, test):
        moved = mask[..., perms]  # (..., |G|, n_points)
        same = (moved == mask[..., None, :]).all(axis=-1)
        out = same if out is None else out & same
    return out


def stabilizer(symmetry: SymmetryGroup, train, test) -> Stabilizer:
    """The largest subgroup H under which both ``train`` and ``test`` are invariant.

    The elements that preserve both sets form a subgroup by themselves (closed under
    composition and inverses), so H is exactly that set; its generators are chosen
    greedily, adding the smallest element not yet generated.
    """
    keep = stabilizing_elements(symmetry, train, test)
    elements = tuple(int(e) for e in np.nonzero(keep)[0])
    generated = {symmetry.identity}
    generators = []
    for e in elements:
        if e not in generated:
            generators.append(e)
            generated = set(symmetry.generate(generators))
    return Stabilizer(elements, tuple(generators), tuple(symmetry.names[g] for g in generators))


def symmetry_group(task: Task) -> SymmetryGroup:
    """Build Dih(A) for ``task``; elements ordered rotations then reflections."""
    n = task.n
    coord = np.stack(
        [_coordinate_permutation(task, refl, k) for refl in (False, True) for k in range(n)]
    )
    grid = grid_permutations(task, coord)
    names = tuple(
        ("sr^" if refl else "r^") + task.group.element_names[k]
        for refl in (False, True)
        for k in range(n)
    )
    return SymmetryGroup(task, coord, grid, names)


def reflections(symmetry: SymmetryGroup, values: Sequence, argument="reflections") -> list[int]:
    """Element indices of sr^k for each k in ``values`` (validated, in order)."""
    if len(values) == 0:
        raise InvalidArgument(argument, "give at least one reflection")
    return [symmetry.reflection(v, argument) for v in values]


def representation(symmetry: SymmetryGroup, elements=None, dtype=np.float64) -> np.ndarray:
    """``(k, 2n, 2n)``: Pi(g) for each of ``elements`` (default: every element, rotations
    first, then reflections).

    ``Pi(g)[perm[i], i] = 1`` for the coordinate permutation of g, so
    ``Pi(g) x_p = x_{g p}`` and ``Pi(g h) = Pi(g) Pi(h)``.
    """
    perms = symmetry.coordinate_perms
    if elements is not None:
        perms = perms[np.asarray(elements, int)]
    count, d = perms.shape
    out = np.zeros((count, d, d), dtype)
    out[np.arange(count)[:, None], perms, np.arange(d)[None, :]] = 1
    return out


def element_classes(symmetry: SymmetryGroup) -> tuple[np.ndarray, tuple[str, ...]]:
    """The classes {g, g^-1}, which a symmetric statistic of Pi(g) cannot separate.

    Returns:
      ``(representative, names)``: ``representative[g] = min(g, g^-1)`` (``(|G|,)`` int)
      and each element's class name (``"sr^3"``; ``"r^3/r^10"`` for a rotation and its
      inverse).
    """
    inv = symmetry.inverses
    names = symmetry.names
    rep = np.minimum(np.arange(symmetry.order), inv)
    classes = tuple(
        names[g] if inv[g] == g else f"{names[min(g, inv[g])]}/{names[max(g, inv[g])]}"
        for g in range(symmetry.order)
    )
    return rep, classes


def subgroup_mask(symmetry: SymmetryGroup, generators: Sequence[int]) -> np.ndarray:
    """``(|G|,)`` bool: the elements of the subgroup generated by ``generators``."""
    mask = np.zeros(symmetry.order, bool)
    mask[list(symmetry.generate(list(generators)))] = True
    return mask


def reflection_label(symmetry: SymmetryGroup, element: int) -> str:
    """``"s"`` for the reflection at the identity, else its name (``"sr^35"``)."""
    return "s" if element == symmetry.task.n + symmetry.identity else symmetry.names[element]


def subgroup_reflections(
    task: Task, rotations: Sequence, reflections: Sequence = ("0",)
) -> tuple[list[str], int]:
    """The reflections of the subgroup of Dih(A) generated by r^k (k in ``rotations``)
    and sr^k (k in ``reflections``), computed by closing the generators under composition.

    Returns:
      ``(values, order)``: the values k of every reflection sr^k in the subgroup, as
      :meth:`SymmetryGroup.reflection` reads them, and the subgroup's order. E.g. x+y
      mod 32 with rotations ``[16]``: ``(["0", "16"], 4)``.
    """
    sym = symmetry_group(task)
    generators = [sym.rotation(k, "rotations") for k in rotations]
    generators += [sym.reflection(k) for k in reflections]
    elements = sym.generate(generators)
    names = task.group.element_names
    values = [names[e - task.n] for e in elements if sym.is_reflection(e)]
    return values, len(elements)


def smallest_rotation(symmetry: SymmetryGroup) -> int | None:
    """A block-keeping non-identity element of smallest order (None if there is none)."""
    keeps = np.array(
        [e != symmetry.identity and not symmetry.is_reflection(e) for e in range(symmetry.order)]
    )
    if not keeps.any():
        return None
    orders = np.where(keeps, symmetry.element_orders, np.iinfo(int).max)
    return int(np.argmin(orders))


# --- random subgroups -------------------------------------------------------------------------


def random_generators(rng: np.random.Generator, sym: SymmetryGroup, count: int) -> tuple[int, ...]:
    """``count`` distinct non-identity elements of ``sym``, uniformly at random, sorted."""
    candidates = np.array([e for e in range(sym.order) if e != sym.identity])
    if not 1 <= count <= candidates.size:
        raise InvalidArgument("generators", f"need 1..{candidates.size} generators, got {count}")
    return tuple(sorted(int(e) for e in rng.choice(candidates, count, replace=False)))


def orbits_are_label_classes(sym: SymmetryGroup, generators: Sequence[int]) -> bool:
    """Whether every orbit of the generated subgroup is a whole label class.

    Every element preserves labels, so orbits lie inside label classes; when there are
    only n of them (e.g. any subgroup of ``x+y`` holding all rotations) each orbit *is*
    a class, and a union of orbits leaves every test label unseen in training.
    """
    return np.unique(sym.orbits(generators)).size == sym.task.n


def random_subgroup(
    rng: np.random.Generator,
    sym: SymmetryGroup,
    avoid: Collection[tuple[int, ...]] = (),
    attempts: int = 200,
) -> tuple[int, ...]:
    """Generators of a random subgroup whose orbits are not just the label classes.

    Each attempt draws one or two random non-identity elements (:func:`random_generators`)
    and is kept unless :func:`orbits_are_label_classes` (a union of such orbits fails to
    generalise for a reason unrelated to symmetry breaking) or the subgroup's elements
    are in ``avoid``. When every attempt fails only because of ``avoid``, the subgroups
    in it are allowed again.

    Args:
      rng: a NumPy generator (consumed).
      sym: the symmetry group.
      avoid: subgroups (sorted element tuples, as :meth:`SymmetryGroup.generate` gives)
        to draw only if nothing else is found.

    Raises:
      InvalidArgument: no subgroup of the task is finer than the label classes.
    """
    fallback = None
    for _ in range(attempts):
        generators = random_generators(rng, sym, int(rng.integers(1, 3)))
        if orbits_are_label_classes(sym, generators):
            continue
        if sym.generate(generators) not in avoid:
            return generators
        fallback = fallback or generators
    if fallback is None:
        raise InvalidArgument(
            "partitions", f"found no subgroup of Dih({sym.task.group.name}) finer than the labels"
        )
    return fallback
