"""Optimistic concurrency (If-Match), idempotent retries (Idempotency-Key), read-your-writes tokens."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from uuid import UUID, uuid4

import pytest

from commands import customers as handlers
from commands.aggregate_turns import AggregateTurns
from commands.application import Crm, Idempotency
from commands.errors import Conflict
from domain.base import Meta
from domain.customer import Customer
from tests.support import assert_problem, head


@pytest.fixture
def shop(make_tenant):
    return make_tenant("Concurrent shop")


def history(shop, customer_id: str) -> list[dict]:
    response = shop.get(f"/v1/customers/{customer_id}/history")
    assert response.status_code == 200, response.text
    return response.json()


def together(n: int, call):
    """Runs ``call(i)`` on n threads released at the same moment; returns the results in order."""
    start = threading.Barrier(n)

    def run(i):
        start.wait()
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


# -- If-Match ---------------------------------------------------------------------------------


def test_a_stale_if_match_is_a_409_problem_and_stores_nothing(shop):
    ada = shop.register()
    path = f"/v1/customers/{ada['id']}"
    assert shop.patch(path, {"name": "Ada Baker"}, headers={"If-Match": "1"}).status_code == 200
    before = head(shop.client.app)

    response = shop.patch(path, {"name": "Ada Carver"}, headers={"If-Match": "1"})

    problem = assert_problem(response, 409)
    assert problem["type"].endswith("/conflict") and problem["current_version"] == 2
    assert head(shop.client.app) == before
    assert [e["version"] for e in history(shop, ada["id"])] == [1, 2]
    for stale in ("0", "3", '"1"', 'W/"1"'):
        assert_problem(shop.post(f"{path}/notes", {"text": "x"}, headers={"If-Match": stale}), 409)
    assert head(shop.client.app) == before


@pytest.mark.parametrize("if_match", ["1", '"1"', 'W/"1"', ' "1" '])
def test_a_current_if_match_in_any_usual_form_succeeds(shop, if_match):
    ada = shop.register()
    response = shop.post(f"/v1/customers/{ada['id']}/notes", {"text": "x"}, headers={"If-Match": if_match})
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2


def test_the_360_etag_is_the_version_to_send_as_if_match(shop):
    ada = shop.register()
    etag = shop.get(f"/v1/customers/{ada['id']}", token=ada["consistency_token"]).headers["etag"]
    response = shop.patch(f"/v1/customers/{ada['id']}", {"source": "etsy"}, headers={"If-Match": etag})
    assert response.status_code == 200 and response.json()["version"] == 2


def test_two_concurrent_commands_on_one_version_one_wins_one_conflicts(shop):
    for round_ in range(4):
        ada = shop.register(f"Ada {round_}")
        path = f"/v1/customers/{ada['id']}"
        responses = together(2, lambda i: shop.patch(path, {"name": f"Writer {i}"},
                                                     headers={"If-Match": "1"}))
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        [loser] = [r for r in responses if r.status_code == 409]
        assert_problem(loser, 409)
        [winner] = [r for r in responses if r.status_code == 200]
        events = history(shop, ada["id"])
        assert [e["type"] for e in events] == ["Customer.Registered", "Customer.ProfileUpdated"]
        assert events[1]["data"]["changes"]["name"] == \
            f"Writer {responses.index(winner)}"


def test_concurrent_unconditional_commands_all_succeed(shop):
    """Without If-Match the client set no precondition: losing a race is the server's to retry."""
    ada = shop.register()
    path = f"/v1/customers/{ada['id']}"
    orders = together(6, lambda i: shop.post(f"{path}/orders", {
        "order_id": f"W-{i}", "amount": "5.00", "currency": "GBP", "item_count": 1}))
    notes = together(4, lambda i: shop.post(f"{path}/notes", {"text": f"note {i}"}))
    assert [r.status_code for r in orders + notes] == [201] * 10, [r.text for r in orders + notes]
    assert sorted(r.json()["version"] for r in orders + notes) == list(range(2, 12))
    events = history(shop, ada["id"])
    assert sorted(e["data"]["order_id"] for e in events if e["type"] == "Customer.OrderRecorded") == \
        [f"W-{i}" for i in range(6)]
    assert len(events) == 11


def test_many_writers_racing_for_one_customer_all_land(shop):
    """In one process they take turns (``AggregateTurns``) rather than all loading one version."""
    ada = shop.register()
    path = f"/v1/customers/{ada['id']}"
    orders = together(24, lambda i: shop.post(f"{path}/orders", {
        "order_id": f"R-{i}", "amount": "5.00", "currency": "GBP", "item_count": 1}))
    assert [r.status_code for r in orders] == [201] * 24, [r.text for r in orders if r.status_code != 201][:2]
    assert sorted(r.json()["version"] for r in orders) == list(range(2, 26))



