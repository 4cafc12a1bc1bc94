"""Doctors as the clinic's admins set them up: create, edit, deactivate, list, one rule set for the
pages and the REST API.

A doctor is a `Doctor` row beside a `User` account of role doctor, found or made by email: an
email nobody uses gets a new account that cannot log in (doctors do not sign in to Efoy yet); an
unlinked doctor account is linked; a patient's account becomes the doctor's (said in the
answer and the audit trail); an admin's is refused. The fee is the price of new bookings only:
every booking keeps the price it was made at (`Booking.price_minor`), and the answer says how
many do. A deactivation or a new timezone (which moves every wall-clock hour) lists the bookings
it would strand first (`sold_bookings`). Every change is in the audit trail, field by field.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from babel.numbers import get_currency_name
from sqlmodel import Session, col, func, select

from efoy_app.domain import audit, sold_bookings
from efoy_app.domain.auth import EMAIL_RE, NO_LOGIN_HASH, normalize_email, validate_timezone
from efoy_app.domain.doctors import locked_doctor
from efoy_app.domain.errors import Conflict, NotFound, ValidationFailed
from efoy_app.domain.money import format_money, normalize_currency, parse_amount
from efoy_app.domain.scheduling import busy_clause
from efoy_app.domain.text import clean_text, escape_like
from efoy_app.domain.working_plan import PlanSaved
from efoy_app.models import (
    ROLE_ADMIN,
    ROLE_DOCTOR,
    ROLE_PATIENT,
    Booking,
    Doctor,
    User,
    utcnow,
)

# Currencies a clinic can charge in: Stripe takes them all and none has three decimals.
CURRENCIES = (
    "AED", "AUD", "BRL", "CAD", "CHF", "CZK", "DKK", "EGP", "ETB", "EUR", "GBP", "GHS", "HKD",
    "HUF", "INR", "JPY", "KES", "MAD", "MXN", "NGN", "NOK", "NZD", "PKR", "PLN", "SAR", "SEK",
    "SGD", "TRY", "TZS", "UGX", "USD", "ZAR",
)  # fmt: skip
SLOT_LENGTHS = (10, 15, 20, 30, 45, 60, 90, 120)
MAX_FEE_MINOR = 99_999_999  # Stripe's largest amount for a single charge
# Stripe's smallest card charge where it publishes one, in minor units
# (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts); a fee below it could
# never be paid. Other currencies are converted by Stripe, so only zero is refused for them.
MIN_FEE_MINOR = {
    "AED": 200, "AUD": 50, "BRL": 50, "CAD": 50, "CHF": 50, "CZK": 1500, "DKK": 250,
    "EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17500, "INR": 50, "JPY": 50, "MXN": 1000,
    "NOK": 300, "NZD": 50, "PLN": 200, "SEK": 300, "SGD": 50, "USD": 50,
}  # fmt: skip
_LIMITS = {"full_name": 200, "speciality": 100, "bio": 2000}


@dataclass(frozen=True)
class DoctorFields:
    """What an admin fills in; on an edit, None leaves a field as it is."""

    full_name: str | None = None
    email: str | None = None
    speciality: str | None = None
    bio: str | None = None
    fee_minor: int | None = None
    currency: str | None = None
    slot_minutes: int | None = None
    timezone: str | None = None
    active: bool | None = None

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


def currency_choices() -> list[tuple[str, str]]:
    """(code, "EUR — Euro") for the page's list."""
    return [(c, f"{c} — {get_currency_name(c, locale='en')}") for c in CURRENCIES]


def parse_fee(text: str, currency: str) -> int:
    """A fee typed in the currency's units ("90", "90.50", "€90") into minor units."""
    return parse_amount(text, check_currency(currency))


def check_currency(currency: str) -> str:
    code = normalize_currency(currency)
    if code not in CURRENCIES:
        raise ValidationFailed(f"Efoy does not take payments in {code}; choose one from the list.")
    return code


