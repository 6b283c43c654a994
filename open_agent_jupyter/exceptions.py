"""Every exception the package raises, in one hierarchy.

::

    OpenAgentError
     ├── ConfigError                 a bad setting; the message names the variable
     ├── LLMError                    the LLM endpoint failed; ``message`` is for a user
     │    ├── LLMTransientError      worth retrying (see ``llm.retry``)
     │    │    ├── RateLimitError          429
     │    │    ├── LLMTimeoutError         408, or silence past the read timeout
     │    │    ├── LLMServerError          5xx
     │    │    ├── LLMConnectionError      connection refused / reset / DNS
     │    │    └── StreamCutError          a streamed answer ended before [DONE]
     │    └── LLMFatalError          never retried; the task fails with the reason
     │         ├── AuthenticationError     401 "invalid API key"
     │         ├── InsufficientCreditsError 402
     │         ├── PermissionDeniedError   403
     │         ├── ModelNotFoundError      404, or 400 naming an unknown model
     │         ├── BadRequestError         other 4xx
     │         └── ResponseFormatError     an answer that is not chat-completions JSON
     ├── AgentStop                   the loop ends before the model answered
     │    ├── IterationLimitReached
     │    └── BudgetExceeded
     ├── TaskNotFoundError           no task with that id
     ├── ApprovalNotFoundError       no approval with that id in that task (404)
     ├── ApprovalAnsweredError       the approval was already decided (409)
     ├── DailyBudgetReached          today's spend reached daily_budget_cents (429)
     ├── StorageError                the task database cannot be written (full, read-only, damaged)
     ├── OpenCodeError               the OpenCode server failed or cannot be reached
     ├── KernelError                 a notebook tool's kernel cannot run the code
     │    └── KernelDiedError        the kernel died (or restarted) while it ran
     ├── NotebookError               a notebook cannot be read or edited (file untouched)
     └── TasksFileError              a bad calibration task file (line and reason)
"""

from __future__ import annotations


class OpenAgentError(Exception):
    """Base of every error raised by open_agent_jupyter."""


class StorageError(OpenAgentError):
    """The task database cannot be written now; the message says which file and why."""


class ConfigError(OpenAgentError):
    """A setting has a bad value; the message names the variable."""


class LLMError(OpenAgentError):
    """The LLM endpoint failed. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class LLMTransientError(LLMError):
    """A failure worth retrying with backoff."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class RateLimitError(LLMTransientError):
    """429 Too Many Requests."""


class LLMTimeoutError(LLMTransientError):
    """408, or no byte from the endpoint within the read timeout."""


class LLMServerError(LLMTransientError):
    """A 5xx answer."""


class LLMConnectionError(LLMTransientError):
    """The endpoint could not be reached (refused, reset, DNS)."""


class StreamCutError(LLMTransientError):
    """A streamed answer stopped before it was complete."""


class LLMFatalError(LLMError):
    """A failure that retrying cannot fix."""


class AuthenticationError(LLMFatalError):
    """401: the API key is missing or invalid."""


class InsufficientCreditsError(LLMFatalError):
    """402: the account has no credits left."""


class PermissionDeniedError(LLMFatalError):
    """403: the key may not use this model or endpoint."""


class ModelNotFoundError(LLMFatalError):
    """The endpoint does not know the model."""


class BadRequestError(LLMFatalError):
    """Another 4xx: the request itself was refused."""


class ResponseFormatError(LLMFatalError):
    """The endpoint answered with something that is not a chat completion."""


class AgentStop(OpenAgentError):
    """The loop stops before the model gave its answer."""


class IterationLimitReached(AgentStop):
    """``max_iterations`` steps were taken."""


class BudgetExceeded(AgentStop):
    """The task's cost reached ``budget_cents``."""


class TaskNotFoundError(OpenAgentError):
    """No task has that id."""


class ApprovalNotFoundError(OpenAgentError):
    """The task has no approval with that id."""


class ApprovalAnsweredError(OpenAgentError):
    """The approval was decided already (by a person, a timeout or a stop)."""


class DailyBudgetReached(OpenAgentError):
    """Today's spend on this server reached ``daily_budget_cents``."""


class OpenCodeError(OpenAgentError):
    """The OpenCode server failed, answered an error, or cannot be reached."""


class KernelError(OpenAgentError):
    """The task's kernel cannot be reached or started; the message says why."""


class KernelDiedError(KernelError):
    """The kernel died or was restarted while code ran (its variables are gone)."""


class NotebookError(OpenAgentError):
    """A notebook cannot be read or edited (missing, malformed, no such cell)."""


class TasksFileError(OpenAgentError):
    """A calibration tasks file is malformed; the message says where and why."""
