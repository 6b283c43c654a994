"""A bounded, deterministic schemathesis run against a live server: no 5xx, no schema drift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fakellm import FakeLLM
from tests.server.conftest import SPEC
from tests.server.liveserver import TOKEN, LiveServer

# GET /api/tasks/stream stays open by design (tests/server/test_task_events.py covers it).
schema = schemathesis.openapi.from_dict(SPEC).exclude(operation_id="streamTasks")
# Not negative_data_rejection: Jupyter itself reads extra query parameters on every
# route (token, _xsrf, no_track_activity), so unknown ones must stay allowed; bad
# values of known ones are covered by test_bad_input.py.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server (and fake LLM) for every generated case of this module."""
    with FakeLLM() as llm:
        live = LiveServer(Path(tmp_path_factory.mktemp("fuzz")), llm.base_url,
                          base_url="/fuzz/")
        live.start()
        live.submit("a task that exists")  # so listing and stats have something to show
        yield live
        live.close()


@schema.parametrize()
@settings(max_examples=12, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms(case: schemathesis.Case, server: LiveServer) -> None:
    base = f"http://127.0.0.1:{server.port}/fuzz"
    case.call_and_validate(base_url=base, headers={"Authorization": f"token {TOKEN}"},
                           checks=CHECKS, timeout=30)