def check_fee_payable(fee_minor: int, currency: str) -> None:
    """A fee a card can pay: not under Stripe's minimum charge for its currency."""
    least = MIN_FEE_MINOR.get(currency, 1)
    if fee_minor < least:
        raise ValidationFailed(
            f"The fee must be at least {format_money(least, currency)}: Stripe takes no smaller "
            "card payment."
        )


def _text(name: str, value: str, *, required: bool) -> str:
    value = clean_text(value)
    label = name.replace("_", " ").capitalize()
    if required and not value:
        raise ValidationFailed(f"{label} is required.")
    if len(value) > _LIMITS[name]:
        raise ValidationFailed(f"{label} must be at most {_LIMITS[name]} characters.")
    return value


def _check(values: dict[str, Any]) -> dict[str, Any]:
    """Each given field cleaned and checked; ValidationFailed names the first bad one."""
    out: dict[str, Any] = {}
    for name in ("full_name", "speciality"):
        if name in values:
            out[name] = _text(name, values[name], required=True)
    if "bio" in values:
        out["bio"] = _text("bio", values["bio"], required=False)
    if "email" in values:
        email = normalize_email(values["email"])
        if len(email) > 320 or not EMAIL_RE.match(email) or clean_text(email) != email:
            raise ValidationFailed("Enter a valid email address.")
        out["email"] = email
    if "currency" in values:
        out["currency"] = check_currency(values["currency"])
    if "fee_minor" in values:
        fee = values["fee_minor"]
        if isinstance(fee, bool) or not isinstance(fee, int) or fee <= 0:
            raise ValidationFailed("The fee must be more than zero.")
        if fee > MAX_FEE_MINOR:
            raise ValidationFailed("The fee is larger than a card payment can be.")
        out["fee_minor"] = fee
    if "slot_minutes" in values:
        minutes = values["slot_minutes"]
        if isinstance(minutes, bool) or minutes not in SLOT_LENGTHS:
            raise ValidationFailed(
                "An appointment lasts " + ", ".join(map(str, SLOT_LENGTHS)) + " minutes."
            )
        out["slot_minutes"] = minutes
    if "timezone" in values:
        out["timezone"] = validate_timezone(values["timezone"])
    if "active" in values:
        if not isinstance(values["active"], bool):
            raise ValidationFailed("Active is yes or no.")
        out["active"] = values["active"]
    return out


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminDoctor:
    """A doctor as the admin pages and API show one."""

    id: int
    user_id: int
    full_name: str
    email: str
    speciality: str
    bio: str
    fee_minor: int
    currency: str
    fee_display: str
    slot_minutes: int
    timezone: str
    active: bool
    photo_updated_at: datetime | None
    upcoming_bookings: int


def _upcoming_counts(db: Session, doctor_ids: list[int], now: datetime) -> dict[int, int]:
    if not doctor_ids:
        return {}
    rows = db.exec(
        select(Booking.doctor_id, func.count())
        .where(
            col(Booking.doctor_id).in_(doctor_ids),
            col(Booking.ends_at) > now,
            busy_clause(now),
        )
        .group_by(Booking.doctor_id)
    ).all()
    return dict(rows)


def _view(doctor: Doctor, user: User, upcoming: int) -> AdminDoctor:
    return AdminDoctor(
        id=doctor.id, user_id=user.id, full_name=user.full_name, email=user.email,
        speciality=doctor.speciality, bio=doctor.bio, fee_minor=doctor.fee_minor,
        currency=doctor.currency, fee_display=format_money(doctor.fee_minor, doctor.currency),
        slot_minutes=doctor.slot_minutes, timezone=doctor.timezone, active=doctor.active,
        photo_updated_at=doctor.photo_updated_at, upcoming_bookings=upcoming,
    )  # fmt: skip


