"""The audit trail, the statuses and the times in words, as the admin pages show them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from efoy_app.settings import Settings, get_settings
from efoy_app.state import audit_text, statuses
from efoy_app.state.audit_text import Actor
from efoy_app.state.display import clinic_timezone, when_exact_label, when_label


@pytest.mark.parametrize(
    ("raw", "name", "email", "expected"),
    [
        ("user:7", "Demo Admin", "admin@example.com", Actor("Demo Admin", "admin@example.com")),
        ("user:7", None, None, Actor("User #7", "")),  # the account is gone
        ("stripe:evt_1Abc", None, None, Actor("Stripe webhook", "Event evt_1Abc")),
        ("system:reconcile", None, None, Actor("Reconciliation", "")),
        ("system:refunds", None, None, Actor("Automatic refunds", "")),
        ("system:hold-expiry", None, None, Actor("Hold expiry", "")),
        ("system:demo-seed", None, None, Actor("Demo data", "")),
        ("system:night-batch", None, None, Actor("Efoy (night batch)", "")),
        ("cron_job", None, None, Actor("Cron job", "")),
    ],
)
def test_actors_are_names(raw, name, email, expected):
    assert audit_text.actor(raw, name, email) == expected


@pytest.mark.parametrize(
    ("action", "reason", "details", "expected"),
    [
        ("held", None, {"price_minor": 9000, "currency": "EUR"},
         "The patient held the slot at €90.00."),
        ("checkout_session_created", None, {"stripe_id": "cs_1", "amount_minor": 5000},
         "Hosted Checkout was opened at Stripe for ¥5,000."),
        ("payment_intent_created", None, {"stripe_id": "pi_1", "amount_minor": 5000},
         "The card form was opened at Stripe for ¥5,000."),
        ("refund_requested", "doctor ran late", {"payment_id": 3, "amount_minor": 1250},
         "A refund of ¥1,250 was asked for: doctor ran late."),
        ("refund_seen_in_stripe", None, {"stripe_refund_id": "re_1", "amount_minor": 100},
         "Stripe has a refund of ¥100 that Efoy had not made."),
        ("refund_queued", "Stripe did not answer; it will be sent again.", {"attempts": 2},
         "Stripe did not answer; it will be sent again. Attempts so far: 2."),
        ("refund_retry_requested", "same again", None,
         "The same refund was sent again: same again."),
        ("cancelled", None, None, "Cancelled without a reason given."),
        ("cancelled", "feeling better", None, "Cancelled: feeling better."),
        ("hold_expired", "hold lapsed", None,
         "The hold lapsed before payment; the slot is free again."),
        ("status_changed", "payment received", None, "The payment was received."),
        ("status_changed", "refunds changed", None, "The refunds on this payment changed."),
        ("status_changed", "Paid at the desk", None, "Paid at the desk."),
        ("amount_mismatch", "Checkout amount differs.", None, "Checkout amount differs."),
        # A kind this module has never seen: words, never JSON.
        ("price_fixed", "fee corrected", {"old_minor": 4000, "note": "typo"},
         "Fee corrected. note: typo; old minor: ¥4,000"),
        ("price_fixed", None, None, ""),
    ],
)  # fmt: skip
def test_why_is_a_sentence(action, reason, details, expected):
    said = audit_text.why(action, reason, details, currency="JPY")
    assert said == expected
    assert "{" not in said


def test_changes_and_actions_use_labels():
    assert audit_text.change_label("payment", "paid", "partially_refunded") == (
        "Paid → Partially refunded"
    )
    assert audit_text.change_label("refund", None, "pending") == "— → Pending"
    assert (
        audit_text.change_label("booking", "held", "on_hold") == "Held, awaiting payment → On hold"
    )
    assert audit_text.change_label("payment", None, None) == ""
    assert audit_text.action_label("refund_requested") == "Refund requested"
    assert audit_text.action_label("price_fixed") == "Price fixed"


def test_every_status_has_a_label_that_is_not_its_raw_value():
    for table in (statuses.BOOKING, statuses.PAYMENT, statuses.REFUND, statuses.EVENT):
        for status, look in table.items():
            assert look.label != status and look.label[0].isupper(), status
    assert statuses.look(statuses.PAYMENT, "partially_refunded").label == "Partially refunded"
    assert statuses.look(statuses.EVENT, "lost_in_transit").label == "Lost in transit"


def test_times_have_one_format_and_the_tooltip_has_seconds():
    moment = datetime(2025, 12, 1, 6, 30, 12, tzinfo=UTC)
    assert when_label(moment, "Africa/Addis_Ababa") == "Mon 1 Dec 2025, 09:30 EAT"
    assert when_exact_label(moment, "Africa/Addis_Ababa") == "Mon 1 Dec 2025, 09:30:12 EAT"
    assert when_exact_label(None, "UTC") == ""


def test_the_clinic_timezone_is_an_iana_name(monkeypatch):
    assert Settings().clinic_timezone == "UTC"
    monkeypatch.setenv("EFOY_CLINIC_TIMEZONE", " Africa/Addis_Ababa ")
    get_settings.cache_clear()
    assert clinic_timezone() == "Africa/Addis_Ababa"
    for wrong in ("Africa/Adis_Ababa", "", "../etc/passwd", "EAT+3"):
        monkeypatch.setenv("EFOY_CLINIC_TIMEZONE", wrong)
        with pytest.raises(ValidationError, match="is not an IANA timezone name"):
            Settings()
