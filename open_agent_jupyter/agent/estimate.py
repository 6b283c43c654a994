"""Before a task runs: how hard and how expensive it will probably be; after: how good that was.

The estimator is a heuristic over the task's text. It makes **no LLM call**, so an estimate
costs nothing and adds no latency or failure mode before the loop starts; its parameters are
tuned instead by ``open-agent calibrate`` against real runs.

1. Features of the text (``task_features``): ``words`` (count), ``verbs`` (action verbs
   such as create, fix, refactor, install — each occurrence), ``files`` (distinct file names
   with a known extension), ``steps`` (bullet or numbered lines, and "then", "finally",
   "after that", "next"), ``keywords`` (distinct costly topics: test, package, refactor,
   API, database, server, docker, async, ...).
2. Complexity 0..1 = sum over features of ``weight_<f> * min(value / saturate_<f>, 1)``,
   clipped; ``level`` is low / medium / high by the ``level_low`` / ``level_high`` thresholds.
3. Iterations = ``iterations_min + complexity * (iterations_max - iterations_min)``, rounded
   and capped by the task's ``max_iterations``.
4. Tokens: every iteration re-sends the whole conversation, which grows as tool calls and
   results pile up, so iteration *i* sends ``base_tokens + task tokens + growth_per_iteration
   * (i - 1)`` prompt tokens (capped at ``context_tokens``) and writes
   ``completion_per_iteration``; the sum over the iterations, times ``token_multiplier``.
5. Cost: prompt and completion tokens at the model's prices from the endpoint's model list
   (``llm.pricing.get_price``, cached). When the price is unknown the fallback price below
   is used and the estimate says ``"priced": false``.

Parameters come from ``WORKING_DIR/.open_agent/tuning.json`` when present, else defaults; the
file's format is documented in ``agent.tuning``. A malformed file never fails a task: the
defaults are used and the estimate carries a ``"warning"``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from ..config import Settings
from ..llm.pricing import get_price
from ..types import RunState
from .tuning import Tuning, load_tuning

#: USD per token used when the endpoint does not list the model (Claude Sonnet's list price).
FALLBACK_PROMPT_PRICE = 3e-6
FALLBACK_COMPLETION_PRICE = 15e-6

_VERBS = (
    "add|build|change|configure|convert|create|debug|delete|deploy|document|extend|fix|"
    "generate|handle|implement|install|integrate|make|migrate|modify|move|optimi[sz]e|parse|"
    "refactor|remove|rename|replace|rewrite|run|set up|support|test|update|upgrade|validate|"
    "write"
)
_VERB_RE = re.compile(rf"\b(?:{_VERBS})(?:s|es|ed|d|ing)?\b", re.IGNORECASE)
_FILE_RE = re.compile(
    r"[\w./-]+\.(?:py|ipynb|js|jsx|ts|tsx|json|ya?ml|toml|md|txt|csv|html|css|sh|cfg|ini|"
    r"sql|rs|go|java|c|cpp|h|rb|php)\b",
    re.IGNORECASE,
)
_STEP_LINE_RE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+", re.MULTILINE)
_STEP_WORD_RE = re.compile(r"\b(?:then|finally|next|after that)\b", re.IGNORECASE)
_KEYWORDS = {
    "test": r"tests?|pytest|unittest",
    "package": r"package|pip|pyproject|setup\.py",
    "refactor": r"refactor\w*",
    "api": r"api|rest|endpoint|http",
    "database": r"database|sql|sqlite|postgres\w*",
    "server": r"server|flask|fastapi|django",
    "docker": r"docker\w*|container",
    "async": r"async\w*|concurren\w*|thread\w*",
    "cli": r"cli|command[- ]line|argparse",
    "class": r"class(?:es)?|module",
    "git": r"git|commit|branch",
    "web": r"scrap\w*|crawl\w*|browser",
    "auth": r"auth\w*|login|oauth",
}
#: (feature, weight parameter, saturation parameter)
_WEIGHTED = (
    ("words", "weight_length", "saturate_words"),
    ("verbs", "weight_verbs", "saturate_verbs"),
    ("files", "weight_files", "saturate_files"),
    ("steps", "weight_steps", "saturate_steps"),
    ("keywords", "weight_keywords", "saturate_keywords"),
)
_KEYWORD_RES = {name: re.compile(rf"\b(?:{rx})\b", re.IGNORECASE) for name, rx in _KEYWORDS.items()}


def task_features(task: str) -> dict[str, int]:
    """The countable features of a task's text that the complexity score weighs."""
    return {
        "words": len(re.findall(r"\w+", task)),
        "verbs": len(_VERB_RE.findall(task)),
        "files": len({m.lower() for m in _FILE_RE.findall(task)}),
        "steps": len(_STEP_LINE_RE.findall(task)) + len(_STEP_WORD_RE.findall(task)),
        "keywords": sum(1 for rx in _KEYWORD_RES.values() if rx.search(task)),
    }