def list_doctors(
    db: Session, *, search: str = "", active: bool | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[AdminDoctor], int]:
    """Every doctor (inactive ones too unless `active` says), by name; `search` matches part
    of the name, email or speciality. Returns a page and how many match in all."""
    query = select(Doctor, User).join(User, User.id == Doctor.user_id)
    count = select(func.count()).select_from(Doctor).join(User, User.id == Doctor.user_id)
    terms = []
    search = clean_text(search)[:100].lower()
    if search:
        pattern = f"%{escape_like(search)}%"
        terms.append(
            sa.or_(
                func.lower(User.full_name).like(pattern, escape="\\"),
                func.lower(User.email).like(pattern, escape="\\"),
                func.lower(Doctor.speciality).like(pattern, escape="\\"),
            )
        )
    if active is not None:
        terms.append(Doctor.active == (sa.true() if active else sa.false()))
    if terms:
        query = query.where(*terms)
        count = count.where(*terms)
    rows = db.exec(query.order_by(User.full_name, Doctor.id).limit(limit).offset(offset)).all()
    counts = _upcoming_counts(db, [d.id for d, _ in rows], utcnow())
    total = db.exec(count).one()
    return [_view(d, u, counts.get(d.id, 0)) for d, u in rows], int(total)


def get_doctor(db: Session, doctor_id: int) -> AdminDoctor:
    """One doctor, active or not; NotFound otherwise."""
    doctor = db.get(Doctor, doctor_id, populate_existing=True)
    user = db.get(User, doctor.user_id) if doctor is not None else None
    if doctor is None or user is None:
        raise NotFound("Doctor not found.")
    return _view(doctor, user, _upcoming_counts(db, [doctor.id], utcnow()).get(doctor.id, 0))


# --- changing ------------------------------------------------------------------------------


def _account_for(db: Session, email: str, full_name: str) -> tuple[User, str]:
    """The user the doctor signs in as, found or made by email, and a sentence about it."""
    user = db.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = User(email=email, password_hash=NO_LOGIN_HASH, role=ROLE_DOCTOR,
                    full_name=full_name, timezone="UTC")  # fmt: skip
        db.add(user)
        db.flush()
        return user, ""
    if user.role == ROLE_ADMIN:
        raise Conflict(f"{email} is an admin's account; use the doctor's own email.",
                       code="email_taken")  # fmt: skip
    if db.exec(select(Doctor.id).where(Doctor.user_id == user.id)).first() is not None:
        raise Conflict(f"{email} is another doctor's already.", code="email_taken")
    said = ""
    if user.role == ROLE_PATIENT:
        said = f" The patient account {email} is now the doctor's account."
    user.role = ROLE_DOCTOR
    user.full_name = full_name
    db.add(user)
    return user, said or f" Linked to the existing account {email}."


def create_doctor(db: Session, values: DoctorFields, admin: User) -> tuple[AdminDoctor, str]:
    """A new doctor (commits); they have no hours until the admin gives them some."""
    given = values.given()
    missing = [n for n in ("full_name", "email", "speciality", "fee_minor", "currency")
               if n not in given]  # fmt: skip
    if missing:
        raise ValidationFailed(f"{missing[0].replace('_', ' ').capitalize()} is required.")
    v = _check(given)
    check_fee_payable(v["fee_minor"], v["currency"])
    try:
        user, said = _account_for(db, v["email"], v["full_name"])
        doctor = Doctor(
            user_id=user.id, speciality=v["speciality"], bio=v.get("bio", ""),
            fee_minor=v["fee_minor"], currency=v["currency"],
            slot_minutes=v.get("slot_minutes", 30), timezone=v.get("timezone", "UTC"),
            active=v.get("active", True),
        )  # fmt: skip
        db.add(doctor)
        db.flush()
        audit.record(
            db, actor=f"user:{admin.id}", entity_type="doctor", entity_id=doctor.id,
            action="doctor_created", details={k: v[k] for k in sorted(v)},
        )  # fmt: skip
        db.commit()
    except sa.exc.IntegrityError:
        db.rollback()
        raise Conflict(f"{v['email']} is another doctor's already.", code="email_taken") from None
    except BaseException:
        db.rollback()
        raise
    view = get_doctor(db, doctor.id)
    return view, f"{view.full_name} added; give them working hours so patients can book.{said}"


