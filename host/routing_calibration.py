"""Fitting a router's score curve, threshold and margin on labelled messages.

Routing itself (`host.routing`) only reads the fitted `RouterSettings`; this module produces them,
offline (`bench/routing.py`) or when an operator recalibrates for their own agents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from host.routing import Router, RouterSettings
from host.text import looks_vietnamese


def calibrate(
    router: Router,
    in_scope: Sequence[tuple[str, str]],
    out_of_scope: Sequence[str],
    *,
    target_oos_recall: float = 0.75,
    margins: Sequence[float] = (0.0, 0.005, 0.01, 0.02),
    recall_confidence: float = 1.0,
) -> RouterSettings:
    """Fit the score curve, threshold, margin and semantic background of `router` on labelled messages.

    `in_scope` pairs a message with the agent that should handle it; `out_of_scope` messages should
    be clarified. The logistic curve is fitted to "the best-scoring agent is right"; then, among the
    margins given, the threshold and margin chosen are those with the highest in-scope accuracy
    (clarifications count as misses) that still clarify at least `target_oos_recall` of the
    out-of-scope messages, with `recall_confidence` standard errors to spare: recall measured on a
    hundred messages is uncertain by about four points, so the threshold is set where the Wilson
    lower bound of the measured recall reaches the target, not the measurement itself. The
    semantic background is the median similarity of the English in-scope messages to the agents
    they are not for. Use messages the agents were not configured with. Whole messages only: the
    multiple-intent check reuses the threshold and margin. Returns new settings;
    `router.with_settings(...)` applies them without re-encoding the agents.
    """
    if not in_scope or not out_of_scope:
        raise ValueError("calibration needs both in-scope and out-of-scope messages")
    if not 0.0 < target_oos_recall <= 1.0:
        raise ValueError(f"target_oos_recall must be in (0, 1], got {target_oos_recall}")
    if not (math.isfinite(recall_confidence) and recall_confidence >= 0):
        raise ValueError(f"recall_confidence must be a finite number >= 0, got {recall_confidence}")
    best_bound = _recall_lower_bound(len(out_of_scope), len(out_of_scope), recall_confidence)
    if best_bound < target_oos_recall:
        raise ValueError(
            f"{len(out_of_scope)} out-of-scope messages cannot show a recall of {target_oos_recall} with"
            f" recall_confidence {recall_confidence}: even all of them caught bound it at {best_bound:.3f};"
            " give more messages or a lower recall_confidence"
        )
    names = router.names
    unknown = sorted({agent for _, agent in in_scope} - set(names))
    if unknown:
        raise ValueError(f"in-scope labels name unknown agents: {', '.join(unknown)}")

    evidence = router.evidence([message for message, _ in in_scope] + list(out_of_scope))
    raw = evidence.raw
    top = raw.max(axis=1)
    expected = np.array([names.index(agent) for _, agent in in_scope])
    background = router.settings.semantic_background
    english = np.array([not looks_vietnamese(message) for message, _ in in_scope])
    if len(names) > 1 and english.any():
        # What an English message scores, on average, with the agents it is not for.
        neighbours = evidence.neighbours[: len(in_scope)]
        own = neighbours[np.arange(len(in_scope)), expected]
        others = (neighbours.sum(axis=1) - own) / (len(names) - 1)
        background = float(np.median(others[english]))
    correct = np.zeros(len(raw), dtype=bool)
    correct[: len(in_scope)] = raw[: len(in_scope)].argmax(axis=1) == expected
    slope, offset = _fit_logistic(top, correct)
    curve = router.settings.model_copy(
        update={"score_slope": slope, "score_offset": offset, "semantic_background": round(background, 4)}
    )

    ordered = np.sort(raw, axis=1)
    best = curve.calibrated(ordered[:, -1])
    gap = ordered[:, -1] - ordered[:, -2] if raw.shape[1] > 1 else np.full(len(raw), np.inf)
    is_oos = np.arange(len(raw)) >= len(in_scope)
    chosen: tuple[float, float, float] | None = None  # (accuracy, threshold, margin)
    for margin in margins:
        thresholds = np.unique(np.concatenate([[0.0], best[is_oos] + 1e-9]))
        for threshold in thresholds:
            clarified = (best < threshold) | (gap < margin)
            caught = int(clarified[is_oos].sum())
            if _recall_lower_bound(caught, int(is_oos.sum()), recall_confidence) < target_oos_recall:
                continue
            accuracy = float((correct & ~clarified)[~is_oos].mean())
            if chosen is None or accuracy > chosen[0]:
                chosen = (accuracy, float(threshold), float(margin))
            break  # higher thresholds only clarify more in-scope messages
    if chosen is None:
        raise ValueError(f"no threshold reaches an out-of-scope recall of {target_oos_recall}")
    # Rounded up, so the rounding never lets through an out-of-scope message the threshold caught.
    return curve.model_copy(update={"threshold": math.ceil(chosen[1] * 1e4) / 1e4, "margin": chosen[2]})


def _recall_lower_bound(caught: int, total: int, z: float) -> float:
    """Wilson score lower bound of a recall of `caught` / `total`, `z` standard errors down."""
    if z == 0:
        return caught / total
    share = caught / total
    spread = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return (share + z * z / (2 * total) - spread) / (1 + z * z / total)


def _fit_logistic(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Platt scaling: `slope`, `offset` of P(y) = 1 / (1 + exp(-slope * (x - offset))), by Newton's method."""
    if y.all() or not y.any():
        raise ValueError("calibration needs both correctly and wrongly routed messages")
    features = np.column_stack([x, np.ones_like(x)])
    theta = np.zeros(2)
    ridge = 1e-6 * np.eye(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-features @ theta))
        gradient = features.T @ (p - y)
        hessian = features.T @ (features * (p * (1 - p))[:, None]) + ridge
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    slope, intercept = float(theta[0]), float(theta[1])
    if slope <= 0:
        raise ValueError("calibration data shows no link between score and correct routing")
    return round(slope, 4), round(-intercept / slope, 4)
