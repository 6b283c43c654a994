"""Fit the estimator's parameters to measured runs (a coordinate search, no scipy).

The loss is the mean over tasks of ``|log(predicted / actual)|`` for iterations plus the same
for tokens: symmetric (predicting half and predicting double are equally wrong) and scale-free
(a large task does not drown the small ones). Cost is not fitted directly because it follows
from tokens and prices; its error is reported. The search starts from the parameters in force
and, round after round, tries scaling each fitted parameter by a few factors, keeping any
change that lowers the loss, until a round brings no improvement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..agent.estimate import predict
from ..agent.tuning import PARAM_RANGES
from .runner import Measurement

#: The parameters the search moves; the complexity weights and thresholds stay as they are
#: (a handful of calibration tasks cannot pin them down without over-fitting).
FITTED = ("iterations_min", "iterations_max", "base_tokens", "growth_per_iteration",
          "completion_per_iteration", "token_multiplier")
FACTORS = (0.25, 0.5, 0.7, 0.85, 0.95, 1.05, 1.18, 1.4, 2.0, 4.0)
MAX_ROUNDS = 60


@dataclass(frozen=True)
class Model:
    """What a prediction needs besides the parameters."""

    max_iterations: int
    context_tokens: int
    price: tuple[float, float]

    def predict(self, task: str, params: dict[str, float]) -> dict[str, Any]:
        """The estimator's figures for ``task`` under ``params``."""
        return predict(task, params, max_iterations=self.max_iterations,
                       context_tokens=self.context_tokens, price=self.price)


def errors(measurements: Sequence[Measurement], params: dict[str, float],
           model: Model) -> dict[str, float | None]:
    """Mean absolute relative error of iterations, tokens and cost over the measurements."""
    sums = {"iterations": [], "tokens": [], "cost_usd": []}
    for m in measurements:
        pred = model.predict(m.task, params)
        for key, actual in (("iterations", m.iterations), ("tokens", m.tokens),
                            ("cost_usd", m.cost_usd)):
            if actual > 0:
                sums[key].append(abs(pred[key] - actual) / actual)
    return {k: (round(sum(v) / len(v), 4) if v else None) for k, v in sums.items()}


def loss(measurements: Sequence[Measurement], params: dict[str, float], model: Model) -> float:
    """The search's objective (see the module docstring)."""
    total = 0.0
    for m in measurements:
        pred = model.predict(m.task, params)
        total += abs(math.log(pred["iterations"] / m.iterations))
        total += abs(math.log(max(pred["tokens"], 1) / m.tokens))
    return total / len(measurements)


def fit(measurements: Sequence[Measurement], start: dict[str, float],
        model: Model) -> tuple[dict[str, float], dict[str, Any]]:
    """The best parameters found and a report ``{tasks, before, after}`` of errors."""
    usable = [m for m in measurements if m.usable]
    if not usable:
        raise ValueError("no task called the model, so there is nothing to fit")
    params, best = dict(start), loss(usable, start, model)
    for _ in range(MAX_ROUNDS):
        improved = False
        for name in FITTED:
            for candidate in _candidates(params, name):
                value = loss(usable, candidate, model)
                if value < best - 1e-9:
                    params, best, improved = candidate, value, True
        if not improved:
            break
    report = {"tasks": len(usable), "before": errors(usable, start, model),
              "after": errors(usable, params, model)}
    return params, report


def _candidates(params: dict[str, float], name: str) -> list[dict[str, float]]:
    low, high = PARAM_RANGES[name]
    current = params[name]
    values = [current * f for f in FACTORS] if current > 0 else [1.0, 10.0, 100.0, 1000.0]
    found = []
    for value in values:
        value = min(max(value, low), high)
        if value == current:
            continue
        candidate = {**params, name: value}
        if candidate["iterations_max"] >= candidate["iterations_min"]:
            found.append(candidate)
    return found
