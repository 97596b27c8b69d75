"""Message templates: Jinja2 in its sandbox, every variable required, errors with a line number.

Templates are written by tenants, so they run in Jinja2's immutable sandbox
(no access to internals, no mutation of the values passed in), with the two
operators that could exhaust memory (``*`` and ``**``) bounded, and the output
capped. ``StrictUndefined`` makes a misspelt variable an error instead of an
empty string; the error names the variable as the template wrote it
(``customer.fist_name``), the line, and the names that do exist.

What a template can use (see :func:`context`)::

    customer.name, .first_name, .last_name, .email, .phone, .source, .tags,
    customer.custom.<key>     every custom field the tenant defined (None when unset)
    order.id, .amount, .currency, .item_count, .occurred_at   (when there is an order)
    campaign.name, shop.name, unsubscribe_url

No I/O: the values come from the caller (read models for a preview, the event
store for a send).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from domain.base import DomainError

MAX_OUTPUT = 1_000_000       # characters of one rendered part
MAX_REPEAT = 100_000         # longest string or list a template may build with * or **


class TemplateError(DomainError):
    """A template that does not compile or render; ``line`` is 1-based when known."""

    def __init__(self, message: str, field: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message, field)
        self.line = line
        self.reason = message


class Namespace:
    """Named, read-only values a template reads with dots: ``customer.custom.glaze``.

    Not a dict, so a custom field called ``items`` or ``values`` reads the
    field rather than a dict method; it knows its own path for error messages.
    """

    __slots__ = ("_path", "_values")

    def __init__(self, path: str, values: dict[str, Any]) -> None:
        self._path = path
        self._values = {key: Namespace(f"{path}.{key}", value) if isinstance(value, dict) else value
                        for key, value in values.items()}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __str__(self) -> str:
        return str(self._values.get("name") or "")


class _Missing(StrictUndefined):
    """StrictUndefined whose message says ``customer.fist_name is not defined (known: ...)``."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        owner = self._undefined_obj
        if self._undefined_hint is None and isinstance(owner, Namespace):
            known = ", ".join(sorted(owner))
            return f"{owner._path}.{self._undefined_name} is not defined (known: {known or 'none'})"
        return super()._undefined_message


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 100:
            raise SecurityError("exponents above 100 are not allowed in templates")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int) \
                        and len(sequence) * count > MAX_REPEAT:
                    raise SecurityError(f"a template may not build values longer than {MAX_REPEAT}")
        return super().call_binop(context, operator, left, right)


_TEXT = _Sandbox(undefined=_Missing, autoescape=False, keep_trailing_newline=True)
_HTML = _Sandbox(undefined=_Missing, autoescape=True, keep_trailing_newline=True)


def _template_line(error: BaseException) -> int | None:
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if frame.filename == "<template>"]
    return lines[-1] if lines else None


def compile_part(source: str, field: str, html: bool = False):
    """The compiled template, or a TemplateError with the line of the syntax error."""
    try:
        return (_HTML if html else _TEXT).from_string(source)
    except TemplateSyntaxError as error:
        raise TemplateError(error.message or "syntax error", field, error.lineno) from None
    except RecursionError:  # e.g. a long run of "{" opens nested expressions
        raise TemplateError("the template nests too deeply to compile", field) from None


def render_part(source: str, values: dict[str, Any], field: str, html: bool = False) -> str:
    template = compile_part(source, field, html)
    try:
        output = template.render(values)
    except UndefinedError as error:
        message = str(error)
        if (top := re.fullmatch(r"'(\w+)' is undefined", message)):
            message = f"{top[1]} is not defined (known: {', '.join(sorted(values))})"
        raise TemplateError(message, field, _template_line(error)) from None
    except SecurityError as error:
        raise TemplateError(f"not allowed: {error}", field, _template_line(error)) from None
    except Exception as error:  # a template can fail in many ways (1/0, a bad filter argument)
        raise TemplateError(f"{type(error).__name__}: {error}", field, _template_line(error)) from None
    if len(output) > MAX_OUTPUT:
        raise TemplateError(f"renders to more than {MAX_OUTPUT} characters", field)
    return output


def render(parts: dict[str, str | None], values: dict[str, Any]) -> dict[str, str | None]:
    """Renders a message's parts (``subject``, ``html``, ``text``); the HTML part is escaped."""
    namespaced = {key: Namespace(key, value) if isinstance(value, dict) else value
                  for key, value in values.items()}
    return {field: render_part(source, namespaced, field, html=field == "html") if source else None
            for field, source in parts.items()}


# -- the values a template sees ------------------------------------------------------------

def customer_values(customer: dict[str, Any], custom: dict[str, Any]) -> dict[str, Any]:
    name = customer.get("name") or ""
    first, _, last = name.partition(" ")
    return {"id": str(customer.get("id") or ""), "name": name, "first_name": first,
            "last_name": last.strip(), "email": customer.get("email"), "phone": customer.get("phone"),
            "source": customer.get("source"), "tags": list(customer.get("tags") or []),
            "custom": dict(custom)}


def order_values(order: dict[str, Any]) -> dict[str, Any]:
    return {"id": order["order_id"], "amount": str(order["amount"]), "currency": order["currency"],
            "item_count": order["item_count"], "occurred_at": order["occurred_at"]}


def context(customer: dict[str, Any], custom: dict[str, Any], order: dict[str, Any] | None = None,
            **extra: Any) -> dict[str, Any]:
    """The variables of one message: ``customer``, ``order`` (if any) and ``extra``
    (``campaign``, ``shop``, ``unsubscribe_url``)."""
    values = {"customer": customer_values(customer, custom), **extra}
    if order is not None:
        values["order"] = order_values(order)
    return values


_SAMPLES = {"text": "Sample text", "number": "42", "date": "2026-01-31", "boolean": True}


def sample_context(custom_fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every variable a template may use, with sample values: what a template is checked
    against when it is saved. ``custom_fields`` is key -> definition (type, options)."""
    custom = {}
    for key, definition in custom_fields.items():
        kind = definition["type"]
        if kind in ("select", "multi_select"):
            option = (definition.get("options") or ["Sample"])[0]
            custom[key] = option if kind == "select" else [option]
        else:
            custom[key] = _SAMPLES[kind]
    customer = {"id": "00000000-0000-0000-0000-000000000000", "name": "Ada Potter",
                "email": "ada@example.com", "phone": "+447700900123", "source": "website",
                "tags": ["sample"]}
    order = {"order_id": "ORDER-1001", "amount": "42.00", "currency": "GBP", "item_count": 2,
             "occurred_at": datetime(2026, 1, 31, 12, 0, tzinfo=timezone.utc)}
    return context(customer, custom, order, campaign={"name": "Sample campaign"},
                   shop={"name": "Sample shop"},
                   unsubscribe_url="https://crm.example/v1/t/u/sample-token")


# -- plain text from HTML, for emails written only in HTML ----------------------------------

class _Text(HTMLParser):
    BREAKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table"}
    SKIP = {"style", "script", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "a" and self.links and self.links[-1]:
            self.parts.append(f" ({self.links.pop()})")
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text, blank = [], False
    for line in lines:
        if line or not blank:
            text.append(line)
        blank = not line
    return "\n".join(text).strip() + "\n"
