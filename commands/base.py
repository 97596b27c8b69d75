"""What every command model shares: unknown fields are refused, text is trimmed."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _no_floats(value: object) -> object:
    # A JSON float such as 0.1 has already lost its exact value; money must be
    # sent as a string ("0.10") or an integer.
    if isinstance(value, float):
        raise ValueError("send money as a decimal string such as \"12.50\", not a float")
    return value


DecimalString = Annotated[
    Decimal,
    BeforeValidator(_no_floats),
    Field(description="A decimal string with at most two places, e.g. \"12.50\"",
          examples=["12.50"]),
]
