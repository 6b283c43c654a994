"""HTTP clients for the engine: one TLS context, built once, for all of them.

Loading the CA bundle takes ~20 ms of CPU. Done for every client (each task, each web
fetch, each OpenCode health check) it would stall the Jupyter server's event loop that
long each time; the server builds the context once at start-up, off the loop.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context every engine client uses."""
    return httpx.create_ssl_context()


def async_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with the shared TLS context (``options`` go to httpx)."""
    return httpx.AsyncClient(verify=tls_context(), **options)
