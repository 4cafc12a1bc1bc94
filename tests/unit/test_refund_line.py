"""What My appointments says of a cancelled paid booking's refund (state.appointments)."""

from __future__ import annotations

import pytest

from efoy_app.domain.booking_cancel import RefundState
from efoy_app.state.appointments import refund_line


def state(cancellation: str, refund: str | None, note: str | None = None) -> RefundState:
    return RefundState(4500, "EUR", 50, cancellation, refund, note)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (None, ("", "gray")),
        (state("refund_issued", "succeeded"), ("Refunded €45.00 (50 %) to your card.", "green")),
        (state("refund_issued", "pending"), ("Refund of €45.00 (50 %) on its way to your card.",
                                             "amber")),
        (state("refund_issued", "failed"), ("The refund of €45.00 failed at the bank; the clinic "
                                            "will contact you.", "red")),
        (state("refund_issued", "canceled"), ("The refund of €45.00 failed at the bank; the "
                                              "clinic will contact you.", "red")),
        (state("awaiting_approval", None), ("Refund of €45.00 (50 %) waiting for the clinic's "
                                            "approval.", "amber")),
        (state("declined", None, "No-show fee"), ("The clinic declined the refund: No-show fee",
                                                  "red")),
        (state("no_refund", None), ("Nothing came back under the cancellation policy.", "gray")),
    ],
)  # fmt: skip
def test_each_refund_state_in_a_sentence(given, said) -> None:
    assert refund_line(given) == said
