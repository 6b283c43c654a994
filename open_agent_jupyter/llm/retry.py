"""The one table that turns LLM-endpoint failures into typed errors, and the retry loop.

Every failure of a chat-completions call becomes an ``exceptions.LLMError`` subclass here:

======================================  ==========================  =========
failure                                 raised as                   retried
======================================  ==========================  =========
HTTP 429                                RateLimitError              yes
HTTP 408, silence past the read timeout LLMTimeoutError             yes
HTTP 5xx                                LLMServerError              yes
refused / reset / DNS / protocol error  LLMConnectionError          yes
stream ended before [DONE]/finish       StreamCutError              yes
HTTP 401                                AuthenticationError         no
HTTP 402                                InsufficientCreditsError    no
HTTP 403                                PermissionDeniedError       no
HTTP 404, or 400 naming a bad model     ModelNotFoundError          no
other 4xx                               BadRequestError             no
non-JSON / malformed answer             ResponseFormatError         no
======================================  ==========================  =========

What is retried is decided by the class alone: ``LLMTransientError`` subclasses are, the
rest are not. Retries wait ``backoff_base * 2**attempt`` seconds (capped at 30 s, plus up to
25 % jitter), or what the endpoint's ``Retry-After`` header asks for (capped at 60 s).
An ``{"error": {...}}`` object that arrives inside a 200 answer or mid-stream (OpenRouter
does this) is mapped by its ``code`` through the same table.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from ..exceptions import (
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    LLMConnectionError,
    LLMError,
    LLMServerError,
    LLMTimeoutError,
    LLMTransientError,
    ModelNotFoundError,
    PermissionDeniedError,
    RateLimitError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 60.0

#: HTTP status → (error class, message prefix). Anything 5xx is LLMServerError.
STATUS_TABLE: dict[int, tuple[type[LLMError], str]] = {
    401: (AuthenticationError, "invalid API key (HTTP 401): check OPENROUTER_API_KEY"),
    402: (InsufficientCreditsError,
          "insufficient credits (HTTP 402): add credits to the account of OPENROUTER_API_KEY"),
    403: (PermissionDeniedError, "permission denied (HTTP 403)"),
    408: (LLMTimeoutError, "the LLM endpoint timed out (HTTP 408)"),
    429: (RateLimitError, "rate limited by the LLM endpoint (HTTP 429)"),
}

#: Textual error codes (OpenAI / OpenRouter) → the HTTP status they stand for.
CODE_TABLE: dict[str, int] = {
    "invalid_api_key": 401, "authentication_error": 401, "unauthorized": 401,
    "insufficient_quota": 402, "insufficient_credits": 402, "payment_required": 402,
    "permission_denied": 403, "forbidden": 403, "model_not_found": 404, "not_found": 404,
    "timeout": 408, "request_timeout": 408, "rate_limit_exceeded": 429, "rate_limited": 429,
    "invalid_request_error": 400, "bad_request": 400, "context_length_exceeded": 400,
    "server_error": 500, "internal_error": 500, "overloaded": 503, "service_unavailable": 503,
}

_BAD_MODEL = re.compile(
    r"not a valid model|invalid model|model\b.*\b(not found|does not exist|not exist|"
    r"is not valid|unknown|not supported)|no (such|endpoints found for) model|unknown model",
    re.IGNORECASE,
)


def error_for_status(status: int, message: str, model: str,
                     retry_after: float | None = None) -> LLMError:
    """The typed error for an HTTP status and the endpoint's own message."""
    if status == 404 or (status == 400 and _BAD_MODEL.search(message or "")):
        return ModelNotFoundError(f"model not found: {model} ({message})" if message
                                  else f"model not found: {model}", status)
    if status in STATUS_TABLE:
        cls, prefix = STATUS_TABLE[status]
        text = f"{prefix}: {message}" if message else prefix
        if issubclass(cls, LLMTransientError):
            return cls(text, status, retry_after)
        return cls(text, status)
    if status >= 500:
        text = f"the LLM endpoint failed (HTTP {status})"
        return LLMServerError(f"{text}: {message}" if message else text, status, retry_after)
    text = f"the LLM endpoint refused the request (HTTP {status})"
    return BadRequestError(f"{text}: {message}" if message else text, status)


def error_for_object(error: Any, model: str, default_status: int = 500) -> LLMError:
    """The typed error for an ``{"error": {...}}`` object (in an error body, a 200, a stream)."""
    if not isinstance(error, dict):
        return error_for_status(default_status, str(error), model)
    message = str(error.get("message") or "")
    metadata = error.get("metadata")
    if isinstance(metadata, dict) and metadata.get("raw"):
        message = f"{message} ({str(metadata['raw'])[:300]})"
    return error_for_status(_status_of(error.get("code"), default_status), message, model)


def _status_of(code: Any, default: int) -> int:
    if isinstance(code, int) and 100 <= code <= 599:
        return code
    if isinstance(code, str):
        if code.isdigit() and 100 <= int(code) <= 599:
            return int(code)
        return CODE_TABLE.get(code.lower(), default)
    return default


def error_for_exception(exc: httpx.TransportError, base_url: str = "") -> LLMError:
    """The typed (transient) error for an httpx transport failure, naming the endpoint."""
    detail = str(exc) or type(exc).__name__
    where = f"the LLM endpoint {base_url} (OPENROUTER_BASE_URL)" if base_url else \
        "the LLM endpoint"
    if isinstance(exc, httpx.ConnectTimeout):
        return LLMConnectionError(f"could not connect to {where} in time: {detail}")
    if isinstance(exc, httpx.TimeoutException):
        return LLMTimeoutError(f"{where} went silent past LLM_READ_TIMEOUT: {detail}")
    return LLMConnectionError(f"could not reach {where}: {detail}")


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (number or HTTP date), capped."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def retry_delay(attempt: int, backoff_base: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based)."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP)
    delay = min(backoff_base * 2**attempt, BACKOFF_CAP)
    return min(delay * (1 + random.uniform(0, 0.25)), BACKOFF_CAP)


#: Told of each retry before its wait: ``(retry number from 1, max_retries, error, seconds)``.
RetryCallback = Callable[[int, int, LLMTransientError, float], Awaitable[None]]


async def with_retries(call: Callable[[], Awaitable[T]], max_retries: int,
                       backoff_base: float = 1.0, on_retry: RetryCallback | None = None) -> T:
    """Await ``call()``, retrying transient LLM errors; raise the last one when out of retries.

    Each retry is announced to ``on_retry`` (the loop logs it as a ``notice``); nothing is
    written to stderr, which inside a kernel would land in the person's cell.
    """
    attempt = 0
    while True:
        try:
            return await call()
        except LLMTransientError as err:
            if attempt >= max_retries:
                raise
            delay = retry_delay(attempt, backoff_base, err.retry_after)
            log.info("LLM call failed (%s); retry %d/%d in %.2fs",
                     err.message, attempt + 1, max_retries, delay)
            if on_retry is not None:
                await on_retry(attempt + 1, max_retries, err, delay)
            await asyncio.sleep(delay)
            attempt += 1
