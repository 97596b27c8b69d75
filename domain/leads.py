"""Lead management settings of a tenant, and sales teams for round-robin assignment.

``LeadSettings`` (one per tenant, id derived from the tenant) holds the BANT
rule (which criteria must be met, and how many), the routing rules that assign
new leads, and the lead-scoring rules. ``Team`` (id derived from tenant and
name) holds its members and how many leads it has handed out, so round-robin
assignment is an event (``TurnTaken``) saved with the customer's ``Assigned``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CrmAggregate, DomainError, Meta
from domain.values import text

BANT_CRITERIA = ("budget", "authority", "need", "timeline")
DEFAULT_BANT_RULE = {"required": [], "minimum": 4}
MAX_RULES = 50
MAX_MEMBERS = 100
# What a lead-scoring rule can look at. Behaviour rules score each matching event;
# attribute rules score the customer's current profile once.
SCORING_EVENTS = ("order", "communication", "engagement", "note", "campaign")
SCORING_ATTRIBUTES = ("source", "tag", "has_email", "has_phone", "custom_field", "bant_qualified",
                      "lifecycle_stage")
ENGAGEMENTS = ("email_opened", "link_clicked", "page_visited", "form_submitted")


def settings_id(tenant_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"craved-crm:lead-settings:{tenant_id}")


def team_id(tenant_id: str, name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"craved-crm:team:{tenant_id}:{name}")


def team_name(name: str, field: str = "name") -> str:
    name = (name or "").strip().lower()
    if not name or len(name) > 50 or not all(c.isalnum() or c in "-_" for c in name):
        raise DomainError("a team name has 1 to 50 letters, digits, - or _", field)
    return name


def _bant_rule(rule: dict[str, Any]) -> dict[str, Any]:
    required = rule.get("required") or []
    for index, criterion in enumerate(required):
        if criterion not in BANT_CRITERIA:
            raise DomainError(f"must be one of {', '.join(BANT_CRITERIA)}", f"required[{index}]")
    minimum = rule.get("minimum", len(BANT_CRITERIA))
    if not isinstance(minimum, int) or not 0 <= minimum <= len(BANT_CRITERIA):
        raise DomainError("minimum must be 0 to 4 criteria", "minimum")
    return {"required": sorted(set(required), key=BANT_CRITERIA.index), "minimum": minimum}


def bant_qualifies(rule: dict[str, Any], criteria: dict[str, dict]) -> bool:
    met = {name for name, value in criteria.items() if value.get("met")}
    return set(rule["required"]) <= met and len(met) >= rule["minimum"]


def _routing_rule(rule: dict[str, Any], index: int) -> dict[str, Any]:
    where = f"rules[{index}]"
    name = text(rule.get("name"), f"{where}.name", 100, required=True)
    when = rule.get("when") or {}
    if not isinstance(when, dict) or not when:
        raise DomainError("a rule needs a condition: source and/or custom_field + equals",
                          f"{where}.when")
    unknown = set(when) - {"source", "custom_field", "equals"}
    if unknown:
        raise DomainError(f"unknown condition {sorted(unknown)[0]!r}", f"{where}.when")
    if ("custom_field" in when) != ("equals" in when):
        raise DomainError("custom_field and equals go together", f"{where}.when")
    owner, team = rule.get("owner"), rule.get("team")
    if bool(owner) == bool(team):
        raise DomainError("a rule assigns to an owner or to a team (not both)", where)
    return {"name": name, "when": {k: str(v) for k, v in when.items()},
            "owner": text(owner, f"{where}.owner", 200) if owner else None,
            "team": team_name(team, f"{where}.team") if team else None}


def _scoring_rule(rule: dict[str, Any], index: int) -> dict[str, Any]:
    where = f"rules[{index}]"
    name = text(rule.get("name"), f"{where}.name", 100, required=True)
    points = rule.get("points")
    if not isinstance(points, int) or isinstance(points, bool) or not -100 <= points <= 100:
        raise DomainError("points must be a whole number from -100 to 100", f"{where}.points")
    kinds = [k for k in ("event", "attribute", "silence_days") if k in rule]
    if len(kinds) != 1:
        raise DomainError("a rule scores an event, an attribute or silence_days (one of them)", where)
    clean: dict[str, Any] = {"name": name, "points": points}
    if "event" in rule:
        event = rule["event"]
        if event not in SCORING_EVENTS:
            raise DomainError(f"must be one of {', '.join(SCORING_EVENTS)}", f"{where}.event")
        clean["event"] = event
        if rule.get("min_amount") is not None:
            if event != "order":
                raise DomainError("min_amount applies to orders", f"{where}.min_amount")
            try:
                clean["min_amount"] = str(Decimal(str(rule["min_amount"])))
            except InvalidOperation:
                raise DomainError("min_amount must be a decimal number", f"{where}.min_amount") from None
        for key, allowed in (("channel", None), ("direction", ("inbound", "outbound")),
                             ("kind", ENGAGEMENTS)):
            if rule.get(key) is not None:
                if allowed and rule[key] not in allowed:
                    raise DomainError(f"must be one of {', '.join(allowed)}", f"{where}.{key}")
                clean[key] = str(rule[key])
        if rule.get("max_times") is not None:
            if not isinstance(rule["max_times"], int) or rule["max_times"] < 1:
                raise DomainError("max_times must be a positive whole number", f"{where}.max_times")
            clean["max_times"] = rule["max_times"]
    elif "attribute" in rule:
        attribute = rule["attribute"]
        if attribute not in SCORING_ATTRIBUTES:
            raise DomainError(f"must be one of {', '.join(SCORING_ATTRIBUTES)}",
                              f"{where}.attribute")
        clean["attribute"] = attribute
        needs_value = attribute in ("source", "tag", "custom_field", "lifecycle_stage")
        if needs_value and rule.get("equals") in (None, ""):
            raise DomainError(f"an {attribute} rule needs equals", f"{where}.equals")
        if attribute == "custom_field":
            clean["key"] = text(rule.get("key"), f"{where}.key", 40, required=True)
        if needs_value:
            clean["equals"] = str(rule["equals"])
    else:
        days = rule["silence_days"]
        if not isinstance(days, int) or not 1 <= days <= 3650:
            raise DomainError("silence_days must be 1 to 3650", f"{where}.silence_days")
        if points > 0:
            raise DomainError("silence lowers a score: points must be negative", f"{where}.points")
        clean["silence_days"] = days
    return clean


class LeadSettings(CrmAggregate):
    """State: bant_rule, routing_rules, scoring_rules."""

    class Started(CrmAggregate.Created):
        def apply(self, settings: LeadSettings) -> None:
            super().apply(settings)
            settings.bant_rule = dict(DEFAULT_BANT_RULE)
            settings.routing_rules = []
            settings.scoring_rules = []

    class BantRuleSet(CrmAggregate.Event):
        rule: dict

        def apply(self, settings: LeadSettings) -> None:
            settings.bant_rule = dict(self.rule)

    class RoutingRulesSet(CrmAggregate.Event):
        rules: list[dict]

        def apply(self, settings: LeadSettings) -> None:
            settings.routing_rules = list(self.rules)

    class ScoringRulesSet(CrmAggregate.Event):
        rules: list[dict]

        def apply(self, settings: LeadSettings) -> None:
            settings.scoring_rules = list(self.rules)

    @classmethod
    def start(cls, meta: Meta) -> LeadSettings:
        return cls._start(cls.Started, meta, id=settings_id(meta.tenant_id))

    def set_bant_rule(self, meta: Meta, rule: dict[str, Any]) -> None:
        rule = _bant_rule(rule)
        if rule != self.bant_rule:
            self._record(self.BantRuleSet, meta, rule=rule)

    def set_routing_rules(self, meta: Meta, rules: list[dict[str, Any]]) -> None:
        if len(rules) > MAX_RULES:
            raise DomainError(f"at most {MAX_RULES} rules", "rules")
        rules = [_routing_rule(rule, index) for index, rule in enumerate(rules)]
        if rules != self.routing_rules:
            self._record(self.RoutingRulesSet, meta, rules=rules)

    def set_scoring_rules(self, meta: Meta, rules: list[dict[str, Any]]) -> None:
        if len(rules) > MAX_RULES:
            raise DomainError(f"at most {MAX_RULES} rules", "rules")
        rules = [_scoring_rule(rule, index) for index, rule in enumerate(rules)]
        names = [rule["name"] for rule in rules]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise DomainError(f"rule name {name!r} is used twice", f"rules[{index}].name")
        if rules != self.scoring_rules:
            self._record(self.ScoringRulesSet, meta, rules=rules)

    def route(self, source: str | None, custom_fields: dict[str, Any]) -> dict[str, Any] | None:
        """The first routing rule that matches a customer, or None."""
        for rule in self.routing_rules:
            when = rule["when"]
            if "source" in when and (source or "").lower() != when["source"].lower():
                continue
            if "custom_field" in when:
                value = custom_fields.get(when["custom_field"])
                values = value if isinstance(value, list) else [value]
                if when["equals"] not in [str(v).lower() if isinstance(v, bool) else str(v)
                                          for v in values]:
                    continue
            return rule
        return None


class Team(CrmAggregate):
    """State: name, members, turns (how many leads the team has handed out)."""

    class Formed(CrmAggregate.Created):
        name: str

        def apply(self, team: Team) -> None:
            super().apply(team)
            team.name = self.name
            team.members = []
            team.turns = 0

    class MembersSet(CrmAggregate.Event):
        members: list[str]

        def apply(self, team: Team) -> None:
            team.members = list(self.members)

    class TurnTaken(CrmAggregate.Event):
        member: str
        customer_id: UUID

        def apply(self, team: Team) -> None:
            team.turns += 1

    @classmethod
    def form(cls, meta: Meta, name: str) -> Team:
        name = team_name(name)
        return cls._start(cls.Formed, meta, id=team_id(meta.tenant_id, name), name=name)

    def set_members(self, meta: Meta, members: list[str]) -> None:
        cleaned = list(dict.fromkeys(text(m, f"members[{i}]", 200, required=True)
                                     for i, m in enumerate(members)))
        if len(cleaned) > MAX_MEMBERS:
            raise DomainError(f"a team has at most {MAX_MEMBERS} members", "members")
        if cleaned != self.members:
            self._record(self.MembersSet, meta, members=cleaned)

    def next_member(self, meta: Meta, customer_id: UUID, field: str = "team") -> str:
        """Round robin: the member whose turn it is; records the turn."""
        if not self.members:
            raise DomainError(f"the team {self.name!r} has no members", field)
        member = self.members[self.turns % len(self.members)]
        self._record(self.TurnTaken, meta, member=member, customer_id=customer_id)
        return member