def complexity(features: dict[str, int], params: dict[str, float]) -> float:
    """Complexity 0..1: the weighted, saturated features."""
    score = sum(params[weight] * min(features[feature] / params[saturate], 1.0)
                for feature, weight, saturate in _WEIGHTED)
    return min(max(score, 0.0), 1.0)


def predict(task: str, params: dict[str, float], *, max_iterations: int,
            context_tokens: int, price: tuple[float, float]) -> dict[str, Any]:
    """The estimate's figures for ``task`` under ``params``; ``price`` is USD per token (in, out)."""
    features = task_features(task)
    score = complexity(features, params)
    span = params["iterations_max"] - params["iterations_min"]
    iterations = max(1, min(round(params["iterations_min"] + score * span), max_iterations))
    task_tokens = max(1, len(task) // 4)
    first = params["base_tokens"] + task_tokens
    prompt = sum(min(first + params["growth_per_iteration"] * i, context_tokens)
                 for i in range(iterations))
    prompt_tokens = round(prompt * params["token_multiplier"])
    completion_tokens = round(
        iterations * params["completion_per_iteration"] * params["token_multiplier"])
    cost = prompt_tokens * price[0] + completion_tokens * price[1]
    return {
        "complexity": round(score, 3),
        "level": _level(score, params),
        "iterations": iterations,
        "tokens": prompt_tokens + completion_tokens,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": round(cost, 6),
        "features": features,
    }


async def make_estimate(task: str, settings: Settings, http: httpx.AsyncClient) -> dict[str, Any]:
    """The estimate of ``task`` for ``settings.model`` (no LLM call; never fails on prices)."""
    tuning: Tuning = await asyncio.to_thread(load_tuning, settings.working_dir)
    price, priced = await model_price(settings, http)
    estimate = predict(task, tuning.params, max_iterations=settings.max_iterations,
                       context_tokens=settings.context_tokens, price=price)
    estimate.update(model=settings.model, source=tuning.source, priced=priced)
    if tuning.warning:
        estimate["warning"] = tuning.warning
    return estimate


async def model_price(settings: Settings, http: httpx.AsyncClient) -> tuple[tuple[float, float], bool]:
    """``((prompt, completion) USD per token, known)``; the fallback price when unknown."""
    price = await get_price(http, settings.base_url, settings.model, settings.api_key)
    if price is None:
        return (FALLBACK_PROMPT_PRICE, FALLBACK_COMPLETION_PRICE), False
    return (price.prompt, price.completion), True


def settle_estimate(estimate: dict[str, Any], state: RunState) -> dict[str, Any]:
    """The estimate plus the run's actual figures and the relative error of each prediction."""
    actual = {
        "iterations": state.iterations,
        "tokens": state.usage.total_tokens,
        "cost_usd": round(state.usage.cost_usd, 6),
    }
    errors = {key: relative_error(estimate.get(key), value) for key, value in actual.items()}
    return {**estimate, "actual": actual, "relative_error": errors}


def relative_error(predicted: float | None, actual: float) -> float | None:
    """``(predicted - actual) / actual``, rounded; None when there is nothing to compare."""
    if predicted is None or not actual:
        return None
    return round((predicted - actual) / actual, 4)


def _level(score: float, params: dict[str, float]) -> str:
    if score < params["level_low"]:
        return "low"
    return "medium" if score < params["level_high"] else "high"