def test_writers_in_one_process_take_turns_instead_of_colliding(module_app, shop, monkeypatch):
    crm, meta = module_app.state.crm, Meta(shop.id, "test")
    customer_id = UUID(shop.register()["id"])
    saves, conflicts = [], []
    plain_save = crm._save

    def counted_save(*args, **kwargs):
        saves.append(1)
        try:
            return plain_save(*args, **kwargs)
        except Conflict:
            conflicts.append(1)
            raise

    monkeypatch.setattr(crm, "_save", counted_save)
    together(12, lambda i: handlers.add_note(crm, meta, customer_id, handlers.AddNote(text=f"n{i}")))
    assert (len(saves), conflicts) == (12, [])
    assert len(crm._turns) == 0  # nothing held once all are answered


def test_writers_in_two_processes_race_at_the_store_and_all_land(module_app, shop):
    """Turns are per process; across processes the store's version check and the retry decide."""
    crm, meta = module_app.state.crm, Meta(shop.id, "test")
    other_process = Crm(crm.event_store_url)
    customer_id = UUID(shop.register()["id"])
    together(12, lambda i: handlers.add_note((crm, other_process)[i % 2], meta, customer_id,
                                             handlers.AddNote(text=f"n{i}")))
    texts = sorted(e["data"]["text"] for e in history(shop, str(customer_id))[1:])
    assert texts == sorted(f"n{i}" for i in range(12))


def test_a_turn_not_given_in_time_is_gone_without():
    turns, customer_id = AggregateTurns(), uuid4()

    def meanwhile_on_another_thread():
        with turns.turn(customer_id, timeout=0.05) as got:
            return got

    with turns.turn(customer_id, timeout=1) as first, ThreadPoolExecutor(1) as other:
        assert first and other.submit(meanwhile_on_another_thread).result() is False
        with turns.turn(uuid4(), timeout=0.05) as unrelated:
            assert unrelated  # another aggregate never waits
    assert len(turns) == 0


def test_a_write_between_load_and_save_is_a_conflict_at_the_store(module_app, shop):
    """The version check of the store itself, for the race the If-Match check cannot see."""
    crm, meta = module_app.state.crm, Meta(shop.id, "test")
    customer_id = shop.register()["id"]

    def act(customer: Customer) -> None:
        # another request saves first, after this one loaded version 1
        handlers.add_note(crm, meta, customer.id, handlers.AddNote(text="the other request"))
        customer.add_note(meta, "this request")

    with pytest.raises(Conflict):
        crm.change(Customer, UUID(customer_id), meta, act, expected_version=1)
    assert [e["data"] for e in history(shop, customer_id)][1:] == [{"text": "the other request"}]


# -- Idempotency-Key -----------------------------------------------------------------------------


def test_a_retried_creation_answers_the_first_answer_and_stores_nothing(shop):
    before = head(shop.client.app)
    key = {"Idempotency-Key": f"register-{uuid4()}"}
    first = shop.post("/v1/customers", {"name": "Once"}, headers=key)
    after_first = head(shop.client.app)
    second = shop.post("/v1/customers", {"name": "Once"}, headers=key)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert head(shop.client.app) == after_first == before + 2     # the customer and the answer
    listed = shop.get("/v1/customers", token=second.json()["consistency_token"], params={"q": "once"})
    assert [c["id"] for c in listed.json()["items"]] == [first.json()["id"]]


def test_a_retried_change_answers_the_same_version(shop):
    ada = shop.register()
    key = {"Idempotency-Key": "note-1"}
    answers = [shop.post(f"/v1/customers/{ada['id']}/notes", {"text": "once"}, headers=key)
               for _ in range(3)]
    assert {a.status_code for a in answers} == {201}
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert answers[0].json()["version"] == 2
    assert len(history(shop, ada["id"])) == 2
    # later commands go on from there, and an old answer stays the old answer
    assert shop.post(f"/v1/customers/{ada['id']}/notes", {"text": "twice"}).json()["version"] == 3
    again = shop.post(f"/v1/customers/{ada['id']}/notes", {"text": "once"}, headers=key)
    assert again.json() == answers[0].json()
    assert len(history(shop, ada["id"])) == 3


