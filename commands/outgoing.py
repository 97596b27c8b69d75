"""What one Message looks like when it leaves: rendered for its customer, with tracking.

Everything is read from the event store (the customer, its newest order, the
template version, the tenant's custom fields), never from a read model, so a
sender needs no query node and sees the customer as of now: a consent or
address change made a second ago counts.

Email gets, besides the rendered subject, HTML and text:

* every ``http(s)`` link of the HTML rewritten to the click route (a signed
  token carrying the target), and a 1x1 tracking pixel before ``</body>``;
* ``List-Unsubscribe`` (the one-click URL) and ``List-Unsubscribe-Post:
  List-Unsubscribe=One-Click`` (RFC 8058), and ``{{ unsubscribe_url }}`` for
  the body;
* a ``Message-ID`` derived from the message id, so a receiving system that
  de-duplicates by it sees one message whatever happens;
* with ``CRM_BOUNCE_DOMAIN`` set, a VERP return path
  ``bounce+<signed message token>@<bounce domain>``: a bounce report that arrives
  days later names the message it is about (workers/bounces.py).

SMS and WhatsApp texts are sent as rendered (rewriting links would cost
segments); their status callbacks carry a signed token naming the message.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from commands.application import Crm
from commands.templates import custom_field_types
from commands.tracking import sign
from domain import rendering
from domain.campaign import Campaign
from domain.customer import Customer
from domain.message import Message
from domain.template import Template
from domain.tenant import Tenant

_LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


@dataclass
class Outgoing:
    message_id: UUID
    channel: str
    to: str
    subject: str | None
    html: str | None
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    status_callback: str | None = None
    return_path: str | None = None  # the SMTP envelope sender (MAIL FROM); None: the From address


def last_order(crm: Crm, customer_id: UUID) -> dict[str, Any] | None:
    newest = None
    for event in crm.events.get(customer_id):
        if isinstance(event, Customer.OrderRecorded) and (
                newest is None or event.occurred_at >= newest.occurred_at):
            newest = event
    if newest is None:
        return None
    return {"order_id": newest.order_id, "amount": newest.amount, "currency": newest.currency,
            "item_count": newest.item_count, "occurred_at": newest.occurred_at}


def values_for(crm: Crm, customer: Customer, message: Message, secret: bytes,
               public_url: str) -> dict[str, Any]:
    custom = {key: None for key in custom_field_types(crm, customer.tenant_id)}
    custom.update(customer.custom_fields)
    profile = {"id": customer.id, "name": customer.name, "email": customer.email,
               "phone": customer.phone, "source": customer.source, "tags": customer.tags}
    order = message.extra.get("order") or last_order(crm, customer.id)
    source = (crm.load(Campaign, message.campaign_id, customer.tenant_id).name
              if message.campaign_id else message.extra.get("automation_name", ""))
    shop = crm.load(Tenant, UUID(customer.tenant_id), customer.tenant_id).name
    return rendering.context(profile, custom, order, campaign={"name": source},
                             shop={"name": shop},
                             unsubscribe_url=unsubscribe_url(secret, public_url, message.id))


def unsubscribe_url(secret: bytes, public_url: str, message_id: UUID) -> str:
    return f"{public_url}/v1/t/u/{sign(secret, 'unsubscribe', message_id)}"


def parts_of(crm: Crm, message: Message) -> dict[str, str | None]:
    if message.template_id:
        template = crm.load(Template, message.template_id, message.tenant_id)
        return template.parts(message.template_version)
    campaign = crm.load(Campaign, message.campaign_id, message.tenant_id)
    return {"subject": campaign.subject, "html": None, "text": campaign.body}


def track_links(html: str, secret: bytes, public_url: str, message_id: UUID, skip: str) -> str:
    def rewrite(match: re.Match) -> str:
        target = html_lib.unescape(match[3])
        if target == skip:
            return match[0]
        token = sign(secret, "click", message_id, target)
        return f"{match[1]}{match[2]}{public_url}/v1/t/c/{token}{match[2]}"
    return _LINK.sub(rewrite, html)


def pixel(secret: bytes, public_url: str, message_id: UUID) -> str:
    return (f'<img src="{public_url}/v1/t/o/{sign(secret, "open", message_id)}.gif" width="1" '
            'height="1" alt="" style="display:block;border:0">')


_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")


def text_to_html(text: str) -> str:
    """A plain-text email as simple HTML, its URLs made links (so that clicks are tracked)."""
    escaped = html_lib.escape(text)
    linked = _URL.sub(lambda m: f'<a href="{m[0]}">{m[0]}</a>', escaped)
    return "<html><body><p>" + linked.replace("\n", "<br>\n") + "</p></body></html>"


def return_path(secret: bytes, bounce_domain: str, message_id: UUID) -> str:
    """The VERP envelope sender of one message: its bounce comes back to an address that says
    which message bounced, signed so that nobody can bounce other people's messages."""
    return f"bounce+{sign(secret, 'bounce', message_id)}@{bounce_domain}"


def compose(crm: Crm, message: Message, customer: Customer, secret: bytes,
            public_url: str, bounce_domain: str = "") -> Outgoing:
    """Renders ``message`` for ``customer``; a template error raises TemplateError."""
    values = values_for(crm, customer, message, secret, public_url)
    rendered = rendering.render(parts_of(crm, message), values)
    if message.channel != "email":
        return Outgoing(message.id, message.channel, customer.phone, None, None, rendered["text"],
                        status_callback=f"{public_url}/v1/providers/twilio/status/"
                                        f"{sign(secret, 'status', message.id)}")
    text = rendered["text"] or rendering.html_to_text(rendered["html"])
    body = rendered["html"] or text_to_html(text)
    unsubscribe = values["unsubscribe_url"]
    body = track_links(body, secret, public_url, message.id, skip=unsubscribe)
    tracker = pixel(secret, public_url, message.id)
    closing = re.search(r"</body\s*>", body, re.IGNORECASE)
    body = body[:closing.start()] + tracker + body[closing.start():] if closing else body + tracker
    headers = {"List-Unsubscribe": f"<{unsubscribe}>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return Outgoing(message.id, "email", customer.email, rendered["subject"], body, text, headers,
                    return_path=return_path(secret, bounce_domain, message.id) if bounce_domain else None)
