"""The admin lists' filters as written in a query string, read by one set of rules.

The REST API (`GET /api/v1/admin/payments`, its CSV twin) reads them strictly: a bad value is a
422 before any query runs. The /admin page reads the same words leniently: a bad value is left
out and said so ("Ignored status “lost”: ..."), because a person who edits a URL by hand, or
follows an old link, should still get a page. Both call the same field parsers below, so a
value the API refuses is one the page ignores, and the other way round.

The page's URL uses short names (`doctor`, `from`, `to`, `dates=created|paid`); `ALIASES` maps
them to the API's, and `page_query` writes a filter back in the page's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from efoy_app.domain.admin_views import (
    DATE_CREATED,
    DATE_PAID,
    FIRST_DAY,
    LAST_DAY,
    PAYMENT_STATUSES,
    SEARCH_MAX,
    PaymentFilter,
)
from efoy_app.domain.errors import ValidationFailed
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_COMPLETED,
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
)
from efoy_app.routes import MAX_ID, parse_id

BOOKING_STATUSES = (
    BOOKING_HELD,
    BOOKING_CONFIRMED,
    BOOKING_COMPLETED,
    BOOKING_CANCELLED,
    BOOKING_EXPIRED,
)
# The page's names for the API's parameters.
ALIASES = {"doctor": "doctor_id", "from": "date_from", "to": "date_to", "dates": "date_field"}
# The page says `dates=created` / `dates=paid`: the column's name without its "_at".
DATE_WORDS = {
    DATE_CREATED: DATE_CREATED.removesuffix("_at"),
    DATE_PAID: DATE_PAID.removesuffix("_at"),
}
DATE_FIELD_WORDS = {
    **{word: field for field, word in DATE_WORDS.items()},
    DATE_CREATED: DATE_CREATED,
    DATE_PAID: DATE_PAID,
}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
_DAY_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CURRENCY_RE = re.compile(r"^[A-Za-z]{3}$")
# A search: any text but control characters (C0, DEL, C1); the API's schema states it too.
SEARCH_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"


def _text(raw: object) -> str:
    return "" if raw is None else str(raw).strip()


def parse_status(raw: object) -> str | None:
    """A payment status, exactly as the lifecycle names it ("" means any)."""
    text = _text(raw)
    if not text:
        return None
    if text not in PAYMENT_STATUSES:
        raise ValidationFailed(f"unknown payment status; use one of {', '.join(PAYMENT_STATUSES)}.")
    return text


def parse_booking_status(raw: object) -> str | None:
    """A booking status as a person sees it (a lapsed hold is "expired")."""
    text = _text(raw)
    if not text:
        return None
    if text not in BOOKING_STATUSES:
        raise ValidationFailed(f"unknown booking status; use one of {', '.join(BOOKING_STATUSES)}.")
    return text


def parse_doctor_id(raw: object) -> int | None:
    """A doctor's id: ASCII digits from 1 to MAX_ID."""
    text = _text(raw)
    if not text:
        return None
    found = parse_id(text)
    if found is None:
        raise ValidationFailed(f"a doctor is given by an id from 1 to {MAX_ID}.")
    return found


def parse_currency(raw: object) -> str | None:
    """A three-letter ISO 4217 code in any case, e.g. usd → USD."""
    text = _text(raw)
    if not text:
        return None
    if not _CURRENCY_RE.match(text):
        raise ValidationFailed("a currency is a three-letter ISO 4217 code, e.g. USD.")
    return text.upper()


