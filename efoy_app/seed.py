"""Demo data: two demo accounts and six doctors across timezones and currencies.

Idempotent (safe on every `make run`), and refuses to run in production so demo accounts with
published passwords never exist there. `python -m efoy_app.seed` loads it and prints the accounts.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlmodel import Session, select

from efoy_app.domain.auth import hash_password
from efoy_app.models import (
    ROLE_ADMIN,
    ROLE_DOCTOR,
    ROLE_PATIENT,
    DayOff,
    Doctor,
    User,
    WorkingHours,
)
from efoy_app.settings import get_settings

DEMO_PATIENT_EMAIL = "patient@example.com"
DEMO_PATIENT_PASSWORD = "patient-demo-pass"
DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "admin-demo-pass"
# Doctors do not log in in this version: their hash is not an argon2 hash, so nothing matches it.
NO_LOGIN_HASH = "!no-login"

WEEKDAYS = (0, 1, 2, 3, 4)
MORNING = (time(9, 0), time(12, 0))
AFTERNOON = (time(13, 0), time(17, 0))


@dataclass(frozen=True)
class DemoDoctor:
    email: str
    full_name: str
    speciality: str
    bio: str
    fee_minor: int
    currency: str
    timezone: str
    slot_minutes: int = 30
    saturday: bool = False


DEMO_DOCTORS: tuple[DemoDoctor, ...] = (
    DemoDoctor(
        "abebe.kebede@efoy.example", "Dr. Abebe Kebede", "General practice",
        "Family doctor in Addis Ababa; check-ups, chronic care and referrals.",
        150000, "ETB", "Africa/Addis_Ababa",
    ),
    DemoDoctor(
        "anna.schmidt@efoy.example", "Dr. Anna Schmidt", "Cardiology",
        "Cardiologist in Berlin; heart rhythm, blood pressure and prevention.",
        9000, "EUR", "Europe/Berlin", saturday=True,
    ),
    DemoDoctor(
        "emily.carter@efoy.example", "Dr. Emily Carter", "Pediatrics",
        "Pediatrician in New York; newborns to teenagers.",
        4500, "USD", "America/New_York",
    ),
    DemoDoctor(
        "haruto.sato@efoy.example", "Dr. Haruto Sato", "Dermatology",
        "Dermatologist in Tokyo; skin, hair and nails.",
        5000, "JPY", "Asia/Tokyo",
    ),
    DemoDoctor(
        "oliver.hughes@efoy.example", "Dr. Oliver Hughes", "Neurology",
        "Neurologist in London; headaches, sleep and nerve disorders.",
        12000, "GBP", "Europe/London", slot_minutes=45,
    ),
    DemoDoctor(
        "sara.tesfaye@efoy.example", "Dr. Sara Tesfaye", "Gynecology",
        "Gynecologist in Addis Ababa; women's health and pregnancy care.",
        200000, "ETB", "Africa/Addis_Ababa",
    ),
)  # fmt: skip


def _user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def _ensure_account(
    session: Session, *, email: str, password: str, full_name: str, role: str, timezone: str
) -> None:
    if _user(session, email) is None:
        session.add(
            User(
                email=email,
                password_hash=hash_password(password),
                role=role,
                full_name=full_name,
                timezone=timezone,
            )
        )


def _days_off(index: int, today: date) -> list[date]:
    """One or two weekdays off within the coming two weeks, different for each doctor."""
    first = today + timedelta(days=2 + index)
    while first.weekday() >= 5:
        first += timedelta(days=1)
    days = [first]
    if index % 2 == 0:
        days.append(first + timedelta(days=7))
    return days


def _ensure_doctor(session: Session, index: int, spec: DemoDoctor, today: date) -> None:
    user = _user(session, spec.email)
    if user is None:
        user = User(
            email=spec.email,
            password_hash=NO_LOGIN_HASH,
            role=ROLE_DOCTOR,
            full_name=spec.full_name,
            timezone=spec.timezone,
        )
        session.add(user)
        session.flush()
    if session.exec(select(Doctor).where(Doctor.user_id == user.id)).first() is not None:
        return
    doctor = Doctor(
        user_id=user.id,
        speciality=spec.speciality,
        bio=spec.bio,
        fee_minor=spec.fee_minor,
        currency=spec.currency,
        slot_minutes=spec.slot_minutes,
        timezone=spec.timezone,
    )
    session.add(doctor)
    session.flush()
    for weekday in WEEKDAYS:
        for start, end in (MORNING, AFTERNOON):
            session.add(
                WorkingHours(doctor_id=doctor.id, weekday=weekday, start_time=start, end_time=end)
            )
    if spec.saturday:
        session.add(
            WorkingHours(doctor_id=doctor.id, weekday=5, start_time=time(10), end_time=time(13))
        )
    for day in _days_off(index, today):
        session.add(DayOff(doctor_id=doctor.id, day=day, reason="Day off"))


def load_demo_data(session: Session, today: date | None = None) -> None:
    """Create the demo accounts and doctors that are missing (commits); never in production."""
    if get_settings().env == "production":
        raise RuntimeError("Refusing to create demo accounts: EFOY_ENV is production.")
    today = today or date.today()
    _ensure_account(
        session,
        email=DEMO_PATIENT_EMAIL,
        password=DEMO_PATIENT_PASSWORD,
        full_name="Demo Patient",
        role=ROLE_PATIENT,
        timezone="Africa/Addis_Ababa",
    )
    _ensure_account(
        session,
        email=DEMO_ADMIN_EMAIL,
        password=DEMO_ADMIN_PASSWORD,
        full_name="Demo Admin",
        role=ROLE_ADMIN,
        timezone="UTC",
    )
    for index, spec in enumerate(DEMO_DOCTORS):
        _ensure_doctor(session, index, spec, today)
    session.commit()


def demo_accounts_text(with_passwords: bool) -> str:
    """The demo logins; passwords only for a person at a terminal, never into a log file."""
    if not with_passwords:
        return (
            f"Demo accounts: {DEMO_PATIENT_EMAIL} (patient), {DEMO_ADMIN_EMAIL} (admin); "
            "their passwords are in README.md, 'Demo accounts'."
        )
    return (
        "Demo accounts:\n"
        f"  patient  {DEMO_PATIENT_EMAIL} / {DEMO_PATIENT_PASSWORD}\n"
        f"  admin    {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}"
    )


def main() -> None:
    from efoy_app.db import session_scope

    with session_scope() as session:
        load_demo_data(session)
    print(demo_accounts_text(with_passwords=sys.stdout.isatty()))


if __name__ == "__main__":
    main()
