"""XSRF stays on for browsers (cookie login) while scripts use ``Authorization: token``."""

from __future__ import annotations

import httpx

from tests.server.liveserver import TOKEN, LiveServer


def test_cookie_login_needs_xsrf_but_token_header_does_not(live_server: LiveServer) -> None:
    live_server.start()
    base = f"http://127.0.0.1:{live_server.port}/"
    with httpx.Client(base_url=base, timeout=30) as browser:
        assert browser.get("api/tasks", params={"token": TOKEN}).status_code == 200
        assert any(name.startswith("username-") for name in browser.cookies)  # logged in
        assert browser.get("api/tasks").status_code == 200  # the cookie alone reads
        refused = browser.post("api/task", json={"task": "x"})
        assert refused.status_code == 403 and "_xsrf" in refused.json()["error"]
    created = live_server.http.post("api/task", json={"task": "x"})
    assert created.status_code == 201
