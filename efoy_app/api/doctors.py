"""Doctors and their free slots over REST. Public: no token needed.

Slots are computed in the doctor's timezone and shown in the `timezone` query parameter if
given, else the caller's own timezone when a token is sent, else the doctor's.
"""

from __future__ import annotations

import re
from datetime import date as date_type
from typing import Annotated

from fastapi import APIRouter, Path, Query

from efoy_app.api.deps import DbSession, OptionalUser, finish
from efoy_app.api.schemas import (
    COMMON_ERRORS,
    MAX_ID,
    DoctorOut,
    SlotsOut,
    error_responses,
    shown_in,
)
from efoy_app.domain import doctors, scheduling
from efoy_app.domain.auth import validate_timezone
from efoy_app.domain.errors import ValidationFailed
from efoy_app.routes import API_DOCTORS

router = APIRouter(prefix=API_DOCTORS, tags=["doctors"], responses=COMMON_ERRORS)

DoctorId = Annotated[int, Path(ge=1, le=MAX_ID, description="Doctor id")]
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
OPTIONAL_AUTH = {"security": [{}]}  # OpenAPI: a token is optional here


@router.get("", response_model=list[DoctorOut])
def list_doctors(
    db: DbSession,
    search: Annotated[str, Query(max_length=100, description="Part of the doctor's name")] = "",
    speciality: Annotated[str | None, Query(max_length=100)] = None,
) -> list[DoctorOut]:
    """Public. Active doctors, by name."""
    views = doctors.list_doctors(db, search=search, speciality=speciality)
    return finish(db, [DoctorOut.model_validate(v) for v in views])


@router.get("/specialities", response_model=list[str])
def list_specialities(db: DbSession) -> list[str]:
    """Public. The specialities of active doctors, for a filter."""
    return finish(db, doctors.list_specialities(db))


@router.get("/{doctor_id}", response_model=DoctorOut, responses=error_responses(404))
def get_doctor(doctor_id: DoctorId, db: DbSession) -> DoctorOut:
    """Public. One active doctor."""
    return finish(db, DoctorOut.model_validate(doctors.get_doctor(db, doctor_id)))


def parse_day(text: str) -> date_type:
    if not DATE_RE.match(text):
        raise ValidationFailed("date: expected a calendar date as YYYY-MM-DD.")
    try:
        return date_type.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"date: {text} is not a valid calendar date.") from None


@router.get(
    "/{doctor_id}/slots",
    response_model=SlotsOut,
    responses=error_responses(401, 404),
    openapi_extra=OPTIONAL_AUTH,
)
def get_slots(
    doctor_id: DoctorId,
    user: OptionalUser,
    db: DbSession,
    date: Annotated[
        str | None,
        Query(
            pattern=DATE_RE.pattern,
            json_schema_extra={"format": "date"},
            description="YYYY-MM-DD, a day in the doctor's timezone (default: today there)",
        ),
    ] = None,
    timezone: Annotated[
        str | None, Query(max_length=64, description="IANA timezone to show times in")
    ] = None,
) -> SlotsOut:
    """Public (a token is optional). Free slots of one day, from now to the booking horizon."""
    doctor = doctors.get_doctor(db, doctor_id)
    day = parse_day(date) if date else scheduling.local_today(doctor.timezone)
    display_tz = validate_timezone(timezone) if timezone else (user.timezone if user else None)
    display_tz = display_tz or doctor.timezone
    slots = scheduling.free_slots_for_day(db, doctor_id, day)
    out = SlotsOut.model_validate(
        {"doctor_id": doctor_id, "date": day.isoformat(), "timezone": display_tz, "slots": slots},
        context=shown_in(display_tz),
    )
    return finish(db, out)
