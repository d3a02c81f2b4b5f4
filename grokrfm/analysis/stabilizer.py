"""Finding 3.1 as a test: does a trivial stabiliser predict that RFM generalises?

The stabiliser H of a partition is the largest subgroup of the task's symmetry group
under which both its train and its test set are invariant
(:func:`grokrfm.symmetry.stabilizer`). Finding 3.1 of arXiv 2604.00316 (section 3) says
RFM generalises only when the training data's symmetry is broken, i.e. (for the
partitions studied) when H = {id}. This module diagnoses each partition of a batch
(built, e.g., by :mod:`grokrfm.families`) and cross-tabulates "H is trivial" against
"RFM generalises". For a task on any finite group the stabiliser is taken in the
symmetry groups :mod:`grokrfm.computed_symmetry` computes (:func:`group_symmetries`,
:func:`group_diagnostics`) and summarised per family (:func:`group_family_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from grokrfm import computed_symmetry as cs
from grokrfm import families, partition, symmetry, tasks
from grokrfm.partition import Split
from grokrfm.symmetry import SymmetryGroup
from grokrfm.tasks import Task

# --- per-partition diagnostics --------------------------------------------------------------


def stabilizer_orders(sym: SymmetryGroup, splits: Split) -> np.ndarray:
    """``(B,)`` int: the order of the stabiliser of each split in a batch."""
    return symmetry.stabilizing_elements(sym, splits.train, splits.test).sum(axis=-1)


def fixed_test_fraction(sym: SymmetryGroup, splits: Split, stabilizing) -> np.ndarray:
    """``(B,)``: the fraction of test points fixed by a non-identity element of H.

    A refinement of "H is non-trivial": H may act on the test set without fixing any
    of its points (e.g. the fixed points of sr^0 and sr^2 of ``x+y`` are swapped by
    sr^1, whose own fixed points are all in training).

    Args:
      splits: a batched split.
      stabilizing: ``(B, 2n)`` bool, from :func:`grokrfm.symmetry.stabilizing_elements`.
    """
    points = np.arange(sym.task.n_points)
    fixes = sym.grid_perms == points  # (2n, n_points): element e fixes point x
    others = np.asarray(stabilizing).copy()
    others[:, sym.identity] = False
    fixed = (others.astype(int) @ fixes.astype(int)) > 0  # (B, n_points)
    test = np.asarray(splits.test)
    return (fixed & test).sum(axis=1) / np.maximum(test.sum(axis=1), 1)


def unseen_label_fraction(labels, splits: Split) -> np.ndarray:
    """``(B,)``: the fraction of test points whose label no training point carries.

    Such points cannot be classified by a predictor whose coefficients for that class
    are all zero; a union of rotation orbits of ``x+y`` (one label class per orbit) has
    every test label unseen, so its failure is no evidence about symmetry.

    Args:
      labels: ``(n_points,)`` int class of every grid point.
      splits: a batched split.
    """
    labels = np.asarray(labels)
    n_classes = int(labels.max()) + 1
    train, test = np.asarray(splits.train), np.asarray(splits.test)
    onehot = np.eye(n_classes, dtype=bool)[labels]  # (n_points, n_classes)
    seen = (train.astype(int) @ onehot.astype(int)) > 0  # (B, n_classes)
    unseen_test = test & ~seen[:, labels]
    return unseen_test.sum(axis=1) / np.maximum(test.sum(axis=1), 1)


def stabilizer_names(sym: SymmetryGroup, train, test) -> list[str]:
    """Names of a greedy generating set of the stabiliser of one split (empty if trivial)."""
    return list(symmetry.stabilizer(sym, np.asarray(train), np.asarray(test)).names)


def degenerate_stabilizers(sym: SymmetryGroup) -> list[dict]:
    """For each reflection sr^k: the stabiliser of its degenerate partition.

    For odd group order this is {id, sr^k}; for even order (``x*y``, ``x/y``) it is
    larger (beyond arXiv 2604.00316; docs/science.md Q). No RFM is run.

    Returns:
      One ``{"reflection", "order", "elements", "generators"}`` dict per reflection,
      element and generator names as strings.
    """
    rows = []
    for k in range(sym.task.n):
        element = sym.task.n + k
        split = partition.degenerate_split(sym, [element])
        h = symmetry.stabilizer(sym, np.asarray(split.train), np.asarray(split.test))
        rows.append(
            {
                "reflection": sym.names[element],
                "order": h.order,
                "elements": [sym.names[e] for e in h.elements],
                "generators": list(h.names),
            }
        )
    return rows


# --- the confusion table ----------------------------------------------------------------------


# The predictions tested: each maps a partition's diagnostics to "RFM generalises".
PREDICTIONS = {
    # Finding 3.1: generalisation needs the symmetry of the data broken.
    "h_trivial": ("H trivial", "H non-trivial"),
    # A refinement (:func:`fixed_test_fraction`): no test point is fixed by H.
    "no_fixed_test": ("H fixes no test point", "H fixes a test point"),
}


def predict(diagnostics: dict) -> dict[str, bool]:
    """Whether each of :data:`PREDICTIONS` says the partition generalises."""
    return {
        "h_trivial": diagnostics["stabilizer_order"] == 1,
        "no_fixed_test": diagnostics["fixed_test_fraction"] == 0,
    }


def confusion(predicted, generalises) -> dict:
    """Cross-tabulate a prediction ("generalises") against what RFM did.

    Args:
      predicted: ``(B,)`` bool, the prediction says the run generalises (for Finding 3.1:
        the stabiliser is trivial).
      generalises: ``(B,)`` bool, final test accuracy reached the threshold.

    Returns:
      Counts ``generalises_as_predicted``, ``fails_against_prediction`` (predicted to
      generalise), ``generalises_against_prediction``, ``fails_as_predicted`` (predicted
      to fail), their ``total``, and ``prediction_accuracy`` (the fraction predicted
      right; None for an empty batch).
    """
    predicted = np.asarray(predicted, bool)
    generalises = np.asarray(generalises, bool)
    counts = {
        "generalises_as_predicted": int((predicted & generalises).sum()),
        "fails_against_prediction": int((predicted & ~generalises).sum()),
        "generalises_against_prediction": int((~predicted & generalises).sum()),
        "fails_as_predicted": int((~predicted & ~generalises).sum()),
    }
    total = predicted.size
    right = counts["generalises_as_predicted"] + counts["fails_as_predicted"]
    return {**counts, "total": total, "prediction_accuracy": right / total if total else None}


def confusion_rows(table: dict, labels: tuple[str, str] = PREDICTIONS["h_trivial"]) -> list[dict]:
    """The 2 x 2 table of :func:`confusion` as rows for :func:`grokrfm.sweep.format_table`;
    ``labels`` name the rows "predicted to generalise" and "predicted to fail"."""
    return [
        {
            "prediction": labels[0],
            "generalises": table["generalises_as_predicted"],
            "fails": table["fails_against_prediction"],
        },
        {
            "prediction": labels[1],
            "generalises": table["generalises_against_prediction"],
            "fails": table["fails_as_predicted"],
        },
    ]


# --- per-partition records -------------------------------------------------------------------


def partition_diagnostics(sym: SymmetryGroup, splits: Split) -> list[dict]:
    """What Finding 3.1 looks at in each split of a batch, before any RFM run.

    Returns:
      One dict per split: ``train_fraction``, ``stabilizer_order``,
      ``stabilizer_generators`` (names; empty when the stabiliser is trivial),
      ``fixed_test_fraction`` (:func:`fixed_test_fraction`) and
      ``unseen_label_fraction``.
    """
    stabilizing = symmetry.stabilizing_elements(sym, splits.train, splits.test)
    orders = stabilizing.sum(axis=-1)
    fixed = fixed_test_fraction(sym, splits, stabilizing)
    unseen = unseen_label_fraction(sym.task.labels, splits)
    train, test = np.asarray(splits.train), np.asarray(splits.test)
    return [
        {
            "train_fraction": float(train[i].sum() / sym.task.n_points),
            "stabilizer_order": int(orders[i]),
            "stabilizer_generators": (
                stabilizer_names(sym, train[i], test[i]) if orders[i] > 1 else []
            ),
            "fixed_test_fraction": float(fixed[i]),
            "unseen_label_fraction": float(unseen[i]),
        }
        for i in range(train.shape[0])
    ]


def outcome(record: dict, diagnostics: dict, threshold: float) -> dict:
    """A run record (:func:`grokrfm.sweep.run_records`) joined with its partition's
    diagnostics, its final accuracies, whether it generalised (final test accuracy >=
    ``threshold``) and what each of :data:`PREDICTIONS` said (``"predicted"``)."""
    final_test = record["test_acc"][-1]
    return {
        "family": record["setting"]["family"],
        **record,
        **diagnostics,
        "final_test_acc": final_test,
        "final_train_acc": record["train_acc"][-1],
        "generalises": bool(final_test >= threshold),
        "predicted": predict(diagnostics),
    }


def confusion_of(records: Sequence[dict], prediction: str = "h_trivial") -> dict:
    """:func:`confusion` of :func:`outcome` records for one of :data:`PREDICTIONS`."""
    return confusion(
        [r["predicted"][prediction] for r in records], [r["generalises"] for r in records]
    )


def confusion_tables(subsets: dict[str, Sequence[dict]]) -> dict:
    """``{prediction: {subset: table}}``: the :func:`confusion_of` table of every one of
    :data:`PREDICTIONS` on every named subset of :func:`outcome` records."""
    return {
        prediction: {key: confusion_of(runs, prediction) for key, runs in subsets.items()}
        for prediction in PREDICTIONS
    }


def family_rows(records: Sequence[dict]) -> list[dict]:
    """Per family (in :data:`grokrfm.families.FAMILIES` order) of :func:`outcome`
    records: how many, their training fractions, stabiliser orders, how many
    generalised, and how often each prediction was right."""
    rows = []
    for family in families.FAMILIES:
        runs = [r for r in records if r["family"] == family]
        if not runs:
            continue
        fractions = [r["train_fraction"] for r in runs]
        orders = sorted({r["stabilizer_order"] for r in runs})
        table, refined = confusion_of(runs), confusion_of(runs, "no_fixed_test")
        rows.append(
            {
                "family": family,
                "partitions": len(runs),
                "train_fraction_min": min(fractions),
                "train_fraction_max": max(fractions),
                "stabilizer_orders": orders,
                "h_trivial": sum(r["stabilizer_order"] == 1 for r in runs),
                "h_fixes_test": sum(r["fixed_test_fraction"] > 0 for r in runs),
                "generalises": sum(r["generalises"] for r in runs),
                "test_acc_mean": float(np.mean([r["final_test_acc"] for r in runs])),
                "prediction_accuracy": table["prediction_accuracy"],
                "refined_prediction_accuracy": refined["prediction_accuracy"],
            }
        )
    return rows


def mispredicted(records: Sequence[dict], prediction: str = "h_trivial") -> list[dict]:
    """The :func:`outcome` records where a prediction is wrong, each reduced to its index
    in ``records`` and the fields that explain it."""
    keys = (
        "family",
        "setting",
        "seed",
        "train_fraction",
        "stabilizer_order",
        "stabilizer_generators",
        "fixed_test_fraction",
        "unseen_label_fraction",
        "final_test_acc",
        "final_train_acc",
    )
    return [
        {"index": i, **{k: r[k] for k in keys}}
        for i, r in enumerate(records)
        if r["generalises"] != r["predicted"][prediction]
    ]


# --- partitions of any finite group, diagnosed in its computed symmetry groups --------------


class GroupSymmetries(NamedTuple):
    """The symmetry groups a partition of a task on any finite group is diagnosed in
    (:mod:`grokrfm.computed_symmetry`).

    Attributes:
      lp: the label-preserving group (Dih(G) for abelian G, G's right-regular action
        otherwise).
      atp: the autotopism group with operand swaps.
      atp_no_swap: the autotopism group without them.
      atp_enumerated: ``atp`` as a symmetry group, None when it has more than
        :data:`grokrfm.computed_symmetry.ELEMENT_LIMIT` elements.
    """

    lp: SymmetryGroup
    atp: cs.ComputedGroup
    atp_no_swap: cs.ComputedGroup
    atp_enumerated: SymmetryGroup | None

    @property
    def diagnosed(self) -> dict[str, SymmetryGroup | None]:
        """The groups :func:`group_diagnostics` measures stabilisers in, by name."""
        return {"lp": self.lp, "atp": self.atp_enumerated}


def group_symmetries(task: Task) -> GroupSymmetries:
    """The computed symmetry groups of ``task`` (see :class:`GroupSymmetries`)."""
    atp = cs.autotopism_group(task, swap=True)
    enumerated = cs.to_symmetry_group(atp) if atp.order <= cs.ELEMENT_LIMIT else None
    return GroupSymmetries(
        cs.label_preserving_group(task), atp, cs.autotopism_group(task, swap=False), enumerated
    )


def symmetry_report(task: Task, groups: GroupSymmetries) -> dict:
    """The orders and structure of a task's computed symmetry groups, JSON-ready."""
    return {
        "group": task.group.name,
        "order": task.n,
        "abelian": tasks.is_abelian(task.group),
        "lp_order": groups.lp.order,
        "lp_structure": cs.structure(groups.lp),
        "aut_order": groups.atp.stabilizer_order,
        "atp_order_no_swap": groups.atp_no_swap.order,
        "atp_order": groups.atp.order,
        "atp_generators": list(groups.atp.generator_names),
        "atp_enumerated": groups.atp_enumerated is not None,
    }


