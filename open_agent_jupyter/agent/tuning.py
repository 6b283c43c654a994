"""The estimator's parameters and the tuning file that overrides them.

The file is ``WORKING_DIR/.open_agent/tuning.json`` (``open-agent calibrate --write-tuning``
writes it; a person may edit it). Format, version 1::

    {
      "version": 1,                         # required; other versions are ignored
      "model": "anthropic/claude-sonnet-4.5",   # the model it was calibrated with (informative)
      "created_at": "2025-01-01T12:00:00+00:00",
      "params": {                           # any subset of DEFAULT_PARAMS; missing keys keep defaults
        "token_multiplier": 1.0,
        "base_tokens": 1600,
        ...
      },
      "fit": {                              # informative: how well the params fit the calibration
        "tasks": 3, "interrupted": false,
        "before": {"iterations": 0.41, "tokens": 0.62, "cost_usd": 0.60},
        "after":  {"iterations": 0.12, "tokens": 0.18, "cost_usd": 0.17}
      }
    }

``fit`` figures are mean absolute relative errors (0.18 = predictions were off by 18 % on
average). Unknown keys in ``params`` are ignored (a newer file stays readable). A file that
is not JSON, has another version, or has a parameter that is not a number in its range is
*malformed*: the estimator then uses the defaults and says why (``Tuning.warning``); it never
fails a task.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TUNING_VERSION = 1
TUNING_RELPATH = Path(".open_agent") / "tuning.json"

#: Every parameter, its default and its meaning. Tokens are LLM tokens.
DEFAULT_PARAMS: dict[str, float] = {
    # Weights of the task-text features in the complexity score (they need not sum to 1;
    # the score is clipped to 0..1). See ``estimate.task_features``.
    "weight_length": 0.30,
    "weight_verbs": 0.20,
    "weight_files": 0.15,
    "weight_steps": 0.15,
    "weight_keywords": 0.30,
    # A feature counts fully (1.0) once it reaches this value.
    "saturate_words": 120.0,
    "saturate_verbs": 6.0,
    "saturate_files": 4.0,
    "saturate_steps": 5.0,
    "saturate_keywords": 4.0,
    # Complexity below ``level_low`` is "low", below ``level_high`` "medium", else "high".
    "level_low": 0.33,
    "level_high": 0.66,
    # Expected iterations (LLM calls) = iterations_min + complexity * (max - min), rounded.
    "iterations_min": 2.0,
    "iterations_max": 30.0,
    # Prompt of iteration i (1-based) = base_tokens + task tokens + growth * (i - 1):
    # each step re-sends the whole conversation, which grows by about one tool call and result.
    # base_tokens covers the system prompt and the 13 tool schemas (about 1,450 tokens).
    "base_tokens": 1600.0,
    "growth_per_iteration": 700.0,
    # Completion tokens the model writes per iteration (tool arguments, answers).
    "completion_per_iteration": 250.0,
    # Everything above is multiplied by this (the quickest knob for a verbose model).
    "token_multiplier": 1.0,
}

#: Allowed range of each parameter (inclusive); values outside make the file malformed.
PARAM_RANGES: dict[str, tuple[float, float]] = {
    **{k: (0.0, 10.0) for k in DEFAULT_PARAMS if k.startswith("weight_")},
    **{k: (1e-6, 1e6) for k in DEFAULT_PARAMS if k.startswith("saturate_")},
    "level_low": (0.0, 1.0),
    "level_high": (0.0, 1.0),
    "iterations_min": (1.0, 1000.0),
    "iterations_max": (1.0, 1000.0),
    "base_tokens": (0.0, 1e7),
    "growth_per_iteration": (0.0, 1e7),
    "completion_per_iteration": (0.0, 1e7),
    "token_multiplier": (1e-3, 1000.0),
}


@dataclass
class Tuning:
    """The parameters in force and where they came from."""

    params: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    #: "default", or the path of the tuning file the params were read from.
    source: str = "default"
    #: Why a tuning file was ignored, when it was.
    warning: str | None = None


def tuning_path(working_dir: str | os.PathLike[str]) -> Path:
    """Where the tuning file of ``working_dir`` lives."""
    return Path(working_dir).expanduser() / TUNING_RELPATH


def load_tuning(working_dir: str | os.PathLike[str]) -> Tuning:
    """The tuning of ``working_dir``: its file when present and well-formed, else the defaults."""
    path = tuning_path(working_dir)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Tuning()
    except OSError as exc:
        return _rejected(path, f"cannot be read ({exc.strerror or exc})")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _rejected(path, f"is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
    try:
        params = parse_params(data)
    except ValueError as exc:
        return _rejected(path, str(exc))
    return Tuning(params=params, source=str(path))


def parse_params(data: Any) -> dict[str, float]:
    """The full parameter set from a tuning document; ``ValueError`` says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object")
    if data.get("version") != TUNING_VERSION:
        raise ValueError(f"has version {data.get('version')!r}; this version reads {TUNING_VERSION}")
    given = data.get("params", {})
    if not isinstance(given, dict):
        raise ValueError('"params" must be an object')
    params = dict(DEFAULT_PARAMS)
    for key, value in given.items():
        if key not in DEFAULT_PARAMS:
            continue  # a parameter of a newer version: ignored on purpose
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f'parameter "{key}" must be a number, not {value!r}')
        low, high = PARAM_RANGES[key]
        if not low <= value <= high:
            raise ValueError(f'parameter "{key}" = {value} is outside {low:g}..{high:g}')
        params[key] = float(value)
    if params["iterations_max"] < params["iterations_min"]:
        raise ValueError('"iterations_max" must not be below "iterations_min"')
    return params


def write_tuning(working_dir: str | os.PathLike[str], model: str,
                 params: dict[str, float], fit: dict[str, Any]) -> Path:
    """Write the tuning file of ``working_dir`` atomically; returns its path."""
    path = tuning_path(working_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "version": TUNING_VERSION,
        "model": model,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "params": {k: round(v, 6) for k, v in params.items()},
        "fit": fit,
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _rejected(path: Path, why: str) -> Tuning:
    message = f"ignoring tuning file {path}: it {why}; using default estimator parameters"
    log.warning(message)
    return Tuning(warning=message)
