"""Envelopes straight from stored events, without building domain event objects.

A rebuild or a catch-up reads tens of thousands of events a second, and the
library's way (decode with stdlib ``json`` and an object hook, construct the
event object, encode its data to JSON and decode it again for the envelope)
costs several times what reading them does. Here the stored state is decoded
once with orjson and the library's tagged values (``{"_type_": "uuid_hex",
"_data_": ...}``) become exactly what :func:`projections.envelope.from_event`
would have put in the envelope.

Exactness is the contract: any event this path is not sure about (an upcaster
applies, a tag it does not know, JSON orjson refuses, a cipher or compressor on
the store) goes the library's way, so both paths give equal envelopes
(tests/test_stored_envelopes.py compares them on every event type).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from hashlib import sha1
from typing import Any
from uuid import NAMESPACE_URL, UUID
from weakref import WeakKeyDictionary

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    Mapper,
    Notification,
    UUIDAsHex,
)
from eventsourcing.utils import resolve_topic

from projections.envelope import ENVELOPE_VERSION, Envelope, from_event

# The library's fields of a stored event's state; the rest is the envelope's data.
_NOT_DATA = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic",
                       "meta", "class_version"})
_HEX = "0123456789abcdef"
_NAMESPACE = NAMESPACE_URL.bytes


class _Unsure(Exception):
    """This event goes the library's way."""


def _uuid_text(hex_: str) -> str:
    if len(hex_) == 32 and not hex_.strip(_HEX):  # what UUIDAsHex writes
        return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"
    return str(UUID(hex_))


def _orjson_text(value: Any) -> str:
    return orjson.dumps(value)[1:-1].decode()


# tag name -> (the library's transcoding class, what the envelope carries for its data)
_TAGS = {
    "uuid_hex": (UUIDAsHex, _uuid_text),
    "decimal_str": (DecimalAsStr, lambda text: str(Decimal(text))),
    "datetime_iso": (DatetimeAsISO, lambda text: _orjson_text(datetime.fromisoformat(text))),
    "date_iso": (None, lambda text: _orjson_text(date.fromisoformat(text))),
}


def _plain(value: Any, tags: dict) -> Any:
    """A decoded JSON value with the library's tagged values replaced by their envelope text."""
    kind = type(value)
    if kind is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            render = tags.get(value["_type_"])
            text = value["_data_"]
            if render is None or type(text) is not str:
                raise _Unsure
            return render(text)
        return {k: _plain(v, tags) if type(v) in (dict, list) else v for k, v in value.items()}
    if kind is list:
        return [_plain(v, tags) if type(v) in (dict, list) else v for v in value]
    return value


def event_id(stream: str, version: int) -> str:
    """``str(uuid5(NAMESPACE_URL, f"{stream}/{version}"))`` without building UUID objects."""
    digest = bytearray(sha1(_NAMESPACE + f"{stream}/{version}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class StoredEnvelopes:
    """Turns a store's notifications into envelopes; one per mapper (the transcodings it knows)."""

    def __init__(self, mapper: Mapper) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        names = getattr(transcoder, "names", None)
        # Only the tags this process decodes exactly as the library's transcodings do.
        self.tags = {}
        if names is not None and not mapper.cipher and not mapper.compressor:
            for name, (kind, render) in _TAGS.items():
                transcoding = names.get(name)
                if transcoding is not None and (type(transcoding) is kind or (
                        kind is None and transcoding.type is date and name == "date_iso"
                        and transcoding.decode("2000-01-02") == date(2000, 1, 2))):
                    self.tags[name] = render
        self.enabled = names is not None and not mapper.cipher and not mapper.compressor \
            and "datetime_iso" in self.tags
        self.classes: dict[str, tuple[str, int]] = {}  # topic -> (type name, class_version)

    def type_name(self, topic: str) -> str:
        """The envelope type of events stored under ``topic`` (``Customer.OrderRecorded``)."""
        return self._class(topic)[0]

    def _class(self, topic: str) -> tuple[str, int]:
        known = self.classes.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self.classes[topic] = (cls.__qualname__, getattr(cls, "class_version", 1))
        return known

    def envelopes(self, notifications: list[Notification]) -> list[Envelope]:
        return [self.envelope(n) for n in notifications]

    def envelope(self, n: Notification) -> Envelope:
        if self.enabled:
            try:
                return self._fast(n)
            except (_Unsure, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass
        envelope = from_event(self.mapper.to_domain_event(n), n.id)
        if isinstance(n.originator_id, UUID):
            envelope.__dict__["aggregate_id"] = n.originator_id
        return envelope

    def _fast(self, n: Notification) -> Envelope:
        type_name, class_version = self._class(n.topic)
        aggregate_id = n.originator_id
        if type(aggregate_id) is not UUID:
            raise _Unsure
        state = orjson.loads(n.state)
        if state.pop("class_version", 1) != class_version:
            raise _Unsure  # an upcaster applies: the library's way
        tags = self.tags
        meta = state.pop("meta")
        tenant, actor = meta["tenant_id"], meta["actor"]
        correlation, causation = meta.get("correlation_id"), meta.get("causation_id")
        if type(tenant) is not str or type(actor) is not str or not (
                correlation is None or type(correlation) is str) or not (
                causation is None or type(causation) is str):
            raise _Unsure
        timestamp = state.pop("timestamp")
        if type(timestamp) is not dict or len(timestamp) != 2 or timestamp.get("_type_") != "datetime_iso":
            raise _Unsure
        occurred_at = datetime.fromisoformat(timestamp["_data_"]).isoformat()
        # What remains of the state is the data, in its stored order (the timeline keeps it as JSON).
        data = state
        for k in _NOT_DATA.intersection(data):
            del data[k]
        for k, v in data.items():
            if type(v) is dict or type(v) is list:
                data[k] = _plain(v, tags)
        stream = str(aggregate_id)
        version = n.originator_version
        envelope = object.__new__(Envelope)
        envelope.__dict__.update(
            position=n.id, event_id=event_id(stream, version), stream=stream, version=version,
            type=type_name, tenant=tenant, actor=actor, occurred_at=occurred_at,
            schema=class_version, data=data, correlation_id=correlation, causation_id=causation,
            envelope_version=ENVELOPE_VERSION, aggregate_id=aggregate_id)
        return envelope


_READERS: WeakKeyDictionary = WeakKeyDictionary()  # mapper -> its StoredEnvelopes


def stored_envelopes(mapper: Mapper) -> StoredEnvelopes:
    """The (cached) converter for ``mapper``."""
    reader = _READERS.get(mapper)
    if reader is None:
        reader = _READERS[mapper] = StoredEnvelopes(mapper)
    return reader
