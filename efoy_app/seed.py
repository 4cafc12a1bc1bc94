"""Demo data: two demo accounts and six doctors across timezones and currencies, then (with the
Stripe sandbox running) the demo patient's activity: past and upcoming bookings, a paid, a partly
refunded and a flagged payment, and a webhook event that failed.

Idempotent (safe on every `make run`), and refuses to run in production so demo accounts with
published passwords never exist there. `python -m efoy_app.seed` loads it and prints the accounts.

The activity is real against the sandbox: bookings are held with `bookings.hold_slot`, paid through
the domain's own `start_checkout`, the sandbox's Checkout form (its `/_sandbox/.../pay` control,
the same code path as the page) and `fulfill_checkout`, refunded with `refunds.refund_payment`; so
refunding the seeded paid payment from /admin works as for any other. Only the past bookings are
written directly (no rule lets anyone book the past): created held, then moved through
`audit.change_status`, so their trail reads like any other, with "Demo data" as the actor.
"""

from __future__ import annotations

import json
import sys
import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import Session, select

from efoy_app.domain import audit, bookings, payment_fulfil, payment_start, refunds, webhooks
from efoy_app.domain.auth import NO_LOGIN_HASH, hash_password
from efoy_app.domain.errors import DomainError
from efoy_app.domain.scheduling import local_today, to_local, upcoming_free_slots
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_COMPLETED,
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    ROLE_ADMIN,
    ROLE_DOCTOR,
    ROLE_PATIENT,
    AuditLog,
    Booking,
    DayOff,
    Doctor,
    Payment,
    User,
    WorkingHours,
    utcnow,
)
from efoy_app.settings import get_settings

DEMO_PATIENT_EMAIL = "patient@example.com"
DEMO_PATIENT_PASSWORD = "patient-demo-pass"
DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "admin-demo-pass"

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
    cancellation_policy: str | None = None  # the doctor's own; None: the clinic's


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
        cancellation_policy="72:100,24:50,0:0",
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
        cancellation_policy=spec.cancellation_policy,
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


# --- the demo patient's activity --------------------------------------------------------------

SEED_ACTOR = "system:demo-seed"  # shown as "Demo data" in the audit trail
# The patient whose late payment finds the slot taken: the other side of the flagged payment.
RIVAL_EMAIL = "meron.alemu@efoy.example"
TEST_CARD = "4242424242424242"
FAILED_EVENT_ID = "evt_demo_unmatched_refund"


@dataclass(frozen=True)
class DemoActivity:
    """The ids of what `load_demo_activity` made, for a test to look at."""

    paid_payment_id: int
    refunded_payment_id: int
    flagged_payment_id: int
    past_booking_ids: tuple[int, ...]
    failed_event_id: str


def _doctor(session: Session, email: str) -> Doctor:
    return session.exec(
        select(Doctor).join(User, Doctor.user_id == User.id).where(User.email == email)
    ).one()


def _slot(session: Session, doctor: Doctor, days_ahead: int, index: int) -> datetime:
    """A free slot `days_ahead` days from now in the doctor's calendar, the `index`th of its day
    (mid-morning: the first and the last slots of a day stay free for whoever tries them)."""
    slots = upcoming_free_slots(session, doctor.id)
    first_day = local_today(doctor.timezone) + timedelta(days=days_ahead)
    by_day: dict[date, list[datetime]] = {}
    for slot in slots:
        day = to_local(slot.starts_at, doctor.timezone).date()
        if day >= first_day:
            by_day.setdefault(day, []).append(slot.starts_at)
    for day in sorted(by_day):
        if len(by_day[day]) > index + 1:
            return by_day[day][index]
    raise RuntimeError(f"No free slot for {doctor.id} from {first_day}.")


def _pay_at_sandbox(session_id: str) -> None:
    """Submit the sandbox's hosted Checkout form with Stripe's test Visa."""
    base = (get_settings().stripe_api_base or "").rstrip("/")
    r = httpx.post(
        f"{base}/_sandbox/checkout/sessions/{session_id}/pay",
        json={"card": TEST_CARD, "email": DEMO_PATIENT_EMAIL},
        timeout=10,
    )
    if r.json().get("outcome") != "succeeded":
        raise RuntimeError(f"The sandbox did not take the demo payment: {r.text[:200]}")


def _paid_booking(session: Session, patient: User, doctor: Doctor, at: datetime) -> Payment:
    booking = bookings.hold_slot(
        session, patient=patient, doctor_id=doctor.id, starts_at=at, reason="Follow-up visit"
    )
    started = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    _pay_at_sandbox(started.session_id)
    return payment_fulfil.fulfill_checkout(session, started.session_id, actor=SEED_ACTOR)


def _flagged_payment(session: Session, patient: User, rival: User, doctor: Doctor) -> Payment:
    """A payment that lands after its hold lapsed and someone else took the slot: Efoy refunds
    it by itself and flags it (the same path a real late payment takes)."""
    at = _slot(session, doctor, days_ahead=4, index=4)
    booking = bookings.hold_slot(session, patient=patient, doctor_id=doctor.id, starts_at=at)
    started = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    row = session.get(Booking, booking.id)
    row.hold_expires_at = utcnow() - timedelta(seconds=1)  # the patient took too long
    session.add(row)
    session.commit()
    bookings.expire_lapsed_holds(session)
    bookings.hold_slot(session, patient=rival, doctor_id=doctor.id, starts_at=at)
    _pay_at_sandbox(started.session_id)
    return payment_fulfil.fulfill_checkout(session, started.session_id, actor=SEED_ACTOR)


