"""The one table of how each status is shown: its label and its badge colour.

States put the label and colour on the rows they send to the browser; pages draw them with
`components.badges`. A new status gets its look here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_COMPLETED,
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
    EVENT_FAILED,
    EVENT_IGNORED,
    EVENT_PROCESSED,
    EVENT_RECEIVED,
    PAYMENT_EXPIRED,
    PAYMENT_FAILED,
    PAYMENT_KIND_CHECKOUT,
    PAYMENT_KIND_INTENT,
    PAYMENT_PAID,
    PAYMENT_PARTIALLY_REFUNDED,
    PAYMENT_PENDING,
    PAYMENT_REFUNDED,
    REFUND_CANCELED,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_SUCCEEDED,
)

# Shown for a pending refund that Stripe did not answer: the same form sent again retries it.
REFUND_QUEUED = "queued"


@dataclass(frozen=True)
class Look:
    label: str
    color: str


BOOKING = {
    BOOKING_HELD: Look("Held, awaiting payment", "amber"),
    BOOKING_CONFIRMED: Look("Confirmed", "green"),
    BOOKING_COMPLETED: Look("Completed", "blue"),
    BOOKING_CANCELLED: Look("Cancelled", "gray"),
    BOOKING_EXPIRED: Look("Expired", "gray"),
}
PAYMENT = {
    PAYMENT_PENDING: Look("Pending", "amber"),
    PAYMENT_PAID: Look("Paid", "green"),
    PAYMENT_PARTIALLY_REFUNDED: Look("Partially refunded", "orange"),
    PAYMENT_REFUNDED: Look("Refunded", "gray"),
    PAYMENT_FAILED: Look("Failed", "red"),
    PAYMENT_EXPIRED: Look("Expired", "gray"),
}
# Refunds and webhook events are shown by their own (lower-case) names.
REFUND = {
    REFUND_PENDING: Look(REFUND_PENDING, "amber"),
    REFUND_SUCCEEDED: Look(REFUND_SUCCEEDED, "green"),
    REFUND_FAILED: Look(REFUND_FAILED, "red"),
    REFUND_CANCELED: Look(REFUND_CANCELED, "gray"),
}
EVENT = {
    EVENT_PROCESSED: Look(EVENT_PROCESSED, "green"),
    EVENT_IGNORED: Look(EVENT_IGNORED, "gray"),
    EVENT_FAILED: Look(EVENT_FAILED, "red"),
    EVENT_RECEIVED: Look(EVENT_RECEIVED, "amber"),
}
PAYMENT_KIND_LABELS = {
    PAYMENT_KIND_CHECKOUT: "Hosted Checkout",
    PAYMENT_KIND_INTENT: "Card form (PaymentIntent)",
}


def look(table: dict[str, Look], status: str) -> Look:
    """The look of `status` in `table`; an unknown status shows as itself, in gray."""
    return table.get(status) or Look(status, "gray")