def group_diagnostics(
    task: Task, groups: dict[str, SymmetryGroup | None], splits: Split
) -> list[dict]:
    """Per split: the training fraction, the unseen-label fraction and, for each named
    symmetry group (None: not enumerated), the stabiliser's order and the fraction of
    test points a non-identity stabiliser element fixes."""
    train = np.asarray(splits.train)
    out = [
        {"train_fraction": float(t.mean()), "unseen_label_fraction": float(u)}
        for t, u in zip(train, unseen_label_fraction(task.labels, splits), strict=True)
    ]
    for name, sym in groups.items():
        if sym is None:
            for d in out:
                d[f"stabilizer_order_{name}"] = None
                d[f"fixed_test_fraction_{name}"] = None
            continue
        # The (batch, |G|, n_points) intermediate stays below ~32 MB.
        batch = max(1, int(2**25 // (sym.order * sym.task.n_points)))
        masks = symmetry.stabilizing_elements(sym, splits.train, splits.test, batch)
        fixed = fixed_test_fraction(sym, splits, masks)
        for d, m, f in zip(out, masks, fixed, strict=True):
            d[f"stabilizer_order_{name}"] = int(m.sum())
            d[f"fixed_test_fraction_{name}"] = float(f)
    return out


def _mean(values) -> float | None:
    """The mean of the values that are not None (None if there are none)."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def group_family_rows(
    records: Sequence[dict], threshold: float, groups: Sequence[str] = ("lp", "atp")
) -> list[dict]:
    """Per family of :data:`grokrfm.families.GROUP_FAMILIES` (in that order), over run
    records carrying their :func:`group_diagnostics` as ``"diagnostics"``: how many runs,
    the mean training fraction, the stabiliser orders seen and the mean fraction of test
    points fixed in each of ``groups``, the mean unseen-label fraction, the final test
    accuracy and how many runs reached ``threshold``."""
    rows = []
    for family in families.GROUP_FAMILIES:
        runs = [r for r in records if r["setting"]["family"] == family]
        if not runs:
            continue
        diagnostics = [r["diagnostics"] for r in runs]
        # Failed runs (a missing final accuracy) are left out of the statistics.
        acc = np.array([v for r in runs if (v := r["test_acc"][-1]) is not None], float)
        acc = acc[np.isfinite(acc)]
        std = float(acc.std(ddof=1)) if acc.size > 1 else 0.0  # sample std over seeds
        row = {
            "family": family,
            "runs": len(runs),
            "train_fraction": _mean([d["train_fraction"] for d in diagnostics]),
        }
        for name in groups:
            orders = {d[f"stabilizer_order_{name}"] for d in diagnostics}
            row[f"stabilizer_{name}"] = "/".join(
                map(str, sorted(orders, key=lambda v: (v is None, v)))
            )
            row[f"fixes_test_{name}"] = _mean(
                [d[f"fixed_test_fraction_{name}"] for d in diagnostics]
            )
        row.update(
            unseen_labels=_mean([d["unseen_label_fraction"] for d in diagnostics]),
            test_acc_mean=float(acc.mean()) if acc.size else None,
            test_acc_std=std,
            test_acc=f"{100 * acc.mean():.1f} ± {100 * std:.1f}%" if acc.size else "-",
            generalises=int((acc >= threshold).sum()),
        )
        rows.append(row)
    return rows
