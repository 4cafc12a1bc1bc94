"""Doctor listing and the demo data."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, func, select

from efoy_app.domain import auth, doctors
from efoy_app.domain.errors import NotFound
from efoy_app.domain.scheduling import upcoming_free_slots
from efoy_app.models import Booking, DayOff, Doctor, User, WorkingHours
from efoy_app.seed import DEMO_DOCTORS, has_demo_activity, load_demo_activity, load_demo_data
from efoy_app.settings import get_settings
from tests.conftest import PRODUCTION_ENV


def test_list_search_and_filter(session: Session, make_doctor) -> None:
    make_doctor(name="Dr. Haruto Sato", speciality="Dermatology", fee_minor=5000, currency="JPY")
    make_doctor(name="Dr. Anna Schmidt", speciality="Cardiology", fee_minor=9000, currency="EUR")
    make_doctor(name="Dr. Hidden", speciality="Cardiology", active=False)
    names = lambda views: [v.full_name for v in views]  # noqa: E731
    assert names(doctors.list_doctors(session)) == ["Dr. Anna Schmidt", "Dr. Haruto Sato"]
    assert names(doctors.list_doctors(session, search="SATO")) == ["Dr. Haruto Sato"]
    assert names(doctors.list_doctors(session, search="%")) == []
    assert names(doctors.list_doctors(session, speciality="cardiology")) == ["Dr. Anna Schmidt"]
    assert doctors.list_specialities(session) == ["Cardiology", "Dermatology"]
    sato = doctors.list_doctors(session, search="sato")[0]
    assert (sato.fee_minor, sato.currency, sato.fee_display) == (5000, "JPY", "¥5,000")
    assert doctors.get_doctor(session, sato.id) == sato


def test_search_matches_the_speciality_as_well_as_the_name(session: Session, make_doctor) -> None:
    make_doctor(name="Dr. Haruto Sato", speciality="Dermatology")
    make_doctor(name="Dr. Anna Schmidt", speciality="Cardiology")
    make_doctor(name="Dr. Cardenas Ruiz", speciality="Paediatrics")
    make_doctor(name="Dr. Hidden", speciality="Cardiology", active=False)
    names = lambda views: [v.full_name for v in views]  # noqa: E731
    # "cardio" is part of one speciality and "card" of one name too.
    assert names(doctors.list_doctors(session, search="cardio")) == ["Dr. Anna Schmidt"]
    assert names(doctors.list_doctors(session, search=" CARD ")) == [
        "Dr. Anna Schmidt",
        "Dr. Cardenas Ruiz",
    ]
    assert names(doctors.list_doctors(session, search="derma")) == ["Dr. Haruto Sato"]
    # Search and the speciality filter both apply.
    assert names(doctors.list_doctors(session, search="card", speciality="Paediatrics")) == [
        "Dr. Cardenas Ruiz"
    ]
    assert names(doctors.list_doctors(session, search="_")) == []


def test_get_unknown_or_inactive_doctor(session: Session, make_doctor) -> None:
    hidden = make_doctor(active=False)
    for doctor_id in (hidden.id, 424242):
        with pytest.raises(NotFound):
            doctors.get_doctor(session, doctor_id)


def _counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.exec(select(func.count()).select_from(model)).one()
        for model in (User, Doctor, WorkingHours, DayOff)
    )


def test_demo_data_is_complete_and_idempotent(session: Session) -> None:
    load_demo_data(session, today=date(2026, 3, 2))
    first = _counts(session)
    load_demo_data(session, today=date(2026, 3, 9))
    assert _counts(session) == first
    users, doctor_rows, hours, days_off = first
    assert (users, doctor_rows) == (2 + len(DEMO_DOCTORS), len(DEMO_DOCTORS)) == (8, 6)
    assert hours == 6 * 10 + 1 and days_off == 9
    views = doctors.list_doctors(session)
    assert {(v.timezone, v.currency) for v in views} >= {
        ("Africa/Addis_Ababa", "ETB"), ("Europe/Berlin", "EUR"),
        ("Asia/Tokyo", "JPY"), ("America/New_York", "USD"),
    }  # fmt: skip
    assert len({v.speciality for v in views}) == 6
    assert all(upcoming_free_slots(session, v.id) for v in views)
    patient = auth.authenticate(
        session, email="patient@example.com", password="patient-demo-pass", client_address="::1"
    )
    admin = auth.authenticate(
        session, email="admin@example.com", password="admin-demo-pass", client_address="::1"
    )
    assert (patient.role, patient.timezone) == ("patient", "Africa/Addis_Ababa")
    assert admin.role == "admin"
    doctor_user = session.exec(select(User).where(User.role == "doctor")).first()
    assert not auth.verify_password(doctor_user.password_hash, "")


def test_demo_data_is_refused_in_production(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with pytest.raises(RuntimeError):
        load_demo_data(session)
    assert _counts(session) == (0, 0, 0, 0)


def test_demo_activity_needs_the_sandbox_and_is_refused_in_production(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_demo_data(session)
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    get_settings.cache_clear()
    assert load_demo_activity(session) is None  # no sandbox: nothing made, nothing broken
    assert session.exec(select(func.count()).select_from(Booking)).one() == 0
    assert has_demo_activity(session) is False
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with pytest.raises(RuntimeError):
        load_demo_activity(session)
