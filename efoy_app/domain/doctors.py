"""Doctors as patients see them (active ones only, the fee formatted, the photo's URL), and the
locks on a doctor's row that keep a patient's hold and an admin's change apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from efoy_app.domain.errors import NotFound
from efoy_app.domain.money import format_money
from efoy_app.domain.read_models import build
from efoy_app.domain.text import escape_like
from efoy_app.models import Doctor, User
from efoy_app.routes import API_DOCTORS


@dataclass(frozen=True)
class DoctorView:
    id: int
    full_name: str
    speciality: str
    bio: str
    fee_minor: int
    currency: str
    fee_display: str
    slot_minutes: int
    timezone: str
    # Where the photo is fetched (versioned by its change), None: the page shows initials.
    photo_url: str | None = None


def doctor_view(doctor: Doctor, user: User) -> DoctorView:
    return build(
        DoctorView,
        doctor,
        full_name=user.full_name,
        fee_display=format_money(doctor.fee_minor, doctor.currency),
        photo_url=photo_url(doctor.id, doctor.photo_updated_at),
    )


def list_doctors(
    session: Session, *, search: str = "", speciality: str | None = None
) -> list[DoctorView]:
    """Active doctors by name; `search` matches part of the name or the speciality, ignoring case.

    Patients type what they need ("cardio") as often as whom they want ("Bekele").
    """
    query = (
        select(Doctor, User)
        .join(User, User.id == Doctor.user_id)
        .where(Doctor.active == sa.true())
        .order_by(User.full_name, Doctor.id)
    )
    search = (search or "").strip()
    if search:
        pattern = f"%{escape_like(search.lower())}%"
        query = query.where(
            sa.or_(
                sa.func.lower(User.full_name).like(pattern, escape="\\"),
                sa.func.lower(Doctor.speciality).like(pattern, escape="\\"),
            )
        )
    if speciality and speciality.strip():
        query = query.where(sa.func.lower(Doctor.speciality) == speciality.strip().lower())
    return [doctor_view(doctor, user) for doctor, user in session.exec(query).all()]


def get_active_doctor(session: Session, doctor_id: int, *, share_lock: bool = False) -> Doctor:
    """The Doctor row; NotFound when unknown or inactive.

    With `share_lock` the row is held (PostgreSQL FOR SHARE) until the transaction ends, so a
    hold and an admin's change of the doctor's hours, fee or days off (which lock it for
    update) happen one after the other: a slot is never sold in hours that were just removed.
    """
    if share_lock:
        doctor = session.exec(
            select(Doctor)
            .where(Doctor.id == doctor_id)
            .with_for_update(read=True)
            .execution_options(populate_existing=True)
        ).first()
    else:
        doctor = session.get(Doctor, doctor_id)
    if doctor is None or not doctor.active:
        raise NotFound("Doctor not found.")
    return doctor


def get_doctor(session: Session, doctor_id: int) -> DoctorView:
    """One active doctor; NotFound otherwise."""
    doctor = get_active_doctor(session, doctor_id)
    user = session.get(User, doctor.user_id)
    if user is None:
        raise NotFound("Doctor not found.")
    return doctor_view(doctor, user)


def list_specialities(session: Session) -> list[str]:
    """The specialities of active doctors, sorted, for a filter list."""
    rows = session.exec(
        select(Doctor.speciality).where(Doctor.active == sa.true()).distinct()
    ).all()
    return sorted(rows)


def locked_doctor(db: Session, doctor_id: int) -> Doctor:
    """The doctor's row for update (any doctor, active or not): one admin change at a time,
    and no hold while it is made (a hold takes it for share, `get_active_doctor`)."""
    doctor = db.exec(
        select(Doctor)
        .where(Doctor.id == doctor_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if doctor is None:
        raise NotFound("Doctor not found.")
    return doctor


def photo_url(doctor_id: int, photo_updated_at: datetime | None) -> str | None:
    """The photo's public address, versioned by when it changed; None when there is none.

    Milliseconds, so two uploads within one second still get two addresses."""
    if photo_updated_at is None:
        return None
    return f"{API_DOCTORS}/{doctor_id}/photo?v={int(photo_updated_at.timestamp() * 1000)}"
