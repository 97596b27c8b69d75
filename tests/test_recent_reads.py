"""Recent reads: a tenant's field definitions and lead settings read about once a second;
registrations never wrongly refused."""

from __future__ import annotations

from uuid import uuid4

import pytest

from commands import custom_fields, leads
from commands.application import Crm
from commands.custom_fields import DefineField, RetireField, SetCustomFields
from commands.customers import RegisterCustomer, register
from commands.leads import RoutingCondition, RoutingRule, SetRoutingRules
from commands.recent_reads import RecentReads
from domain.base import DomainError, Meta
from domain.custom_fields import field_set_id
from domain.customer import Customer
from domain.leads import settings_id


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_copy_serves_until_it_is_too_old_or_forgotten():
    reads, clock = [], Clock()
    recent = RecentReads(lambda i: reads.append(i) or len(reads), max_age_s=1.0, clock=clock)
    settings, other = uuid4(), uuid4()
    assert [recent.get(settings) for _ in range(3)] == [1, 1, 1]
    clock.now += 0.9
    assert recent.get(settings) == 1 and recent.get(other) == 2  # each id its own copy
    clock.now += 0.2
    assert recent.get(settings) == 3  # older than a second: read again
    recent.forget([uuid4()])  # something else saved: the copy stands
    assert recent.get(settings) == 3
    recent.forget([settings])
    assert recent.get(settings) == 4 and reads == [settings, other, settings, settings]


def test_a_read_that_began_before_a_save_is_not_kept():
    """The save's forget runs while the read is on its way: its (older) answer must not stay."""
    settings = uuid4()
    answers = iter(["before the save", "after the save"])

    def read(aggregate_id):
        answer = next(answers)
        if answer == "before the save":
            recent.forget([aggregate_id])  # another thread saves meanwhile
        return answer

    recent = RecentReads(read)
    assert recent.get(settings) == "before the save"  # answered, but not kept
    assert recent.get(settings) == "after the save"
    assert recent.get(settings) == "after the save"


def store_reads(node: Crm, monkeypatch) -> list:
    """The ids ``node``'s recent copies read from the store, from now on."""
    reads = []
    monkeypatch.setattr(node.recent, "_read",
                        lambda i, read=node.recent._read: reads.append(i) or read(i))
    return reads


@pytest.fixture
def two_nodes(event_store_url):
    node, other = Crm(event_store_url), Crm(event_store_url)
    yield node, other
    node.close()
    other.close()


def test_registrations_read_the_definitions_once_and_are_never_wrongly_refused(two_nodes,
                                                                             monkeypatch):
    node, other = two_nodes
    meta = Meta(str(uuid4()), "test")
    reads = store_reads(node, monkeypatch)
    for name in ("Ada", "Bea", "Cy"):
        register(node, meta, RegisterCustomer(name=name))
    assert reads == [field_set_id(meta.tenant_id)]  # the tenant has none: that is kept too

    # Defined on another node a moment ago: this node's copy says "no such field", and the
    # refusal is decided again on the current definitions.
    custom_fields.define(other, meta, DefineField(key="vip", label="VIP", type="boolean"))
    dee = register(node, meta, RegisterCustomer(name="Dee", custom_fields={"vip": True}))
    assert node.load(Customer, dee.id, meta.tenant_id).custom_fields == {"vip": True}
    custom_fields.set_values(node, meta, dee.id, SetCustomFields(values={"vip": False}))

    # Changed on this node: in force here at once.
    custom_fields.define(node, meta, DefineField(key="tier", label="Tier", type="text",
                                                 required=True))
    with pytest.raises(DomainError) as refused:
        register(node, meta, RegisterCustomer(name="Eve"))
    assert refused.value.field == "custom_fields.tier"
    custom_fields.retire(node, meta, "vip", RetireField())
    with pytest.raises(DomainError) as refused:
        custom_fields.set_values(node, meta, dee.id, SetCustomFields(values={"vip": True}))
    assert refused.value.field == "values.vip"
    assert node.load(Customer, dee.id, meta.tenant_id).custom_fields == {"vip": False}


def test_what_another_node_retired_is_refused_once_the_copy_is_a_second_old(two_nodes):
    node, other = two_nodes
    meta = Meta(str(uuid4()), "test")
    custom_fields.define(other, meta, DefineField(key="vip", label="VIP", type="boolean"))
    ada = register(node, meta, RegisterCustomer(name="Ada", custom_fields={"vip": True}))
    custom_fields.retire(other, meta, "vip", RetireField())
    node.recent.max_age_s = 0.0  # as a second later
    with pytest.raises(DomainError) as refused:
        custom_fields.set_values(node, meta, ada.id, SetCustomFields(values={"vip": False}))
    assert refused.value.field == "values.vip"


def test_lead_registrations_route_by_settings_read_once_a_second(two_nodes, monkeypatch):
    node, other = two_nodes
    meta = Meta(str(uuid4()), "test")
    web = SetRoutingRules(rules=[RoutingRule(name="web", when=RoutingCondition(source="web"),
                                             owner="ann")])
    leads.set_routing_rules(other, meta, web)
    reads = store_reads(node, monkeypatch)

    def owner_of(name: str) -> str | None:
        lead = register(node, meta, RegisterCustomer(name=name, source="web", lifecycle_stage="lead"))
        return node.load(Customer, lead.id, meta.tenant_id).owner

    assert [owner_of(name) for name in ("Ada", "Bea", "Cy")] == ["ann", "ann", "ann"]
    assert reads.count(settings_id(meta.tenant_id)) == 1

    # Changed on this node: in force here at once.
    leads.set_routing_rules(node, meta, SetRoutingRules(rules=[
        RoutingRule(name="web", when=RoutingCondition(source="web"), owner="bo")]))
    assert owner_of("Dee") == "bo"
    # Changed on another node: in force here once the copy is a second old.
    leads.set_routing_rules(other, meta, web)
    node.recent.max_age_s = 0.0  # as a second later
    assert owner_of("Eve") == "ann"
