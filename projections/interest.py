"""Which event types a projection can do anything with, read from the projection's own code.

Most projections ignore most events, so a rebuild need not build envelopes
for events none of the projections being built handle, and the projector need
not call every ``handle`` for every event. A projection's interest is every
event type (``"Customer.OrderRecorded"``) and type prefix (``"Quote."``) that
appears as a string in its module: in its functions' code (``match e.type``
cases, ``startswith`` arguments) and in its module-level data (a dict of
types to summaries). A module may state it instead as ``HANDLES`` (types and
prefixes). A module with no type names at all is interested in everything.

Over-including costs only speed. Under-including would be wrong silently, so
a projection must name the types it handles literally (not build them from
parts); tests/test_interest.py checks every event of the demo shop and the
``-p tests.envelope_check`` plugin every event a test run reads.
"""

from __future__ import annotations

import re
from types import CodeType, FunctionType, ModuleType
from typing import Any
from weakref import WeakKeyDictionary

_TYPE = re.compile(r"[A-Z][A-Za-z0-9_]*\.[A-Z][A-Za-z0-9_]*")
_PREFIX = re.compile(r"[A-Z][A-Za-z0-9_]*\.")


def _strings(value: Any, seen: set[int], found: set[str]) -> None:
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, CodeType):
        for constant in value.co_consts:
            _strings(constant, seen, found)
    elif isinstance(value, FunctionType):
        _strings(value.__code__, seen, found)
        for default in (value.__defaults__ or ()):
            _strings(default, seen, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            _strings(key, seen, found)
            _strings(item, seen, found)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _strings(item, seen, found)


class Interest:
    """``wants(event_type)``: may the projection's ``handle`` return anything for this type?"""

    def __init__(self, module: ModuleType) -> None:
        declared = getattr(module, "HANDLES", None)
        found: set[str] = set()
        if declared is not None:
            found.update(declared)
        else:
            seen: set[int] = set()
            for name, value in vars(module).items():
                if name.startswith("__") or isinstance(value, ModuleType):
                    continue
                _strings(value, seen, found)
        self.types = frozenset(s for s in found if _TYPE.fullmatch(s))
        self.prefixes = tuple(sorted(s for s in found if _PREFIX.fullmatch(s)))
        self.everything = not self.types and not self.prefixes
        self._known: dict[str, bool] = {}

    def wants(self, event_type: str) -> bool:
        known = self._known.get(event_type)
        if known is None:
            known = self._known[event_type] = (self.everything or event_type in self.types
                                               or event_type.startswith(self.prefixes))
        return known


_INTERESTS: WeakKeyDictionary = WeakKeyDictionary()  # module -> its Interest


def interest(module: ModuleType) -> Interest:
    found = _INTERESTS.get(module)
    if found is None:
        found = _INTERESTS[module] = Interest(module)
    return found
