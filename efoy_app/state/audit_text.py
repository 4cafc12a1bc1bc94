"""The audit trail in words: who acted (a name, not "user:12") and why (a sentence, not JSON).

Audit rows keep machine values (`actor` like "user:12" / "stripe:evt_..." / "system:reconcile",
`action`, a short `reason`, `details` as JSON); admins read them here. A kind of row this module
does not know still reads as words: its action humanised and its details as "key: value" lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import format_money
from efoy_app.state import statuses

SYSTEM_ACTORS = {
    "reconcile": "Reconciliation",
    "hold-expiry": "Hold expiry",
    "fulfil": "Payment confirmation",
    "refunds": "Automatic refunds",
    "demo-seed": "Demo data",
}
ACTIONS = {
    "held": "Slot held",
    "status_changed": "Status changed",
    "cancelled": "Cancelled",
    "hold_expired": "Hold expired",
    "checkout_session_created": "Checkout started",
    "payment_intent_created": "Card payment started",
    "amount_mismatch": "Amount mismatch",
    "refund_requested": "Refund requested",
    "refund_queued": "Refund queued",
    "refund_retry_requested": "Refund sent again",
    "refund_seen_in_stripe": "Refund found at Stripe",
    "doctor_created": "Doctor added",
    "doctor_updated": "Doctor changed",
    "hours_changed": "Weekly hours changed",
    "day_off_added": "Day off added",
    "day_off_removed": "Day off removed",
    "extra_hours_added": "Extra hours added",
    "extra_hours_removed": "Extra hours removed",
    "photo_changed": "Photo changed",
    "photo_removed": "Photo removed",
}
# The doctor's fields as the set-up page names them.
DOCTOR_FIELDS = {
    "full_name": "name",
    "email": "email",
    "speciality": "speciality",
    "bio": "bio",
    "fee_minor": "fee",
    "currency": "currency",
    "slot_minutes": "appointment length",
    "timezone": "timezone",
    "active": "active",
}
# The short reasons the domain writes, as sentences.
REASONS = {
    "payment received": "The payment was received.",
    "payment succeeded": "Stripe reported the payment as succeeded.",
    "late payment, slot still free": (
        "The payment came after the hold lapsed; the slot was still free, so the booking stands."
    ),
    "checkout session expired": "The Checkout session expired without a payment.",
    "async payment failed": "The delayed payment failed.",
    "payment intent canceled": "The card payment was canceled.",
    "hold lapsed": "The hold lapsed before the payment arrived.",
    "refunds changed": "The refunds on this payment changed.",
    "card payment retried": "The patient tried the card payment again.",
}
DETAIL_NAMES = {
    "stripe_id": "Stripe id",
    "stripe_refund_id": "Stripe refund",
    "amount_minor": "amount",
    "price_minor": "price",
    "payment_id": "payment",
    "attempts": "attempts",
}


@dataclass(frozen=True)
class Actor:
    """Who acted, as a name, and what a tooltip adds (an email, a Stripe event id)."""

    name: str
    detail: str


def actor(raw: str, user_name: str | None = None, user_email: str | None = None) -> Actor:
    """ "user:12" → the user's full name; "stripe:evt_1" → "Stripe webhook"; "system:x" → x's
    name. `user_name`/`user_email` are the user's when `raw` names one."""
    kind, _, rest = raw.partition(":")
    if kind == "user":
        if user_name:
            return Actor(user_name, user_email or "")
        return Actor(f"User #{rest}" if rest else "A user", "")
    if kind == "stripe":
        return Actor("Stripe webhook", f"Event {rest}" if rest else "")
    if kind == "system":
        return Actor(SYSTEM_ACTORS.get(rest, f"Efoy ({rest.replace('-', ' ')})"), "")
    return Actor(statuses.humanize(raw), "")


def action_label(action: str) -> str:
    return ACTIONS.get(action) or statuses.humanize(action)


def change_label(entity_type: str, from_status: str | None, to_status: str | None) -> str:
    """ "Pending → Paid" in the entity's own labels; "" when the row moved no status."""
    if not (from_status or to_status):
        return ""
    table = statuses.BY_ENTITY.get(entity_type, {})

    def label(status: str | None) -> str:
        return statuses.look(table, status).label if status else "—"

    return f"{label(from_status)} → {label(to_status)}"


def _money(minor: Any, currency: str) -> str:
    try:
        return format_money(int(minor), currency)
    except (TypeError, ValueError, ValidationFailed):
        return str(minor)


