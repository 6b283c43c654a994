"""The OpenAI-compatible LLM client: streaming, retries, usage and cost."""

from .client import LLMClient

__all__ = ["LLMClient"]
