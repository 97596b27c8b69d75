"""Tasks through HTTP: create, complete, reopen, reassign, the lists, the customer's timeline."""

from __future__ import annotations

PROBLEM = "application/problem+json"
NOW = "2026-03-10T12:00:00+00:00"


def _task(tenant, **fields) -> dict:
    response = tenant.post("/v1/tasks", {"title": "Call back", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_task_lifecycle_lists_and_timeline(tenant, other_tenant):
    customer = tenant.register("Ada Potter", "ada@example.com")
    overdue = _task(tenant, title="Send glaze samples", due_at="2026-03-09T09:00:00Z",
                    assignee="maya", customer_id=customer["id"], priority="high")
    today = _task(tenant, title="Confirm kiln booking", due_at="2026-03-10T16:00:00Z",
                  assignee="maya")
    later = _task(tenant, title="Quarterly review", due_at="2026-04-01T09:00:00Z", assignee="maya")
    undated = _task(tenant, title="Someday", assignee="maya")
    toms = _task(tenant, title="Tom's task", due_at="2026-03-09T09:00:00Z", assignee="tom")
    last = _task(tenant, title="Unassigned", due_at="2026-03-01T09:00:00Z")
    me = {"X-Actor": "maya"}
    token = last["consistency_token"]

    mine = tenant.get("/v1/tasks/mine", token=token, headers=me, params={"now": NOW})
    assert _ids(mine) == [overdue["id"], today["id"], later["id"], undated["id"]]
    assert [t["overdue"] for t in mine.json()["items"]] == [True, False, False, False]
    assert _ids(tenant.get("/v1/tasks/mine", headers=me, params={"now": NOW, "due": "overdue"})) \
        == [overdue["id"]]
    assert _ids(tenant.get("/v1/tasks/mine", headers=me, params={"now": NOW, "due": "today"})) \
        == [today["id"]]
    # "Today" is the calendar day in the caller's zone: at 02:00 UTC on 10 March it is still
    # 9 March in New York, so the task due 9 March 09:00 UTC is due today there.
    assert _ids(tenant.get("/v1/tasks/mine", headers=me, params={
        "now": "2026-03-10T02:00:00Z", "due": "today", "tz": "America/New_York"})) == [overdue["id"]]
    everyone = _ids(tenant.get("/v1/tasks", params={"now": NOW, "due": "overdue"}))
    assert everyone[0] == last["id"] and set(everyone[1:]) == {overdue["id"], toms["id"]}
    assert _ids(tenant.get("/v1/tasks", params={"unassigned": "true"})) == [last["id"]]

    # Pages follow the same order without overlap, undated tasks included.
    first = tenant.get("/v1/tasks", params={"assignee": "maya", "limit": 3}).json()
    second = tenant.get("/v1/tasks", params={"assignee": "maya", "limit": 3,
                                             "cursor": first["next_cursor"]}).json()
    assert [t["id"] for t in first["items"] + second["items"]] == \
        [overdue["id"], today["id"], later["id"], undated["id"]]
    assert second["next_cursor"] is None

    # Complete, reopen, reassign.
    assert tenant.post(f"/v1/tasks/{overdue['id']}/complete", {}).json()["version"] == 2
    again = tenant.post(f"/v1/tasks/{overdue['id']}/complete", {})
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    tenant.post(f"/v1/tasks/{overdue['id']}/reopen", {})
    moved = tenant.post(f"/v1/tasks/{overdue['id']}/reassign", {"assignee": "tom"}).json()
    assert moved["version"] == 4
    task = tenant.get(f"/v1/tasks/{overdue['id']}", token=moved["consistency_token"]).json()
    assert (task["status"], task["assignee"], task["priority"]) == ("open", "tom", "high")
    assert overdue["id"] not in _ids(tenant.get("/v1/tasks/mine", headers=me))
    tom = tenant.get("/v1/tasks/mine", headers={"X-Actor": "tom"}, params={"due": "overdue",
                                                                            "now": NOW})
    assert set(_ids(tom)) == {overdue["id"], toms["id"]}

    # The customer's timeline and 360 view show the task.
    timeline = tenant.get(f"/v1/customers/{customer['id']}/timeline", params={"kind": "task"}).json()
    assert [e["summary"] for e in timeline["items"]] == [
        "Task Send glaze samples reassigned to tom", "Task reopened: Send glaze samples",
        "Task done: Send glaze samples",
        "Task: Send glaze samples (due 2026-03-09 09:00) for maya"]
    view = tenant.get(f"/v1/customers/{customer['id']}").json()
    assert [t["title"] for t in view["open_tasks"]] == ["Send glaze samples"]

    # Another tenant sees none of it and cannot touch it.
    assert other_tenant.get(f"/v1/tasks/{overdue['id']}").status_code == 404
    assert other_tenant.post(f"/v1/tasks/{overdue['id']}/complete", {}).status_code == 404
    assert _ids(other_tenant.get("/v1/tasks")) == []
    linked = other_tenant.post("/v1/tasks", {"title": "Sneaky", "customer_id": customer["id"]})
    assert linked.status_code == 404


def test_bad_task_input_is_refused_and_stores_nothing(tenant, app):
    head = app.state.crm.recorder.max_notification_id()
    for body, field in (({"title": ""}, "title"), ({"title": "x", "priority": "asap"}, "priority"),
                        ({"title": "x", "due_at": "2026-03-10T10:00:00"}, "due_at"),
                        ({"title": "x", "colour": "red"}, "colour")):
        response = tenant.post("/v1/tasks", body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert field in [e["field"] for e in response.json()["errors"]]
    assert app.state.crm.recorder.max_notification_id() == head
    mine = tenant.get("/v1/tasks/mine")
    assert mine.status_code == 422 and mine.json()["errors"][0]["field"] == "X-Actor"
    assert tenant.get("/v1/tasks", params={"tz": "Mars/Olympus"}).json()["errors"][0]["field"] == "tz"
