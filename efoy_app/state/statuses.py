"""The one table of how each status is shown: its label and its badge colour.

States put the label and colour on the rows they send to the browser; pages draw them with
`components.badges`. A new status gets its look here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from efoy_app import models

# Shown for a pending refund that Stripe did not answer: the same form sent again retries it.
REFUND_QUEUED = "queued"


@dataclass(frozen=True)
class Look:
    label: str
    color: str


BOOKING = {
    models.BOOKING_HELD: Look("Held, awaiting payment", "amber"),
    models.BOOKING_CONFIRMED: Look("Confirmed", "green"),
    models.BOOKING_COMPLETED: Look("Completed", "blue"),
    models.BOOKING_CANCELLED: Look("Cancelled", "gray"),
    models.BOOKING_EXPIRED: Look("Expired", "gray"),
}
PAYMENT = {
    models.PAYMENT_PENDING: Look("Pending", "amber"),
    models.PAYMENT_PAID: Look("Paid", "green"),
    models.PAYMENT_PARTIALLY_REFUNDED: Look("Partially refunded", "orange"),
    models.PAYMENT_REFUNDED: Look("Refunded", "gray"),
    models.PAYMENT_FAILED: Look("Failed", "red"),
    models.PAYMENT_EXPIRED: Look("Expired", "gray"),
}
REFUND = {
    models.REFUND_PENDING: Look("Pending", "amber"),
    models.REFUND_SUCCEEDED: Look("Succeeded", "green"),
    models.REFUND_FAILED: Look("Failed", "red"),
    models.REFUND_CANCELED: Look("Canceled", "gray"),
    REFUND_QUEUED: Look("Queued, will be sent", "amber"),
}
CANCELLATION = {
    models.CANCELLATION_AWAITING: Look("Awaiting approval", "amber"),
    models.CANCELLATION_REFUNDED: Look("Refund issued", "green"),
    models.CANCELLATION_NO_REFUND: Look("No refund due", "gray"),
    models.CANCELLATION_DECLINED: Look("Refund declined", "red"),
}
EVENT = {
    models.EVENT_PROCESSED: Look("Processed", "green"),
    models.EVENT_IGNORED: Look("Ignored", "gray"),
    models.EVENT_FAILED: Look("Failed", "red"),
    models.EVENT_RECEIVED: Look("Received", "amber"),
}
# The table of each kind of row the audit trail names.
BY_ENTITY = {
    "booking": BOOKING,
    "payment": PAYMENT,
    "refund": REFUND,
    "cancellation": CANCELLATION,
}
PAYMENT_KIND_LABELS = {
    models.PAYMENT_KIND_CHECKOUT: "Hosted Checkout",
    models.PAYMENT_KIND_INTENT: "Card form (PaymentIntent)",
}


def look(table: dict[str, Look], status: str) -> Look:
    """The look of `status` in `table`; an unknown status shows as words ("on_hold" → "On
    hold"), in gray, never as the raw value."""
    return table.get(status) or Look(humanize(status), "gray")


def humanize(value: str) -> str:
    """A machine word as a person reads it: "partially_refunded" → "Partially refunded"."""
    words = value.replace("_", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:]