def _past_booking(
    session: Session, patient: User, doctor: Doctor, days_ago: int, hour: int, end: str, why: str
) -> int:
    """A booking in the past (no rule books one): created held, then moved to `end`."""
    day = local_today(doctor.timezone) - timedelta(days=days_ago)
    starts_at = datetime.combine(day, time(hour), ZoneInfo(doctor.timezone)).astimezone(UTC)
    booked_at = starts_at - timedelta(days=3)
    booking = Booking(
        patient_id=patient.id,
        doctor_id=doctor.id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=doctor.slot_minutes),
        status=BOOKING_HELD,
        reason="Check-up",
        price_minor=doctor.fee_minor,
        currency=doctor.currency,
        created_at=booked_at,
        updated_at=booked_at,
    )
    session.add(booking)
    session.flush()
    audit.record(
        session,
        actor=SEED_ACTOR,
        entity_type="booking",
        entity_id=booking.id,
        action="held",
        to_status=BOOKING_HELD,
        details={"price_minor": booking.price_minor, "currency": booking.currency},
    )
    if end == BOOKING_COMPLETED:
        audit.change_status(
            session, booking, BOOKING_CONFIRMED, actor=SEED_ACTOR, entity_type="booking",
            reason="Paid at the front desk (demo data).",
        )  # fmt: skip
    audit.change_status(
        session, booking, end, actor=SEED_ACTOR, entity_type="booking", reason=why,
        action="cancelled" if end == BOOKING_CANCELLED else "status_changed",
    )  # fmt: skip
    session.commit()
    return booking.id


def _failed_event() -> None:
    """A webhook event Efoy cannot process (a refund without its payment), stored as failed
    with its error by the webhook code itself, as a real delivery would be."""
    event = {
        "id": FAILED_EVENT_ID,
        "object": "event",
        "type": "charge.refunded",
        "created": int(clock.time()),
        "data": {"object": {"object": "charge", "id": None}},
    }
    try:
        webhooks.process_event(json.loads(json.dumps(event)))
    except webhooks.WebhookProcessingError:
        return
    raise RuntimeError("The demo's failing webhook event was processed.")


def has_demo_activity(session: Session) -> bool:
    """Whether the activity is there already (its past bookings are written last)."""
    found = session.exec(
        select(AuditLog.id)
        .where(AuditLog.actor == SEED_ACTOR, AuditLog.entity_type == "booking")
        .where(AuditLog.action == "held")
        .limit(1)
    )
    return found.first() is not None


def load_demo_activity(session: Session) -> DemoActivity | None:
    """The demo patient's bookings and payments, made through the sandbox; None when they exist
    already or no sandbox is configured. Needs `load_demo_data` first."""
    settings = get_settings()
    if settings.env == "production":
        raise RuntimeError("Refusing to create demo payments: EFOY_ENV is production.")
    if not settings.stripe_api_base or has_demo_activity(session):
        return None
    patient = _user(session, DEMO_PATIENT_EMAIL)
    admin = _user(session, DEMO_ADMIN_EMAIL)
    _ensure_account(
        session,
        email=RIVAL_EMAIL,
        password=NO_LOGIN_HASH,
        full_name="Meron Alemu",
        role=ROLE_PATIENT,
        timezone="Africa/Addis_Ababa",
    )
    session.commit()
    rival = _user(session, RIVAL_EMAIL)
    assert patient is not None and admin is not None and rival is not None
    eur, etb, usd = (_doctor(session, f"{n}@efoy.example") for n in ("anna.schmidt",
                     "abebe.kebede", "emily.carter"))  # fmt: skip
    paid = _paid_booking(session, patient, eur, _slot(session, eur, days_ahead=3, index=3))
    partly = _paid_booking(session, patient, etb, _slot(session, etb, days_ahead=5, index=3))
    refunds.refund_payment(
        session,
        payment=partly,
        amount_minor=partly.amount_minor // 2,
        reason="The consultation was cut short; half the fee back.",
        requested_by_user_id=admin.id,
    )
    flagged = _flagged_payment(session, patient, rival, usd)
    session.commit()
    _failed_event()
    gbp, jpy = (_doctor(session, f"{n}@efoy.example") for n in ("oliver.hughes", "haruto.sato"))
    past = (
        _past_booking(session, patient, gbp, 9, 10, BOOKING_COMPLETED, "The visit took place."),
        _past_booking(
            session, patient, jpy, 4, 14, BOOKING_CANCELLED, "The patient could not come."
        ),
    )
    return DemoActivity(paid.id, partly.id, flagged.id, past, FAILED_EVENT_ID)


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
    with session_scope() as session:
        started = clock.monotonic()
        try:
            made = load_demo_activity(session)
        except (DomainError, httpx.HTTPError, RuntimeError) as exc:
            # The demo still starts; its admin pages are emptier. Said, never hidden.
            print(f"efoy: the demo's sample bookings and payments were not made: {exc}")
        else:
            if made is not None:
                print(
                    "efoy: demo bookings and payments made through the Stripe sandbox in "
                    f"{clock.monotonic() - started:.1f}s"
                )
    print(demo_accounts_text(with_passwords=sys.stdout.isatty()))


if __name__ == "__main__":
    main()
