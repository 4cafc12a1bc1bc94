"""Doctors and their free slots over REST. Public: no token needed.

Slots are computed in the doctor's timezone and shown in the `timezone` query parameter if
given, else the caller's own timezone when a token is sent, else the doctor's.
"""

from __future__ import annotations

import re
from datetime import date as date_type
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlmodel import Session

from efoy_app.api.deps import finish, get_session, optional_user
from efoy_app.api.schemas import (
    COMMON_ERRORS,
    MAX_ID,
    DoctorOut,
    ErrorOut,
    SlotOut,
    SlotsOut,
    error_responses,
)
from efoy_app.domain import doctors, scheduling
from efoy_app.domain.auth import validate_timezone
from efoy_app.domain.errors import ValidationFailed
from efoy_app.models import User

router = APIRouter(prefix="/api/v1/doctors", tags=["doctors"], responses=COMMON_ERRORS)

DoctorId = Annotated[int, Path(ge=1, le=MAX_ID, description="Doctor id")]
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
OPTIONAL_AUTH = {"security": [{}]}  # OpenAPI: a token is optional here


def doctor_out(view: doctors.DoctorView) -> DoctorOut:
    return DoctorOut(
        id=view.id,
        full_name=view.full_name,
        speciality=view.speciality,
        bio=view.bio,
        fee_minor=view.fee_minor,
        currency=view.currency,
        fee=view.fee_display,
        slot_minutes=view.slot_minutes,
        timezone=view.timezone,
    )


@router.get("", response_model=list[DoctorOut])
def list_doctors(
    search: str = Query(default="", max_length=100, description="Part of the doctor's name"),
    speciality: str | None = Query(default=None, max_length=100),
    db: Session = Depends(get_session),
) -> list[DoctorOut]:
    """Public. Active doctors, by name."""
    views = doctors.list_doctors(db, search=search, speciality=speciality)
    return finish(db, [doctor_out(v) for v in views])


@router.get("/specialities", response_model=list[str])
def list_specialities(db: Session = Depends(get_session)) -> list[str]:
    """Public. The specialities of active doctors, for a filter."""
    return finish(db, doctors.list_specialities(db))


@router.get("/{doctor_id}", response_model=DoctorOut, responses={404: {"model": ErrorOut}})
def get_doctor(doctor_id: DoctorId, db: Session = Depends(get_session)) -> DoctorOut:
    """Public. One active doctor."""
    return finish(db, doctor_out(doctors.get_doctor(db, doctor_id)))


def parse_day(text: str) -> date_type:
    if not _DATE_RE.match(text):
        raise ValidationFailed("date: expected a calendar date as YYYY-MM-DD.")
    try:
        return date_type.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"date: {text} is not a valid calendar date.") from None


@router.get(
    "/{doctor_id}/slots",
    response_model=SlotsOut,
    responses={404: {"model": ErrorOut}, **error_responses(401)},
    openapi_extra=OPTIONAL_AUTH,
)
def get_slots(
    doctor_id: DoctorId,
    date: str | None = Query(
        default=None,
        pattern=_DATE_RE.pattern,
        json_schema_extra={"format": "date"},
        description="YYYY-MM-DD, a day in the doctor's timezone (default: today there)",
    ),
    timezone: str | None = Query(
        default=None, max_length=64, description="IANA timezone to show times in"
    ),
    user: User | None = Depends(optional_user),
    db: Session = Depends(get_session),
) -> SlotsOut:
    """Public (a token is optional). Free slots of one day, from now to the booking horizon."""
    doctor = doctors.get_doctor(db, doctor_id)
    day = parse_day(date) if date else scheduling.local_today(doctor.timezone)
    shown_in = validate_timezone(timezone) if timezone else (user.timezone if user else None)
    shown_in = shown_in or doctor.timezone
    slots = scheduling.free_slots_for_day(db, doctor_id, day)
    out = SlotsOut(
        doctor_id=doctor_id,
        date=day.isoformat(),
        timezone=shown_in,
        slots=[
            SlotOut(
                starts_at=scheduling.to_local(s.starts_at, shown_in),
                ends_at=scheduling.to_local(s.ends_at, shown_in),
            )
            for s in slots
        ],
    )
    return finish(db, out)
