"""Building the rows a state sends to the browser from the domain's read models.

A row's field takes the read model's field of the same name, so a new field (a receipt number,
a refund policy) is declared on the read model and on the row, and copied by nobody. Only what is
shaped for display (labels, links, times in a zone) is given by hand.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar

from efoy_app.state.display import when_label

Row = TypeVar("Row")


@dataclasses.dataclass
class ColoredStatus:
    """A status and the colour of its badge (`statuses.look`)."""

    status: str = ""
    status_color: str = "gray"


@dataclasses.dataclass
class StatusBadge(ColoredStatus):
    """A status with its words as well as its colour."""

    status_label: str = ""


def row_from(cls: type[Row], *sources: object, tz: str, **display: Any) -> Row:
    """A `cls` from `sources` (the first that has a field by that name wins) and `display`.

    None becomes the row's default ("" for text); a time becomes `when_label` in `tz`
    ("Mon 1 Dec 2025, 09:30 EAT"), the one format times are shown in.
    """
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in display:
            values[field.name] = display[field.name]
            continue
        for source in sources:
            if hasattr(source, field.name):
                value = getattr(source, field.name)
                if isinstance(value, datetime):
                    value = when_label(value, tz)
                if value is not None:
                    values[field.name] = value
                break
    return cls(**values)
