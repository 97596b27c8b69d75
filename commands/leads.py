"""Lead management commands: lifecycle, BANT, assignment; the tenant's lead settings and teams."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import Field, StrictBool, model_validator

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from domain.base import CrmAggregate, DomainError, Meta
from domain.customer import Customer
from domain.leads import DEFAULT_BANT_RULE, LeadSettings, Team, settings_id, team_id, team_name

Criterion = Literal["budget", "authority", "need", "timeline"]


class ChangeLifecycle(Command):
    stage: Literal["lead", "qualified", "customer", "churned"]
    reason: str | None = Field(default=None, max_length=500)


class BantCriterion(Command):
    met: StrictBool | None = Field(default=None, description="true, false, or null for not known yet")
    note: str | None = Field(default=None, max_length=2000)


class AssessBant(Command):
    budget: BantCriterion | None = None
    authority: BantCriterion | None = None
    need: BantCriterion | None = None
    timeline: BantCriterion | None = None


class AssignLead(Command):
    """Exactly one of: ``owner`` (null unassigns), ``team`` (round robin), ``by_rule``."""

    owner: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=50)
    by_rule: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> AssignLead:
        ways = ("owner" in self.model_fields_set) + (self.team is not None) + self.by_rule
        if ways != 1:
            raise ValueError("send exactly one of owner, team or by_rule")
        return self


class TrackEngagement(Command):
    kind: Literal["email_opened", "link_clicked", "page_visited", "form_submitted"]
    detail: str | None = Field(default=None, max_length=500, description="which email, link, page...")
    occurred_at: datetime | None = None


class SetBantRule(Command):
    required: list[Criterion] = Field(default_factory=list, max_length=4)
    minimum: int = Field(ge=0, le=4, description="how many criteria must be met at least")


class RoutingCondition(Command):
    source: str | None = Field(default=None, max_length=100)
    custom_field: str | None = Field(default=None, max_length=40)
    equals: str | None = Field(default=None, max_length=200)


class RoutingRule(Command):
    name: str = Field(max_length=100)
    when: RoutingCondition
    owner: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=50)


class SetRoutingRules(Command):
    rules: list[RoutingRule] = Field(max_length=50)


class SetTeam(Command):
    members: list[str] = Field(max_length=100)


class SetScoringRules(Command):
    rules: list[dict[str, Any]] = Field(max_length=50, description="see docs/LEADS.md")


# -- loading -----------------------------------------------------------------------------------


def lead_settings(crm: Crm, tenant_id: str, recent: bool = False) -> LeadSettings | None:
    """The tenant's lead settings, or None if it never set any; with ``recent``, a copy read at
    most a second ago (commands.recent_reads), to be read and not changed.

    Registering a lead routes it by these settings; a copy is enough there, since a routing
    rule changed on another node less than a second ago routes the lead as if it had come
    that moment earlier, and this node's own changes are in force at once."""
    return crm.of_tenant(LeadSettings, settings_id(tenant_id), tenant_id, recent)


def _team(crm: Crm, meta: Meta, name: str, field: str) -> Team:
    try:
        team = crm.repository.get(team_id(meta.tenant_id, team_name(name, field)))
    except AggregateNotFoundError:
        raise DomainError(f"no team {name!r}", field) from None
    return team


def _change_settings(crm: Crm, meta: Meta, act, idem: Idempotency | None,
                     expected_version: int | None = None) -> Outcome:
    existing = lead_settings(crm, meta.tenant_id)
    if existing is None:
        def make() -> LeadSettings:
            settings = LeadSettings.start(meta)
            act(settings)
            return settings
        return crm.create(meta, make, idem)
    return crm.change(LeadSettings, existing.id, meta, act, expected_version, idem)


# -- routing -----------------------------------------------------------------------------------