def test_the_same_key_with_another_body_or_route_is_a_422(shop):
    ada = shop.register()
    key = {"Idempotency-Key": "k-1"}
    assert shop.post(f"/v1/customers/{ada['id']}/notes", {"text": "first"}, headers=key).status_code == 201
    before = head(shop.client.app)

    other_body = shop.post(f"/v1/customers/{ada['id']}/notes", {"text": "second"}, headers=key)
    other_route = shop.post("/v1/customers", {"name": "Bea"}, headers=key)

    for response in (other_body, other_route):
        assert assert_problem(response, 422, "idempotency-key")["type"].endswith("idempotency-key-reused")
    assert head(shop.client.app) == before
    assert len(history(shop, ada["id"])) == 2


def test_keys_are_per_tenant(shop, make_tenant):
    other = make_tenant("Other shop")
    key = {"Idempotency-Key": "shared-key"}
    mine = shop.post("/v1/customers", {"name": "Ada"}, headers=key).json()
    theirs = other.post("/v1/customers", {"name": "Ada"}, headers=key).json()
    assert mine["id"] != theirs["id"]
    assert other.get(f"/v1/customers/{mine['id']}/history").status_code == 404


def test_a_refused_command_does_not_use_up_its_key(shop):
    key = {"Idempotency-Key": "fix-and-retry"}
    assert_problem(shop.post("/v1/customers", {"name": "Ada", "email": "nope"}, headers=key), 422, "email")
    assert shop.post("/v1/customers", {"name": "Ada", "email": "ada@example.com"},
                     headers=key).status_code == 201


def test_concurrent_retries_with_one_key_store_one_set_of_events(shop):
    before = head(shop.client.app)
    key = {"Idempotency-Key": f"burst-{uuid4()}"}
    responses = together(8, lambda i: shop.post("/v1/customers", {"name": "Burst"}, headers=key))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert head(shop.client.app) == before + 2
    customer_id = responses[0].json()["id"]

    order = {"order_id": "B-1", "amount": "9.99", "currency": "GBP", "item_count": 1}
    okey = {"Idempotency-Key": f"order-{uuid4()}"}
    responses = together(8, lambda i: shop.post(f"/v1/customers/{customer_id}/orders", order, headers=okey))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert [e["type"] for e in history(shop, customer_id)] == ["Customer.Registered",
                                                               "Customer.OrderRecorded"]


def test_a_retry_that_loses_the_race_at_the_store_reads_the_winners_answer(module_app, shop):
    crm, meta = module_app.state.crm, Meta(shop.id, "test")
    ada = UUID(shop.register()["id"])
    idem = Idempotency("race", "fingerprint-of-the-request")
    inner = []

    def act(customer: Customer) -> None:
        # the same request, retried by the client, is saved while this one is deciding
        inner.append(handlers.add_note(crm, meta, ada, handlers.AddNote(text="once"), idem=idem))
        customer.add_note(meta, "once")

    outcome = crm.change(Customer, ada, meta, act, idempotency=idem)
    assert outcome == inner[0] and outcome.version == 2
    assert len(history(shop, str(ada))) == 2


# -- read-your-writes ----------------------------------------------------------------------------


def test_a_query_with_the_token_of_a_command_sees_that_command(shop):
    ada = shop.register("Ada Potter", None)
    path = f"/v1/customers/{ada['id']}"
    for n in range(10):
        answer = shop.post(f"{path}/orders", {"order_id": f"R-{n}", "amount": "1.00", "currency": "GBP",
                                              "item_count": 1}).json()
        token = answer["consistency_token"]
        view = shop.get(path, token=token).json()
        assert (view["version"], view["order_count"]) == (n + 2, n + 1)
        assert shop.get(f"{path}/timeline", token=token, params={"limit": 1}).json()["items"][0][
            "version"] == n + 2
    renamed = shop.patch(path, {"name": "Ada Ryw"}).json()
    assert [c["name"] for c in shop.get("/v1/customers", token=renamed["consistency_token"],
                                        params={"q": "ada r"}).json()["items"]] == ["Ada Ryw"]
    deal = shop.post("/v1/opportunities", {"customer_id": ada["id"], "title": "Mugs", "value": "5",
                                           "currency": "GBP"}).json()
    assert [d["id"] for d in shop.get("/v1/opportunities", token=deal["consistency_token"],
                                      params={"customer_id": ada["id"]}).json()["items"]] == [deal["id"]]


def test_a_token_the_read_model_never_reaches_is_a_503_to_retry(module_app, shop):
    ada = shop.register()
    future = f"{ada['id'].replace('-', '')}.99"
    settings = module_app.state.settings
    module_app.state.settings = replace(settings, consistency_timeout=0.2)
    try:
        response = shop.get(f"/v1/customers/{ada['id']}", token=future)
    finally:
        module_app.state.settings = settings
    assert_problem(response, 503)
    assert response.headers["retry-after"] == "1"
