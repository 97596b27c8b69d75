"""Lead management: each customer's lifecycle stage, funnel times, BANT and owner; the
tenant's lead settings and teams.

Funnel times keep the first time (``least``): a lead who goes back from
qualified to lead and qualifies again still qualified when it first did.
Conversion rates are grouped from these rows at query time.
"""

from __future__ import annotations

import orjson

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "leads"


def _row(e: Envelope, **merge) -> Upsert:
    return Upsert("lifecycle", {"customer_id": e.stream}, **merge)


def handle(e: Envelope) -> list[Change]:
    d = e.data
    at = e.occurred_at
    match e.type:
        case "Customer.Registered":
            return [_row(e, set={"tenant_id": e.tenant, "stage": "customer", "updated_at": at})]
        case "Customer.LifecycleChanged":
            first = {"qualified": "qualified_at", "churned": "churned_at"}
            least = {first[d["stage"]]: at} if d["stage"] in first else {}
            if d["converted"]:
                least["converted_at"] = at
            return [_row(e, set={"stage": d["stage"], "lead_since": d["lead_since"], "updated_at": at},
                         least=least)]
        case "Customer.BantAssessed":
            met = sum(1 for value in d["criteria"].values() if value["met"])
            return [_row(e, set={"bant": orjson.dumps(d["criteria"]).decode(), "bant_met": met,
                                 "bant_qualified": d["qualified"], "updated_at": at})]
        case "Customer.Assigned":
            return [_row(e, set={"owner": d["owner"], "assignment_method": d["method"],
                                 "assigned_team": d["team"], "assigned_rule": d["rule"],
                                 "assigned_at": at, "updated_at": at})]
        case "LeadSettings.BantRuleSet" | "LeadSettings.RoutingRulesSet" | "LeadSettings.ScoringRulesSet":
            column = {"LeadSettings.BantRuleSet": "bant_rule",
                      "LeadSettings.RoutingRulesSet": "routing_rules",
                      "LeadSettings.ScoringRulesSet": "scoring_rules"}[e.type]
            value = d["rule"] if e.type == "LeadSettings.BantRuleSet" else d["rules"]
            return [Upsert("lead_settings", {"tenant_id": e.tenant},
                           set={column: orjson.dumps(value).decode(), "updated_at": at})]
        case "Team.Formed":
            return [Upsert("teams", {"id": e.stream}, set={"tenant_id": e.tenant, "name": d["name"],
                                                           "formed_at": at})]
        case "Team.MembersSet":
            return [Upsert("teams", {"id": e.stream}, set={"members": d["members"]})]
        case "Team.TurnTaken":
            return [Upsert("teams", {"id": e.stream}, add={"turns": 1})]
    return []