def route(crm: Crm, meta: Meta, customer: Customer, settings: LeadSettings | None,
          also: list[CrmAggregate], field: str = "by_rule") -> bool:
    """Assigns ``customer`` by the first matching routing rule; False if none matches."""
    rule = settings.route(customer.source, customer.custom_fields) if settings else None
    if rule is None:
        return False
    if rule["owner"]:
        customer.assign(meta, rule["owner"], "rule", rule=rule["name"])
        return True
    team = _team(crm, meta, rule["team"], field)
    member = team.next_member(meta, customer.id, field)
    also.append(team)
    customer.assign(meta, member, "rule", team=team.name, rule=rule["name"])
    return True


# -- handlers ----------------------------------------------------------------------------------


def change_lifecycle(crm: Crm, meta: Meta, customer_id: UUID, cmd: ChangeLifecycle,
                     expected_version: int | None = None,
                     idem: Idempotency | None = None) -> Outcome:
    return crm.change(Customer, customer_id, meta,
                      lambda c: c.change_lifecycle(meta, cmd.stage, cmd.reason),
                      expected_version, idem)


def assess_bant(crm: Crm, meta: Meta, customer_id: UUID, cmd: AssessBant,
                expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    criteria = {name: value for name, value in cmd.model_dump(exclude_unset=True).items()
                if value is not None}
    if not criteria:
        raise DomainError("send at least one of budget, authority, need, timeline", "body")
    settings = lead_settings(crm, meta.tenant_id)
    rule = settings.bant_rule if settings else DEFAULT_BANT_RULE
    return crm.change(Customer, customer_id, meta, lambda c: c.assess_bant(meta, criteria, rule),
                      expected_version, idem)


def assign(crm: Crm, meta: Meta, customer_id: UUID, cmd: AssignLead,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    also: list[CrmAggregate] = []

    def act(customer: Customer) -> None:
        if cmd.by_rule:
            if not route(crm, meta, customer, lead_settings(crm, meta.tenant_id), also):
                raise DomainError("no routing rule matches this customer", "by_rule")
        elif cmd.team is not None:
            team = _team(crm, meta, cmd.team, "team")
            customer.assign(meta, team.next_member(meta, customer.id), "round_robin", team=team.name)
            also.append(team)
        else:
            customer.assign(meta, cmd.owner, "manual")
    return crm.change(Customer, customer_id, meta, act, expected_version, idem, also)


def set_bant_rule(crm: Crm, meta: Meta, cmd: SetBantRule, idem: Idempotency | None = None) -> Outcome:
    return _change_settings(crm, meta, lambda s: s.set_bant_rule(meta, cmd.model_dump()), idem)


def set_routing_rules(crm: Crm, meta: Meta, cmd: SetRoutingRules,
                      idem: Idempotency | None = None) -> Outcome:
    rules = [rule.model_dump(exclude_none=True) | {"when": rule.when.model_dump(exclude_none=True)}
             for rule in cmd.rules]
    for index, rule in enumerate(rules):
        if rule.get("team"):
            _team(crm, meta, rule["team"], f"rules[{index}].team")  # must exist
    return _change_settings(crm, meta, lambda s: s.set_routing_rules(meta, rules), idem)


def set_scoring_rules(crm: Crm, meta: Meta, cmd: SetScoringRules,
                      idem: Idempotency | None = None) -> Outcome:
    return _change_settings(crm, meta, lambda s: s.set_scoring_rules(meta, cmd.rules), idem)


def set_team(crm: Crm, meta: Meta, name: str, cmd: SetTeam, idem: Idempotency | None = None) -> Outcome:
    name = team_name(name)
    try:
        existing = crm.repository.get(team_id(meta.tenant_id, name))
    except AggregateNotFoundError:
        def make() -> Team:
            team = Team.form(meta, name)
            team.set_members(meta, cmd.members)
            return team
        return crm.create(meta, make, idem)
    return crm.change(Team, existing.id, meta, lambda t: t.set_members(meta, cmd.members), None, idem)


def track_engagement(crm: Crm, meta: Meta, customer_id: UUID, cmd: TrackEngagement,
                     expected_version: int | None = None,
                     idem: Idempotency | None = None) -> Outcome:
    return crm.change(Customer, customer_id, meta,
                      lambda c: c.track_engagement(meta, cmd.kind, cmd.detail, cmd.occurred_at),
                      expected_version, idem)