def parse_day(raw: object) -> date | None:
    """A calendar day YYYY-MM-DD from FIRST_DAY to LAST_DAY (a day in the clinic's timezone)."""
    text = _text(raw)
    if not text:
        return None
    if not _DAY_RE.match(text):
        raise ValidationFailed("expected a calendar date as YYYY-MM-DD.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{text} is not a calendar date.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationFailed(f"dates run from {FIRST_DAY} to {LAST_DAY}.")
    return day


def parse_flag(raw: object) -> bool:
    """Yes or no: 1/true/yes/on or 0/false/no/off (any case); nothing means no."""
    text = _text(raw).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS or not text:
        return False
    raise ValidationFailed("expected true or false.")


def parse_date_field(raw: object) -> str:
    """Which time a date range applies to: created (created_at, the default) or paid (paid_at)."""
    text = _text(raw).lower()
    if not text:
        return DATE_CREATED
    if text not in DATE_FIELD_WORDS:
        raise ValidationFailed("the date range applies to created_at or paid_at.")
    return DATE_FIELD_WORDS[text]


def parse_search(raw: object) -> str | None:
    """The search box: at most SEARCH_MAX characters, no control characters (PostgreSQL refuses
    a NUL in a string, and no email or Stripe id has one)."""
    text = _text(raw)
    if not text:
        return None
    if len(text) > SEARCH_MAX:
        raise ValidationFailed(f"a search has at most {SEARCH_MAX} characters.")
    if not re.fullmatch(SEARCH_PATTERN, text):
        raise ValidationFailed("a search cannot contain control characters.")
    return text


# The API's parameter names, each with its rule and the PaymentFilter field it fills.
_FIELDS: dict[str, tuple[str, Callable[[object], Any]]] = {
    "status": ("status", parse_status),
    "doctor_id": ("doctor_id", parse_doctor_id),
    "currency": ("currency", parse_currency),
    "date_field": ("date_field", parse_date_field),
    "date_from": ("date_from", parse_day),
    "date_to": ("date_to", parse_day),
    "flagged": ("flagged", parse_flag),
    "q": ("q", parse_search),
}
_LABELS = {
    "status": "status",
    "doctor_id": "doctor",
    "currency": "currency",
    "date_field": "dates",
    "date_from": "from",
    "date_to": "to",
    "flagged": "flagged",
    "q": "search",
}


def _canonical(values: Mapping[str, object]) -> dict[str, object]:
    """`values` under the API's names (the page's short names mapped; unknown keys dropped)."""
    out: dict[str, object] = {}
    for key, value in values.items():
        name = ALIASES.get(key, key)
        if name in _FIELDS and value is not None:
            out[name] = value
    return out


def payment_filter(values: Mapping[str, object], tz: str) -> PaymentFilter:
    """The filter in `values` (API or page names); raises ValidationFailed naming the first bad
    parameter. What the REST API does."""
    fields: dict[str, Any] = {"tz": tz}
    for name, raw in _canonical(values).items():
        field, parse = _FIELDS[name]
        try:
            fields[field] = parse(raw)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{name}: {exc.message}") from None
    f = PaymentFilter(**fields)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise ValidationFailed("The date range ends before it starts.")
    return f


@dataclass(frozen=True)
class LenientFilter:
    """A filter read from a page's URL and what was left out of it, in words for the page."""

    filters: PaymentFilter
    problems: tuple[str, ...] = ()


def _shown(raw: object) -> str:
    """A bad value as the page quotes it back: printable and short."""
    text = "".join(c if c.isprintable() else "\ufffd" for c in str(raw))
    return text if len(text) <= 40 else text[:39] + "…"


def lenient_payment_filter(values: Mapping[str, object], tz: str) -> LenientFilter:
    """The filter in a page's URL: each bad value is left out (the rest still apply) and named
    in `problems`. What the /admin page does."""
    fields: dict[str, Any] = {"tz": tz}
    problems: list[str] = []
    for name, raw in _canonical(values).items():
        field, parse = _FIELDS[name]
        try:
            fields[field] = parse(raw)
        except ValidationFailed as exc:
            problems.append(f"Ignored {_LABELS[name]} “{_shown(raw)}”: {exc.message}")
    f = PaymentFilter(**fields)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        problems.append("Ignored the dates: the range ends before it starts.")
        f = replace(f, date_from=None, date_to=None)
    return LenientFilter(f, tuple(problems))


def parse_page(raw: object) -> tuple[int, str]:
    """A page number from 1, and "" or why it was not taken (a word, zero: page 1). A number
    past the last page is kept here; `clamp_page` brings it back once the count is known."""
    text = _text(raw)
    if not text:
        return 1, ""
    if text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text), ""
    return 1, f"Ignored page “{_shown(raw)}”: a page is a number from 1; showing page 1."


def filter_params(f: PaymentFilter) -> dict[str, str]:
    """`f` in the API's parameter names (what the CSV link sends); defaults left out."""
    params: dict[str, str] = {}
    if f.status:
        params["status"] = f.status
    if f.doctor_id is not None:
        params["doctor_id"] = str(f.doctor_id)
    if f.currency:
        params["currency"] = f.currency.upper()
    if f.date_field != DATE_CREATED:
        params["date_field"] = f.date_field
    if f.date_from:
        params["date_from"] = f.date_from.isoformat()
    if f.date_to:
        params["date_to"] = f.date_to.isoformat()
    if f.flagged:
        params["flagged"] = "true"
    if f.q:
        params["q"] = f.q
    return params


def page_query(
    f: PaymentFilter, *, page: int = 1, tab: str = "payments", extra: Mapping[str, str] = {}
) -> str:
    """The /admin query string (no "?") that shows `f` on page `page`, in the page's words."""
    reverse = {v: k for k, v in ALIASES.items()}
    params = {"tab": tab}
    for name, value in filter_params(f).items():
        if name == "date_field":
            value = DATE_WORDS[value]
        if name == "flagged":
            value = "1"
        params[reverse.get(name, name)] = value
    params.update(extra)
    if page > 1:
        params["page"] = str(page)
    return urlencode(params)
