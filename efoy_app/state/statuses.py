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
# Refunds and webhook events are shown by their own (lower-case) names.
REFUND = {
    models.REFUND_PENDING: Look(models.REFUND_PENDING, "amber"),
    models.REFUND_SUCCEEDED: Look(models.REFUND_SUCCEEDED, "green"),
    models.REFUND_FAILED: Look(models.REFUND_FAILED, "red"),
    models.REFUND_CANCELED: Look(models.REFUND_CANCELED, "gray"),
}
EVENT = {
    models.EVENT_PROCESSED: Look(models.EVENT_PROCESSED, "green"),
    models.EVENT_IGNORED: Look(models.EVENT_IGNORED, "gray"),
    models.EVENT_FAILED: Look(models.EVENT_FAILED, "red"),
    models.EVENT_RECEIVED: Look(models.EVENT_RECEIVED, "amber"),
}
PAYMENT_KIND_LABELS = {
    models.PAYMENT_KIND_CHECKOUT: "Hosted Checkout",
    models.PAYMENT_KIND_INTENT: "Card form (PaymentIntent)",
}


def look(table: dict[str, Look], status: str) -> Look:
    """The look of `status` in `table`; an unknown status shows as itself, in gray."""
    return table.get(status) or Look(status, "gray")
