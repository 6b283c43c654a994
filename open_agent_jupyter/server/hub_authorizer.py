"""``c.ServerApp.authorizer_class = "open_agent_jupyter.server.hub_authorizer.HubScopesAuthorizer"``.

A module of its own so that naming it in a single-user server's config imports JupyterHub,
and nothing else in the package does (see ``access.py`` for what it grants).
"""

from .access import hub_authorizer_class

HubScopesAuthorizer = hub_authorizer_class()

__all__ = ["HubScopesAuthorizer"]
