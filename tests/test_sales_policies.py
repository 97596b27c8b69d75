"""Sales automation policies as pure functions, and carried out against a real service."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.envelope import Envelope, from_event
from tests.support import head
from workers import sales_policies as policies
from workers.sales_policies import CreateTask, DealFacts, MoveDeal

NOW = datetime(2026, 3, 10, 9, tzinfo=timezone.utc)
RULES = {"follow_up_on_enter": {"proposal": {"title": "Call about the proposal", "due_in_days": 2}},
         "idle_follow_up_days": 10, "notify_owner_when_rotting": True,
         "move_rules": [{"when": "quote_accepted", "to_stage": "negotiation", "from_stages": []},
                        {"when": "value_at_least", "amount": "5000", "to_stage": "qualified",
                         "from_stages": ["lead"]}]}


def deal(**fields) -> DealFacts:
    base = dict(id=uuid4(), title="Café mugs", status="open", stage="lead", value=Decimal("100.00"),
                currency="GBP", owner="tom", customer_id=uuid4(), pipeline_id=None,
                last_activity_at=NOW - timedelta(days=1), stage_entered_at=NOW - timedelta(days=1))
    return DealFacts(**{**base, **fields})


def envelope(kind: str, **data) -> Envelope:
    return Envelope(position=7, event_id=str(uuid4()), stream=str(uuid4()), version=3, type=kind,
                    tenant="t", actor="key", occurred_at=NOW.isoformat(), schema=1, data=data)


def test_entering_a_stage_creates_its_follow_up_task_once_per_event():
    facts = deal(stage="qualified")
    moved = envelope("Opportunity.StageMoved", stage="proposal", previous_stage="qualified")
    [task] = policies.on_event(moved, facts, RULES)
    assert isinstance(task, CreateTask)
    assert (task.title, task.due_at, task.assignee, task.opportunity_id) == (
        "Call about the proposal", NOW + timedelta(days=2), "tom", facts.id)
    assert policies.on_event(moved, facts, RULES)[0].task_id == task.task_id  # idempotent id
    assert policies.on_event(envelope("Opportunity.StageMoved", stage="negotiation"), facts,
                             RULES) == []
    assert policies.on_event(moved, facts, {}) == []  # no rules configured: nothing


def test_move_rules_fire_when_their_condition_holds():
    facts = deal(stage="proposal")
    [move] = policies.on_event(envelope("Quote.Accepted", opportunity_id=str(facts.id)), facts, RULES)
    assert move == MoveDeal(facts.id, "negotiation", "move_rule:quote_accepted", "proposal")
    assert policies.on_event(envelope("Quote.Accepted"), deal(stage="negotiation"), RULES) == []
    assert policies.on_event(envelope("Quote.Accepted"), deal(status="won"), RULES) == []
    big = envelope("Opportunity.ValueChanged", value="5000.00")
    assert [a.stage for a in policies.on_event(big, deal(stage="lead"), RULES)] == ["qualified"]
    assert policies.on_event(big, deal(stage="proposal"), RULES) == []  # only from lead
    assert policies.on_event(envelope("Opportunity.ValueChanged", value="4999.99"), deal(),
                             RULES) == []


def test_the_sweep_follows_up_idle_deals_and_alerts_owners_of_rotting_ones():
    pipeline = {"stages": [{"id": "lead", "name": "Lead", "rotting_days": 14},
                           {"id": "proposal", "name": "Proposal", "rotting_days": None}],
                "automation": RULES}
    idle = deal(last_activity_at=NOW - timedelta(days=12))
    rotting = deal(last_activity_at=NOW - timedelta(days=15))
    fresh = deal()
    closed = deal(status="won", last_activity_at=NOW - timedelta(days=40))
    never_rots = deal(stage="proposal", last_activity_at=NOW - timedelta(days=40))
    actions = policies.sweep([idle, rotting, fresh, closed, never_rots], {None: pipeline}, NOW)
    assert [(a.opportunity_id, a.policy, a.priority) for a in actions] == [
        (idle.id, "idle_follow_up", "normal"), (rotting.id, "idle_follow_up", "normal"),
        (rotting.id, "notify_owner_when_rotting", "high"), (never_rots.id, "idle_follow_up", "normal")]
    assert actions[2].title == "Rotting deal: Café mugs has had no activity in Lead for 15 days"
    assert actions[2].assignee == "tom"
    again = policies.sweep([rotting], {None: pipeline}, NOW + timedelta(days=1))
    assert {a.task_id for a in again} <= {a.task_id for a in actions}  # same idle period, same tasks


def test_policies_carried_out_against_the_service(make_tenant, module_app):
    shop = make_tenant("Automated Shop")
    crm = module_app.state.crm
    customer = shop.register()
    pid = shop.post("/v1/pipelines", {"name": "Wholesale", "stages": [
        {"name": "Enquiry"}, {"name": "Samples"}, {"name": "Negotiation", "probability": 60}]}).json()["id"]
    assert shop.client.put(f"/v1/pipelines/{pid}/automation", headers=shop.headers, json={
        "follow_up_on_enter": {"samples": {"title": "Check the samples arrived", "due_in_days": 3}},
        "move_rules": [{"when": "quote_accepted", "to_stage": "negotiation"}]}).status_code == 200
    assert shop.client.put(f"/v1/pipelines/{pid}/automation", headers=shop.headers, json={
        "move_rules": [{"when": "quote_accepted", "to_stage": "nowhere"}]}).status_code == 422
    deal_id = shop.post("/v1/opportunities", {"customer_id": customer["id"], "title": "Mugs",
                                              "value": "100", "currency": "GBP", "pipeline_id": pid,
                                              "owner": "tom"}).json()["id"]
    shop.post(f"/v1/opportunities/{deal_id}/stage", {"stage": "samples"})
    quote = shop.post(f"/v1/opportunities/{deal_id}/quotes", {"valid_until": "2099-01-01"}).json()
    shop.post(f"/v1/quotes/{quote['id']}/send", {})
    shop.post(f"/v1/quotes/{quote['id']}/accept", {})

    events = [*crm.events.get(UUID(deal_id)), *crm.events.get(UUID(quote["id"]))]
    answers = [policies.sales_automation(crm, from_event(e, 0)) for e in events]
    assert answers.count("acted") == 2  # entering samples; the quote accepted
    stored = head(module_app)
    again = [policies.sales_automation(crm, from_event(e, 0)) for e in events]  # redelivered
    assert head(module_app) == stored  # the task exists, the deal moved: nothing new stored
    assert again.count("acted") == 1

    deal = crm.repository.get(UUID(deal_id))
    token = f"{deal.id.hex}.{deal.version}"
    view = shop.get(f"/v1/opportunities/{deal_id}", token=token).json()
    assert (view["stage"], view["value"]) == ("negotiation", "100.00")
    tasks = shop.get("/v1/tasks", params={"opportunity_id": deal_id}).json()["items"]
    assert [(t["title"], t["assignee"]) for t in tasks] == [("Check the samples arrived", "tom")]
    history = shop.get(f"/v1/opportunities/{deal_id}/stage-history").json()["changes"]
    assert [c["stage"] for c in history if c["change"] == "stage"] == ["samples", "negotiation"]


def test_the_daily_sweep_through_http(make_tenant, module_app):
    shop = make_tenant("Swept Shop")
    real_now = datetime.now(timezone.utc)
    customer = shop.register()
    pid = shop.post("/v1/pipelines", {"name": "Commissions", "stages": [
        {"name": "Brief", "rotting_days": 10}, {"name": "Design"}]}).json()["id"]
    assert shop.client.put(f"/v1/pipelines/{pid}/automation", headers=shop.headers,
                           json={"idle_follow_up_days": 5}).status_code == 200

    def deal(days_ago: int, **fields) -> dict:
        return shop.post("/v1/opportunities", {
            "customer_id": customer["id"], "title": f"Deal {days_ago}", "value": "10",
            "currency": "GBP", "owner": "ann",
            "occurred_at": (real_now - timedelta(days=days_ago)).isoformat(), **fields}).json()

    idle = deal(10, pipeline_id=pid)   # idle 15 days at the sweep: follow-up, and rotting (> 10)
    stale = deal(40)                   # default pipeline, lead rots after 30 days: an alert
    quoted = deal(0)
    quote = shop.post(f"/v1/opportunities/{quoted['id']}/quotes",
                      {"valid_until": (real_now + timedelta(days=1)).date().isoformat()}).json()
    sent = shop.post(f"/v1/quotes/{quote['id']}/send", {}).json()
    shop.get("/v1/pipelines", token=sent["consistency_token"])

    module_app.state.clock = lambda: real_now + timedelta(days=5)
    try:
        run = shop.post("/v1/automation/sales-sweep").json()
        again = shop.post("/v1/automation/sales-sweep").json()
    finally:
        module_app.state.clock = None
    assert len(run["created"]) == 3 and run["expired_quotes"] == [quote["id"]]
    assert sorted(again["already_existed"]) == sorted(run["created"])
    assert again["created"] == again["expired_quotes"] == []
    tasks = {t["id"]: t for t in shop.get("/v1/tasks", params={"assignee": "ann"},
                                          token=f"{UUID(run['created'][-1]).hex}.1").json()["items"]}
    titles = sorted((tasks[t]["opportunity_id"], tasks[t]["priority"]) for t in run["created"])
    assert titles == sorted([(idle["id"], "normal"), (idle["id"], "high"), (stale["id"], "high")])


def _shop_with_a_stale_deal(shop):
    """``shop`` with one deal in the default pipeline's lead stage, idle for 40 days (it rots
    after 30), on the read model; and the real time it was made at."""
    real_now = datetime.now(timezone.utc)
    customer = shop.register()
    stale = shop.post("/v1/opportunities", {
        "customer_id": customer["id"], "title": "Stale deal", "value": "10", "currency": "GBP",
        "owner": "bo", "occurred_at": (real_now - timedelta(days=40)).isoformat()}).json()
    shop.get("/v1/pipelines", token=stale["consistency_token"])
    return shop, real_now


def test_a_sweep_finds_the_tasks_it_made_on_the_read_model_and_sends_no_command(make_tenant, module_app,
                                                                               monkeypatch):
    """Every day a rotting deal asks for the same task again; once the read model shows it, the
    sweep knows without trying to create it (a failed transaction per task and day)."""
    shop, real_now = _shop_with_a_stale_deal(make_tenant("Twice Swept Shop"))
    crm = module_app.state.crm
    creates = []
    real_create = crm.create
    monkeypatch.setattr(crm, "create", lambda meta, *args, **kwargs: (
        creates.append(meta.tenant_id), real_create(meta, *args, **kwargs))[1])
    module_app.state.clock = lambda: real_now + timedelta(days=1)
    try:
        [made] = shop.post("/v1/automation/sales-sweep").json()["created"]
        assert creates.count(shop.id) == 1
        shop.get("/v1/tasks", token=f"{UUID(made).hex}.1")  # the read model shows it now
        again = shop.post("/v1/automation/sales-sweep").json()
    finally:
        module_app.state.clock = None
    assert again["already_existed"] == [made] and again["created"] == []
    assert creates.count(shop.id) == 1


def test_the_daily_sweep_node_job_sweeps_every_tenant_with_deals_once_a_day(make_tenant, module_app):
    from workers.sales_sweep import DAILY_HOUR, daily_sales_sweep

    shop, real_now = _shop_with_a_stale_deal(make_tenant("Daily Sweep Shop"))
    job = daily_sales_sweep(module_app.state.crm, module_app.state.store)

    morning = (real_now + timedelta(days=1)).replace(hour=DAILY_HOUR, minute=0, second=0,
                                                     microsecond=0)
    job.tick(morning - timedelta(minutes=1))  # still the previous sales day: swept for it
    assert len(job.results[shop.id]["created"]) == 1  # the default pipeline's rotting alert
    first = job.results[shop.id]
    job.tick(morning - timedelta(seconds=1))  # the same sales day: not swept again
    assert job.results[shop.id] is first
    job.tick(morning)  # a new sales day: swept again, and nothing is created twice
    assert job.results[shop.id] is not first
    assert job.results[shop.id]["created"] == []
    assert job.results[shop.id]["already_existed"] == first["created"]


PIPELINE_IDS = (None, UUID(int=1), UUID(int=2))
days = st.none() | st.integers(1, 30)
hours_ago = st.integers(0, 60 * 24) | st.integers(0, 60).map(lambda d: d * 24)  # whole days: the bounds


@st.composite
def pipelines(draw):
    return {pid: {"stages": [{"id": stage, "name": stage, "rotting_days": draw(days)}
                             for stage in ("lead", "proposal")],
                  "automation": {"idle_follow_up_days": draw(days),
                                 "notify_owner_when_rotting": draw(st.booleans())}}
            for pid in draw(st.lists(st.sampled_from(PIPELINE_IDS), unique=True))}


@settings(max_examples=300, deadline=None)
@given(pipelines(), st.lists(st.tuples(st.sampled_from(PIPELINE_IDS), st.sampled_from(["lead", "proposal"]),
                                       hours_ago), max_size=12))
def test_the_sweep_reads_only_deals_idle_since_the_cutoff_and_misses_none_that_act(by_id, drawn):
    """run_sweep reads only the deals whose last activity is at or before idle_cutoff: the
    sweep over those must act exactly as over every open deal."""
    facts = [deal(pipeline_id=pid, stage=stage, last_activity_at=NOW - timedelta(hours=hours))
             for pid, stage, hours in drawn]
    cutoff = policies.idle_cutoff(by_id, NOW)
    read = [d for d in facts if cutoff and d.last_activity_at <= cutoff]
    assert policies.sweep(read, by_id, NOW) == policies.sweep(facts, by_id, NOW)
