"""Bidirectional controls are removed from the free text people type for others to read."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from efoy_app.domain import auth, bookings
from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.text import BIDI_CONTROLS, clean_text
from efoy_app.models import AuditLog, Booking, User
from tests.unit.test_bookings import next_weekday_at

CONTROLS = [
    chr(c) for c in (0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069)
]
RLO = "\u202e"


def test_every_embedding_override_and_isolate_control_is_removed() -> None:
    assert sorted(BIDI_CONTROLS) == CONTROLS
    for control in CONTROLS:
        assert clean_text(f" Eve {control}evil{control} ") == "Eve evil"
    assert clean_text("".join(CONTROLS)) == ""
    assert clean_text(None) == ""


def test_other_control_characters_go_too_but_tabs_and_line_breaks_stay() -> None:
    """NUL would make PostgreSQL refuse the row (a 500, not a clear answer); a reason made of
    control characters alone is an empty reason."""
    assert clean_text("\x00\x01\x1f\x7f\x85\x9f") == ""
    assert clean_text("Dr.\x00 away\x07") == "Dr. away"
    assert clean_text("line one\nline two\tend") == "line one\nline two\tend"


def test_right_to_left_text_itself_is_kept() -> None:
    """Hebrew and Arabic display right to left without any control; marks are not overrides."""
    for name in ("שרה כהן", "ليلى حداد", "Ada\u200fLovelace", "Zoë O'Brien-Łukasz"):
        assert clean_text(name) == name


def test_registration_stores_the_name_as_it_displays(session: Session) -> None:
    user = auth.register_patient(
        session,
        email="eve@example.com",
        password="long enough",
        full_name=f"Eve {RLO}evil",
        phone="\u2066+1 555\u2069 0100",
    )
    stored = session.exec(select(User).where(User.id == user.id)).one()
    assert (stored.full_name, stored.phone) == ("Eve evil", "+1 555 0100")


def test_a_name_of_controls_only_is_empty(session: Session) -> None:
    with pytest.raises(ValidationFailed, match="Full name"):
        auth.register_patient(
            session, email="e@example.com", password="long enough", full_name=RLO * 3
        )


def test_an_email_with_controls_is_refused_not_rewritten(session: Session) -> None:
    with pytest.raises(ValidationFailed, match="valid email"):
        auth.register_patient(
            session, email=f"eve{RLO}@example.com", password="long enough", full_name="Eve"
        )
    assert session.exec(select(User)).all() == []


def test_booking_and_cancel_reasons_are_cleaned(session: Session, make_doctor, patient) -> None:
    doctor = make_doctor()
    booking = bookings.hold_slot(
        session,
        patient=patient,
        doctor_id=doctor.id,
        starts_at=next_weekday_at(9),
        reason=f"{RLO}hguoc \u202d cough",
    )
    assert booking.reason == "hguoc  cough"
    cancelled = bookings.cancel_booking(
        session, booking_id=booking.id, actor=patient, reason="plans \u2067changed\u2069"
    )
    stored = session.get(Booking, cancelled.id, populate_existing=True)
    assert (stored.reason, stored.cancelled_reason) == ("hguoc  cough", "plans changed")
    audit = session.exec(select(AuditLog.reason).where(AuditLog.action == "cancelled")).one()
    assert audit == "plans changed"
