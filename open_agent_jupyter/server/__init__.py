"""The jupyter-server extension: ``OpenAgent`` (app), REST handlers, SSE, OpenAPI document."""