def update_doctor(
    db: Session,
    doctor_id: int,
    values: DoctorFields,
    admin: User,
    *,
    on_bookings: str | None = None,
    cancel_reason: str = "",
    seen: Collection[int] | None = None,
) -> tuple[AdminDoctor, PlanSaved]:
    """Change the given fields (commits). A fee change applies to new bookings only; a
    deactivation or new timezone lists the bookings it strands unless `on_bookings` says."""
    on_bookings = sold_bookings.check_choice(on_bookings)
    v = _check(values.given())
    now = utcnow()
    try:
        doctor = locked_doctor(db, doctor_id)
        already = sold_bookings.outside_hours(db, doctor, now) if "timezone" in v else frozenset()
        user = db.get(User, doctor.user_id, populate_existing=True)
        before = {
            "full_name": user.full_name, "email": user.email, "speciality": doctor.speciality,
            "bio": doctor.bio, "fee_minor": doctor.fee_minor, "currency": doctor.currency,
            "slot_minutes": doctor.slot_minutes, "timezone": doctor.timezone,
            "active": doctor.active,
        }  # fmt: skip
        changed = {k: {"from": before[k], "to": val} for k, val in v.items() if before[k] != val}
        if "email" in changed:
            if db.exec(select(User.id).where(User.email == v["email"])).first() is not None:
                raise Conflict(f"{v['email']} belongs to another account.", code="email_taken")
            user.email = v["email"]
        if "full_name" in changed:
            user.full_name = v["full_name"]
        for name in ("speciality", "bio", "fee_minor", "currency", "slot_minutes", "timezone",
                     "active"):  # fmt: skip
            if name in changed:
                setattr(doctor, name, v[name])
        if "fee_minor" in changed or "currency" in changed:
            check_fee_payable(doctor.fee_minor, doctor.currency)
        db.add_all([user, doctor])
        db.flush()
        if changed:
            audit.record(
                db, actor=f"user:{admin.id}", entity_type="doctor", entity_id=doctor.id,
                action="doctor_updated", from_status=None, to_status=None,
                details=changed,
            )  # fmt: skip
        message = _saved_sentence(db, doctor, changed, now)
        strands = "active" in changed and not doctor.active or "timezone" in changed
        affected = (
            sold_bookings.stranded(db, doctor, now, everything=not doctor.active, already=already)
            if strands else []
        )  # fmt: skip
        sold_bookings.save_or_list(db, affected, on_bookings, seen)
    except sa.exc.IntegrityError:
        db.rollback()
        raise Conflict("That email belongs to another account.", code="email_taken") from None
    except BaseException:
        db.rollback()
        raise
    said = cancel_reason or (
        "The doctor no longer sees patients at the clinic."
        if not doctor.active
        else "The doctor's hours changed."
    )
    settled = sold_bookings.settle(db, affected, on_bookings, admin, said)
    return get_doctor(db, doctor_id), PlanSaved(message, settled)


def _saved_sentence(db: Session, doctor: Doctor, changed: dict[str, Any], now: datetime) -> str:
    if not changed:
        return "Nothing changed."
    parts = ["Saved."]
    if "fee_minor" in changed or "currency" in changed:
        kept = db.exec(
            select(func.count()).where(
                Booking.doctor_id == doctor.id,
                col(Booking.ends_at) > now,
                busy_clause(now),
            )
        ).one()
        fee = format_money(doctor.fee_minor, doctor.currency)
        if not kept:
            parts.append(f"New bookings cost {fee}; no booked appointment changes price.")
        elif kept == 1:
            parts.append(
                f"New bookings cost {fee}; the booked appointment keeps the price it was booked at."
            )
        else:
            parts.append(
                f"New bookings cost {fee}; the {kept} booked appointments keep the prices "
                "they were booked at."
            )
    if "active" in changed:
        parts.append(
            "Patients see this doctor again."
            if doctor.active
            else "Patients no longer see this doctor and no new slots are offered."
        )
    if "slot_minutes" in changed:
        parts.append("New slots are laid out in the new length; booked ones keep theirs.")
    return " ".join(parts)
