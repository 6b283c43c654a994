# Open Agent for a team on JupyterHub: what an admin sets once (docs/jupyterhub.md).
# Every user's single-user server gets these settings through the spawner's environment; the
# caps bind what a user can ask for through the task API (see the guide for what they do not
# bind). The LLM key comes from a file (a mounted secret), never from a user-visible variable.
c = get_config()  # noqa: F821

c.Spawner.environment = {
    "OPENROUTER_BASE_URL": "https://openrouter.ai/api/v1",
    "OPENROUTER_API_KEY_FILE": "/etc/open-agent/llm-key",
    "DEFAULT_MODEL": "anthropic/claude-sonnet-4.5",
    "ALLOWED_MODELS": "anthropic/*,openai/*",
    "MAX_ITERATIONS": "50",
    "BUDGET_CENTS": "200",
    "DAILY_BUDGET_CENTS": "1000",
    "APPROVALS": "ask",
    "APPROVALS_MAX": "ask",
}

# Granular access: Open Agent's handlers ask for `read` (GET) or `execute` (submit, stop,
# approve) on the resource `open_agent`; this authorizer grants by JupyterHub custom scopes.
c.Spawner.args = [
    "--ServerApp.authorizer_class="
    "open_agent_jupyter.server.hub_authorizer.HubScopesAuthorizer",
]
c.JupyterHub.custom_scopes = {
    "custom:jupyter_server:read:*": {"description": "read-only access to a server"},
    "custom:jupyter_server:write:*": {
        "description": "change files on a server (no execution)",
        "subscopes": ["custom:jupyter_server:read:*"],
    },
    "custom:jupyter_server:execute:*": {
        "description": "everything on a server: kernels, terminals, agent tasks",
        "subscopes": ["custom:jupyter_server:write:*", "custom:jupyter_server:read:*"],
    },
}
# What a browser's login cookie (the OAuth token of a server) may carry: the hub intersects it
# with what the person holds, so a reader's cookie reads and an owner's cookie does everything.
c.Spawner.oauth_client_allowed_scopes = [
    f"custom:jupyter_server:{action}:*" for action in ("read", "write", "execute")
]
c.JupyterHub.load_roles = [
    # Each person keeps full rights on their own server.
    {"name": "user", "scopes": ["self", "custom:jupyter_server:execute:*!user"]},
]
