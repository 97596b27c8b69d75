"""Every route, fed what its OpenAPI document allows and a good deal it does not.

Schemathesis generates requests from the service's own OpenAPI document
(valid bodies, and bodies, queries and path parameters that break it) and
sends them through HTTP to a real server, authenticated as a tenant's owner
(the operators' routes with the admin token). Whatever arrives, the answer
must not be a server error, and a refusal must be problem+json; a 422 names
the field that is wrong (``errors``).

The hand-written cases of what must be refused, and that nothing is stored
then, are in tests/test_bad_input.py; this is the net under them for the
routes and inputs nobody thought of. It runs on the embedded SQLite store
only: request validation happens before any store is touched.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from api.app import create_app
from bench.server import free_port
from commands import documents
from commands.settings import Settings
from commands.tenants import create_tenant
from tests.support import wait_until

ADMIN_TOKEN = "fuzz-admin-token"
# Requests per route (~170 routes). The same ones every run, so that CI is reproducible;
# set CRM_FUZZ_EXAMPLES higher (and they differ) to search longer on your machine.
EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "8"))
PROBLEM = "application/problem+json"
# The links in sent messages (unsubscribe, open pixel, click) are opened by people in a
# browser, so they refuse with a page, not with problem+json (api/routes/tracking.py).
FOR_PEOPLE = "/v1/t/"


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[dict]:
    data = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(data_dir=data, event_store=f"sqlite:///{data / 'events.sqlite3'}",
                              admin_token=ADMIN_TOKEN))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fuzzed-service", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "the service to start")
    assert server.started, "the service stopped while starting"
    _, key = create_tenant(app.state.crm, "Fuzzed shop")
    with requests.Session() as session:
        yield {"app": app, "url": f"http://127.0.0.1:{port}", "key": key, "session": session}
    server.should_exit = True
    thread.join(timeout=15)


def _openapi() -> dict:
    """The service's OpenAPI document, from an app built and closed again at once: the tests
    are one per route, so the routes must be known when pytest collects them."""
    with tempfile.TemporaryDirectory() as data:
        app = create_app(Settings(data_dir=Path(data), event_store=f"sqlite:///{data}/events.sqlite3",
                                  admin_token=ADMIN_TOKEN))
        try:
            return app.openapi()
        finally:
            app.state.store.close()
            app.state.crm.close()


schema = schemathesis.openapi.from_dict(_openapi())
# A document upload's body is the file's bytes, of any accepted type: send them as they are
# (schemathesis knows images and text, not these).
schemathesis.serializer.alias(
    [media for media in documents.TYPES if "/vnd." in media or media.endswith("/pdf")],
    "application/octet-stream")


def _send(case, service):
    token = ADMIN_TOKEN if case.path.startswith("/v1/admin") else service["key"]
    return case.call(base_url=service["url"], session=service["session"],
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_request_is_answered_with_a_server_error(case, service):
    response = _send(case, service)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400 and not case.path.startswith(FOR_PEOPLE):
        assert response.headers["content-type"][0].startswith(PROBLEM), \
            (case.method, case.formatted_path, response.status_code, response.text[:300])
        if response.status_code == 422:
            errors = response.json().get("errors")
            assert errors and all(e["field"] and e["reason"] for e in errors), \
                (case.method, case.formatted_path, case.headers, response.text[:300])