def sentence(text: str | None) -> str:
    """A reason as a sentence: the known short ones replaced, others capitalised and closed."""
    cleaned = (text or "").strip()
    if not cleaned:
        return ""
    if cleaned in REASONS:
        return REASONS[cleaned]
    cleaned = cleaned[:1].upper() + cleaned[1:]
    return cleaned if cleaned[-1] in ".!?" else cleaned + "."


def _clause(text: str | None) -> str:
    """Someone's words after a colon: kept as typed, closed with a full stop."""
    cleaned = (text or "").strip()
    return cleaned if not cleaned or cleaned[-1] in ".!?" else cleaned + "."


def _detail_lines(details: Mapping[str, Any], currency: str) -> str:
    parts = []
    for key in sorted(details):
        value = details[key]
        if key.endswith("_minor"):
            value = _money(value, str(details.get("currency") or currency))
        if key == "currency":
            continue
        parts.append(f"{DETAIL_NAMES.get(key, key.replace('_', ' '))}: {value}")
    return "; ".join(parts)


def _field_value(key: str, value: Any, currency: str) -> str:
    if key == "fee_minor":
        return _money(value, currency)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if key == "bio" and isinstance(value, str) and len(value) > 60:
        return f"“{value[:57]}…”"
    return str(value) if value not in (None, "") else "none"


def _doctor_change(action: str, d: Mapping[str, Any], currency: str) -> str:
    """A doctor's creation or edit as "fee: €50.00 → €60.00; active: yes → no"."""
    if action == "doctor_created":
        fields = "; ".join(
            f"{DOCTOR_FIELDS.get(k, k)}: {_field_value(k, v, str(d.get('currency') or currency))}"
            for k, v in d.items()
            if k != "bio"
        )
        return f"Added with {fields}."
    parts = []
    for key, change in d.items():
        if not isinstance(change, Mapping):
            continue
        name = DOCTOR_FIELDS.get(key, key)
        was = d.get("currency")
        old_currency = str(was.get("from")) if isinstance(was, Mapping) else currency
        old = _field_value(key, change.get("from"), old_currency)
        new = _field_value(key, change.get("to"), currency)
        parts.append(f"{name}: {old} → {new}")
    return "; ".join(parts) + "." if parts else "Nothing changed."


def why(
    action: str,
    reason: str | None,
    details: Mapping[str, Any] | None,
    *,
    currency: str,
) -> str:
    """The "Why" of one audit row as one or two sentences, never JSON."""
    d = dict(details or {})
    said = sentence(reason)
    if action == "held":
        price = _money(d.get("price_minor"), str(d.get("currency") or currency))
        return f"The patient held the slot at {price}."
    if action in ("checkout_session_created", "payment_intent_created"):
        how = "Hosted Checkout" if action == "checkout_session_created" else "The card form"
        amount = _money(d.get("amount_minor"), currency)
        return f"{how} was opened at Stripe for {amount}."
    if action == "refund_requested":
        amount = _money(d.get("amount_minor"), currency)
        return f"A refund of {amount} was asked for" + (f": {_clause(reason)}" if said else ".")
    if action == "refund_seen_in_stripe":
        amount = _money(d.get("amount_minor"), currency)
        return f"Stripe has a refund of {amount} that Efoy had not made." + (
            f" {said}" if said else ""
        )
    if action == "refund_queued":
        tries = d.get("attempts")
        return said + (f" Attempts so far: {tries}." if tries else "")
    if action == "refund_retry_requested":
        return "The same refund was sent again" + (f": {_clause(reason)}" if said else ".")
    if action == "cancelled":
        return "Cancelled" + (f": {_clause(reason)}" if said else " without a reason given.")
    if action == "hold_expired":
        return "The hold lapsed before payment; the slot is free again."
    if action in ("doctor_created", "doctor_updated", "hours_changed"):
        return _doctor_change(action, d, currency)
    if action in ("day_off_added", "day_off_removed"):
        what = "closed" if action == "day_off_added" else "opened again"
        text = f"{d.get('day', 'A day')} {what}" + (f": {_clause(reason)}" if said else ".")
        gone = d.get("extra_hours_removed")
        return text + (f" Its extra hours went with it: {', '.join(gone)}." if gone else "")
    if action in ("extra_hours_added", "extra_hours_removed"):
        what = "added" if action == "extra_hours_added" else "removed"
        text = f"Extra hours {d.get('hours', '')} on {d.get('day', '')} {what}"
        return text + (f": {_clause(reason)}" if said else ".")
    extra = _detail_lines(d, currency) if d else ""
    return " ".join(part for part in (said, extra) if part)
