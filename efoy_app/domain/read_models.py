"""Read models are built from the rows they describe: a field takes the row's attribute of the
same name, so a new column that a view shows (a receipt number, a refund policy) is declared on
the view and copied by nobody. Only what is computed or renamed is given by hand.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

View = TypeVar("View")


def build(cls: type[View], *sources: object, **given: Any) -> View:
    """A `cls` from `given`, then from the first of `sources` with an attribute of each name."""
    values = dict(given)
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in values:
            continue
        for source in sources:
            if hasattr(source, field.name):
                values[field.name] = getattr(source, field.name)
                break
    return cls(**values)
