"""Who may do what: the submitter of a task, admin caps, and JupyterHub's granular scopes.

Under JupyterHub each person has their own single-user server, and the hub decides who
reaches it. ``access:servers`` alone is all or nothing; ``HubScopesAuthorizer`` (set with
``c.ServerApp.authorizer_class``) grants by JupyterHub custom scopes instead, as in
JupyterHub's read-only example::

    custom:jupyter_server:read:*      GET: list and follow tasks, read files
    custom:jupyter_server:write:*     change files (implies read)
    custom:jupyter_server:execute:*   run kernels and start, stop or approve tasks (implies all)

each filtered to the server's owner (``!user=NAME``) or to the server (``!server=NAME/``).
Open Agent's handlers ask for ``read`` on GET and ``execute`` on every request that starts or
changes work, on the resource ``open_agent``.
"""

from __future__ import annotations

import os
from typing import Any

from ..config import Settings

#: Each action and the actions that include it.
_IMPLIED_BY = {"read": ("read", "write", "execute"), "write": ("write", "execute"),
               "execute": ("execute",)}


def submitter(user: Any) -> str:
    """The name recorded as a task's ``submitted_by``: JupyterHub's user, else the local one.

    A token-authenticated request outside JupyterHub has an anonymous identity with a random
    name; the server's own (operating-system) user is the honest answer there.
    """
    if getattr(user, "hub_user", None):
        return str(user.username)
    return os.environ.get("JUPYTERHUB_USER") or _local_user()


def _local_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (some containers)
        return str(os.getuid())


def cap_errors(overrides: dict[str, Any], settings: Settings) -> list[str]:
    """Per-task values above what the server's configuration allows (admin caps, DESIGN §12.9).

    ``max_iterations`` may not exceed the server's ``max_iterations``; ``budget_cents`` may not
    exceed a server budget (``0`` — no budget — is then above every cap).
    """
    errors = []
    asked = overrides.get("max_iterations")
    if asked is not None and asked > settings.max_iterations:
        errors.append(f"'max_iterations' {asked} is above this server's cap of "
                      f"{settings.max_iterations} (MAX_ITERATIONS)")
    budget = overrides.get("budget_cents")
    cap = settings.budget_cents
    if budget is not None and cap and (budget == 0 or budget > cap):
        errors.append(f"'budget_cents' {budget} is above this server's cap of {cap} "
                      f"(BUDGET_CENTS; 0 means no budget)")
    return errors


def scope_grants(scopes: set[str], action: str, resource: str, owner: str,
                 server_name: str = "") -> bool:
    """True when ``scopes`` hold a custom Jupyter-server scope for ``action`` on ``resource``."""
    filters = ("", f"!user={owner}", f"!server={owner}/{server_name}")
    for granted in _IMPLIED_BY.get(action, (action,)):
        for res in (resource, "*"):
            if any(f"custom:jupyter_server:{granted}:{res}{f}" in scopes for f in filters):
                return True
    return False


def hub_authorizer_class() -> type:
    """``HubScopesAuthorizer``, built on JupyterHub's own (imported only when configured)."""
    from jupyterhub.singleuser.extension import JupyterHubAuthorizer

    class HubScopesAuthorizer(JupyterHubAuthorizer):
        """Hub access, then the custom scopes for the action (read / write / execute)."""

        def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
            if not super().is_authorized(handler, user, action, resource):
                return False
            scopes = set((getattr(user, "hub_user", None) or {}).get("scopes", ()))
            owner = os.environ.get("JUPYTERHUB_USER", "")
            server = os.environ.get("JUPYTERHUB_SERVER_NAME", "")
            return scope_grants(scopes, action, resource, owner, server)

    return HubScopesAuthorizer
