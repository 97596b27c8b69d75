"""Customer timeline: every event about a customer, including its deals and campaigns.

One row per (customer, event). The row's time is when the thing happened in the
world (an order's or a call's own time) where the event says so, else when the
event was recorded, so imported history sorts where it belongs.
"""

from __future__ import annotations

import orjson

from projections.envelope import Envelope
from readmodels.changes import Append, Change

NAME = "timeline"

# event type -> (kind, a one-line summary for people)
DESCRIBE = {
    "Customer.Registered": ("profile", lambda d: f"Registered {d['name']}"
                            + (f" from {d['source']}" if d.get("source") else "")),
    "Customer.ProfileUpdated": ("profile", lambda d: "Updated " + ", ".join(sorted(d["changes"]))),
    "Customer.TagsChanged": ("profile", lambda d: "Tags: " + (", ".join(d["tags"]) or "none")),
    "Customer.Archived": ("profile", lambda d: "Archived" + (f": {d['reason']}" if d.get("reason") else "")),
    "Customer.NoteAdded": ("note", lambda d: d["text"][:200]),
    "Customer.CommunicationLogged": (
        "communication",
        lambda d: f"{d['direction'].capitalize()} {d['channel']}"
        + (f": {d['subject']}" if d.get("subject") else "")),
    "Customer.OrderRecorded": ("order", lambda d: f"Order {d['order_id']}: {d['amount']} "
                               f"{d['currency']}, {d['item_count']} item(s)"),
    "Opportunity.Opened": ("opportunity", lambda d: f"Deal opened: {d['title']} "
                           f"({d['value']} {d['currency']}, {d['stage']})"),
    "Opportunity.ValueChanged": ("opportunity", lambda d: f"Deal value {d['previous_value']} → "
                                 f"{d['value']} {d['currency']}"),
    "Opportunity.StageMoved": ("opportunity", lambda d: f"Deal moved {d['previous_stage']} → {d['stage']}"),
    "Opportunity.Won": ("opportunity", lambda d: f"Deal won ({d['value']} {d['currency']})"),
    "Opportunity.Lost": ("opportunity", lambda d: f"Deal lost: {d['reason']}"),
    "Opportunity.LineItemsChanged": ("opportunity", lambda d: f"Deal line items: {len(d['line_items'])}, "
                                     f"value {d['previous_value']} → {d['value']} {d['currency']}"),
    "Opportunity.Reopened": ("opportunity", lambda d: f"Deal reopened in {d['stage']} "
                             f"(was {d['previous_status']})"),
    "Quote.Drafted": ("quote", lambda d: f"Quote {d['number']} drafted: {d['total']} {d['currency']} "
                      f"(valid until {d['valid_until']})"),
    "Quote.Accepted": ("quote", lambda d: f"Quote accepted (revision {d['revision']}): "
                       f"{d['total']} {d['currency']}"),
    "Contract.Created": ("contract", lambda d: f"Contract: {d['title']} ({d['type']}, "
                         f"{d['start_date']} to {d['end_date']})"),
    "Contract.Renewed": ("contract", lambda d: f"Contract renewed until {d['end_date']}"),
    "Contract.Cancelled": ("contract", lambda d: "Contract cancelled"
                           + (f": {d['reason']}" if d.get("reason") else "")),
    "Campaign.Launched": ("campaign", lambda d: "Received a campaign"),
    "Customer.CustomFieldsChanged": ("profile", lambda d: "Custom fields: "
                                     + ", ".join(sorted(d["values"]))),
    "Customer.PreferencesChanged": ("profile", lambda d: "Preferences: "
                                    + ", ".join(filter(None, (d["preferred_channel"], d["frequency"])))
                                    + (f"; topics {', '.join(d['topics'])}" if d["topics"] else "")),
    "Customer.ConsentRecorded": ("consent", lambda d: ("Opted in to " if d["status"] == "opted_in"
                                                       else "Opted out of ")
                                 + f"{d['channel']} ({d['source']})"),
    "Customer.AddressBounced": ("consent", lambda d: f"{d['channel'].capitalize()} address "
                                f"{d['address']} bounced: {d['reason']}"[:300]),
    "Customer.LifecycleChanged": ("lead", lambda d: f"Became {d['stage']}"
                                  + (f" ({d['reason']})" if d.get("reason") else "")),
    "Customer.BantAssessed": ("lead", lambda d: "BANT: " + ", ".join(
        f"{name} {({True: 'met', False: 'not met'}).get(value['met'], 'unknown')}"
        for name, value in d["criteria"].items()) + ("; qualified" if d["qualified"] else "")),
    "Customer.Assigned": ("lead", lambda d: (f"Assigned to {d['owner']}" if d["owner"] else "Unassigned")
                          + {"manual": "", "round_robin": f" (round robin in {d['team']})",
                             "rule": f" (rule {d['rule']})"}[d["method"]]),
    "Customer.EngagementTracked": ("engagement", lambda d: d["kind"].replace("_", " ").capitalize()
                                   + (f": {d['detail']}" if d.get("detail") else "")),
    "Customer.DocumentAttached": ("document", lambda d: f"Attached {d['filename']} "
                                  f"({max(1, round(d['size'] / 1024))} KB)"),
    "Customer.DocumentRemoved": ("document", lambda d: f"Removed {d['filename']}"),
    "Task.Created": ("task", lambda d: f"Task: {d['title']}"
                     + (f" (due {d['due_at'][:16].replace('T', ' ')})" if d.get("due_at") else "")
                     + (f" for {d['assignee']}" if d.get("assignee") else "")),
    "Task.Completed": ("task", lambda d: f"Task done: {d['title']}"),
    "Task.Reopened": ("task", lambda d: f"Task reopened: {d['title']}"),
    "Task.Reassigned": ("task", lambda d: f"Task {d['title']} reassigned to "
                        f"{d['assignee'] or 'nobody'}"),
    # Campaign and automation messages (domain/message.py).
    "Message.Sent": ("campaign", lambda d: f"Message sent to {d['to']}"),
    "Message.Bounced": ("campaign", lambda d: f"Message bounced: {d['reason']}"),
    "Message.Opened": ("campaign", lambda d: "Opened a message"),
    "Message.Clicked": ("campaign", lambda d: f"Clicked {d['url']}"),
    "Message.Unsubscribed": ("campaign", lambda d: f"Unsubscribed from {d['channel']}"),
    "AutomationRun.Started": ("automation", lambda d: f"Entered automation {d['automation_name']}"),
    "AutomationRun.StepDone": ("automation", lambda d: f"Automation step {d['index'] + 1} done: "
                               f"{d['kind'].replace('_', ' ')}"),
    "AutomationRun.Exited": ("automation", lambda d: f"Left an automation: {d['reason']}"),
    "AutomationRun.Completed": ("automation", lambda d: "Finished an automation"),
    "AutomationRun.Failed": ("automation", lambda d: f"Automation failed: {d['error'][:150]}"),
}
# "segment": entering and leaving segments, which readmodels/timeline.py adds to the rows here.
KINDS = sorted({kind for kind, _ in DESCRIBE.values()} | {"segment"})


def _customers(e: Envelope) -> list[str]:
    if e.type.startswith("Customer."):
        return [e.stream]
    if e.type == "Campaign.Launched":
        return e.data["customer_ids"]
    return [e.data["customer_id"]] if e.data.get("customer_id") else []  # a task may have none


def handle(e: Envelope) -> list[Change]:
    if e.type not in DESCRIBE:
        return []
    kind, describe = DESCRIBE[e.type]
    data = {k: v for k, v in e.data.items() if k != "customer_ids"}  # not 10k ids per row
    row = {"tenant_id": e.tenant, "position": e.position,
           "occurred_at": e.data.get("occurred_at") or e.occurred_at, "kind": kind,
           "event_type": e.type, "aggregate_id": e.stream, "version": e.version,
           "actor": e.actor, "summary": describe(e.data), "data": orjson.dumps(data).decode()}
    return [Append("timeline", {**row, "customer_id": customer}) for customer in _customers(e)]
