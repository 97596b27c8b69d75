"""Query nodes fed from Kafka: a late node catches up; a consistency token waits for the feed."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.settings import Settings
from tests.streaming.conftest import ADMIN_TOKEN, wait_until
from tests.streaming.readmodels import differences, snapshot
from tests.streaming.workload import Workload, stored_events

pytestmark = pytest.mark.kafka


def applied(node) -> int:
    rows = node.get("/v1/admin/projections",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).raise_for_status().json()
    return min(row["applied_events"] for row in rows)


def test_a_query_node_started_late_catches_up_and_answers_the_same(stack, crm, tenant):
    auth = {"Authorization": f"Bearer {tenant[1]}"}
    relay, first = stack.relay(), stack.query_node("q1")
    workload = Workload(crm, tenant[0], seed=11)
    workload.register(100)
    workload.run(400)
    wait_until(lambda: applied(first) >= stored_events(crm), 120, "the first node to catch up")

    late = stack.query_node("q2")
    workload.run(200)  # the stream goes on while the late node catches up
    total = stored_events(crm)
    for node in (first, late):
        wait_until(lambda: applied(node) >= total, 120, f"{node.name} to apply {total} events")

    paths = ["/v1/customers?limit=200"] + [
        f"/v1/customers/{customer}{tail}" for customer in workload.customers[:20]
        for tail in ("", "/timeline?limit=200")]
    for path in paths:
        answers = [node.get(path, headers=auth) for node in (first, late)]
        assert [a.status_code for a in answers] == [200, 200], path
        assert answers[0].json() == answers[1].json(), path

    assert first.stopped_cleanly() and late.stopped_cleanly()
    assert differences(snapshot(stack.readmodel_path(first)), snapshot(stack.readmodel_path(late))) == []


def test_a_query_with_a_consistency_token_waits_until_the_node_has_the_event(
        stack, crm, tenant, tmp_path):
    auth = {"Authorization": f"Bearer {tenant[1]}"}
    relay, node = stack.relay(), stack.query_node("q1", CRM_CONSISTENCY_TIMEOUT="60").wait_healthy()
    command_node = create_app(Settings(data_dir=tmp_path / "command", event_store=stack.event_store,
                                       admin_token=ADMIN_TOKEN), role="command")
    with TestClient(command_node) as commands:
        customer = commands.post("/v1/customers", json={"name": "Ada Potter"}, headers=auth).json()
        seen = node.get(f"/v1/customers/{customer['id']}",
                        headers={**auth, "X-Consistency-Token": customer["consistency_token"]})
        assert seen.status_code == 200 and seen.json()["note_count"] == 0

        assert relay.stopped_cleanly()  # from now on nothing reaches the query node
        note = commands.post(f"/v1/customers/{customer['id']}/notes", json={"text": "wants a teapot"},
                             headers=auth)
        assert note.status_code == 201
        assert node.get(f"/v1/customers/{customer['id']}", headers=auth).json()["note_count"] == 0

        answer = {}
        query = threading.Thread(target=lambda: answer.update(response=node.get(
            f"/v1/customers/{customer['id']}", timeout=90,
            headers={**auth, "X-Consistency-Token": note.json()["consistency_token"]})))
        query.start()
        relay.start()  # the event reaches the node only now
        query.join()

    assert answer["response"].status_code == 200
    assert answer["response"].json()["note_count"] == 1
    assert answer["response"].json()["version"] == note.json()["version"]
