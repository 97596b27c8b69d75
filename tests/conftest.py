"""Fixtures shared by the suite.

Persistence is switched by parameter, the way the eventsourcing library's own
tests switch it by environment: every test that takes ``event_store_url`` (and
so every API test) runs once on SQLite and once on the real PostgreSQL, each in
a throwaway database (an SQLite file, a PostgreSQL schema).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.settings import Settings
from commands.tenants import create_tenant

# Node jobs (daily sales sweep, renewal reminders) would tick on the wall clock in every test's
# app after a minute and create tasks the tests do not expect; tests that need them turn them on.
os.environ.setdefault("CRM_NODE_JOBS", "0")

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server. In CI its absence fails the run; locally it skips."""
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        message = (f"PostgreSQL is not reachable at {POSTGRES_URL}: {error}. Start it with "
                   "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
                   "or set CRM_TEST_POSTGRES_URL.")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URL


@contextmanager
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards; yields its event store URL."""
    schema = f"crm_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres_url}?schema={schema}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    with postgres_schema(postgres_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def event_store_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.sqlite3'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def settings(tmp_path: Path, event_store_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", event_store=event_store_url,
                    admin_token="test-admin-token", consistency_timeout=5.0)


@pytest.fixture
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class Tenant:
    """A tenant with an owner key, and a client that sends the key on every request."""

    id: str
    key: str
    client: TestClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, path: str, json=None, headers: dict | None = None, **kwargs):
        return self.client.post(path, json=json, headers={**self.headers, **(headers or {})}, **kwargs)

    def patch(self, path: str, json=None, headers: dict | None = None, **kwargs):
        return self.client.patch(path, json=json, headers={**self.headers, **(headers or {})}, **kwargs)

    def get(self, path: str, token: str | None = None, headers: dict | None = None, **kwargs):
        extra = {"X-Consistency-Token": token} if token else {}
        return self.client.get(path, headers={**self.headers, **extra, **(headers or {})}, **kwargs)

    def register(self, name: str = "Ada Potter", email: str | None = "ada@example.com", **fields) -> dict:
        response = self.post("/v1/customers", {"name": name, "email": email, **fields})
        assert response.status_code == 201, response.text
        return response.json()


def _tenant(app, client: TestClient, name: str) -> Tenant:
    tenant_id, key = create_tenant(app.state.crm, name)
    return Tenant(str(tenant_id), key, client)


@pytest.fixture
def tenant(app, client) -> Tenant:
    return _tenant(app, client, "Potter's Wheel")


@pytest.fixture
def other_tenant(app, client) -> Tenant:
    return _tenant(app, client, "Candle Corner")


# -- one service per test module ------------------------------------------------------
# Starting a service (event store, DuckDB file, projector thread) costs more than
# most tests, so modules whose tests can share one take these fixtures instead.
# Tests on a shared service each make their own tenant (``make_tenant``): lists
# are per tenant, so no test sees another's rows.


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_store_url(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('events') / 'events.sqlite3'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory, module_store_url: str) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), event_store=module_store_url,
                    admin_token="test-admin-token", consistency_timeout=5.0)


@pytest.fixture(scope="module")
def module_app(module_settings: Settings):
    return create_app(module_settings)


@pytest.fixture(scope="module")
def module_client(module_app) -> Iterator[TestClient]:
    with TestClient(module_app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def make_tenant(module_app, module_client) -> Callable[[str], Tenant]:
    """Creates a tenant (with an owner key) on the module's shared service."""
    return lambda name="Shop": _tenant(module_app, module_client, name)
