"""Every route of the API is an ``api.routes.Route``: a synchronous endpoint runs in the thread
pool once, and its answer is validated on the event loop rather than in a second hand-off to
the pool (docs/PERFORMANCE.md, "The response's hand-off")."""

from __future__ import annotations

import threading

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, field_validator

from api.routes import Route, include

seen: dict[str, str] = {}


class Answer(BaseModel):
    id: int

    @field_validator("id")
    @classmethod
    def _where(cls, value: int) -> int:
        seen["validated"] = threading.current_thread().name
        return value


def _app() -> FastAPI:
    router = APIRouter(route_class=Route, prefix="/things")
    started, release = threading.Event(), threading.Event()

    @router.post("/{thing_id}", status_code=201, response_model=Answer)
    def make(thing_id: int) -> dict:
        """Makes a thing."""
        seen["endpoint"] = threading.current_thread().name
        if thing_id == 404:
            raise HTTPException(404, "no such thing")
        if thing_id == 1:
            started.set()
            seen["released"] = release.wait(5)  # by the ping, unless this blocks the loop
        return {"id": thing_id, "secret": "not in the model"}

    @router.get("/ping")
    async def ping() -> dict:
        seen["loop"] = threading.current_thread().name
        release.set()
        return {"ok": True}

    app = FastAPI()
    include(app, [router])
    app.state.started = started
    return app


def test_a_sync_endpoint_runs_in_the_pool_and_its_answer_is_validated_on_the_loop():
    with TestClient(_app()) as client:
        answer = client.post("/things/7")
        assert answer.status_code == 201 and answer.json() == {"id": 7}  # the model filters
        client.get("/things/ping")
        assert seen["endpoint"] != seen["loop"]
        assert seen["validated"] == seen["loop"]
        assert client.post("/things/404").json() == {"detail": "no such thing"}


def test_a_blocking_endpoint_does_not_hold_up_the_event_loop():
    app = _app()
    with TestClient(app) as client:
        blocked = threading.Thread(target=client.post, args=("/things/1",))
        blocked.start()
        assert app.state.started.wait(5)
        assert client.get("/things/ping").json() == {"ok": True}
        blocked.join(timeout=10)
    assert seen["released"]  # the ping was served while the endpoint waited


def test_the_openapi_document_names_the_endpoint_not_the_wrapper():
    operation = _app().openapi()["paths"]["/things/{thing_id}"]["post"]
    assert operation["summary"] == "Make" and operation["description"] == "Makes a thing."
    assert operation["parameters"][0]["name"] == "thing_id"


def test_every_route_of_the_service_is_a_route_of_ours(app):
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert routes and all(isinstance(route, Route) for route in routes), [
        route.path for route in routes if not isinstance(route, Route)]
