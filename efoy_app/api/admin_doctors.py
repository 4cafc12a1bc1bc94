"""Clinic set-up over REST under /api/v1/admin/doctors: doctors (create, list, edit, deactivate),
their weekly hours, days off and one-off extra hours, and a 14-day preview of their slots.

Thin: the rules are `domain.doctor_admin`'s and `domain.working_plan`'s, the same the admin pages
call. A change that would strand held or confirmed bookings (shorter hours, a day off, removed
extra hours, a deactivation or a new timezone) saves nothing and answers 409
`bookings_affected` with the bookings listed beside the usual error; sent again with
`onBookings` = `keep` or `cancel` (a full refund on the clinic's side, the patient emailed), it
is saved and the answer says what became of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field
from sqlmodel import Session

from efoy_app.api.deps import AdminUser, DbSession, finish
from efoy_app.api.doctors import DATE_RE, parse_day
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    MAX_AMOUNT_MINOR,
    MAX_ID,
    CamelIn,
    CamelModel,
    ErrorBody,
    IsoDateTime,
    error_responses,
    one_of,
    shown_in,
)
from efoy_app.domain import doctor_admin, sold_bookings, working_plan
from efoy_app.domain.doctor_admin import AdminDoctor, DoctorFields
from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.sold_bookings import BookingsAffected
from efoy_app.domain.working_plan import PlanSaved, TimeRange, format_time, parse_time
from efoy_app.models import BOOKING_CONFIRMED, BOOKING_HELD, Doctor, User
from efoy_app.routes import API_ADMIN

T = TypeVar("T")

router = APIRouter(prefix=f"{API_ADMIN}/doctors", tags=["admin"], responses=AUTH_ERRORS)

ADMIN_ERRORS = error_responses(401, 403, s401="No or bad bearer token")
MAX_PAGE = 200
OnBookings = Literal[*sold_bookings.CHOICES]  # type: ignore[valid-type]
DoctorId = Annotated[int, Path(ge=1, le=MAX_ID, description="Doctor id")]
ON_BOOKINGS_TEXT = (
    "What to do with held or confirmed bookings the change leaves outside the doctor's hours: "
    "`keep` them as booked, or `cancel` them (paid ones refunded in full, patients emailed). "
    "Without it, such a change saves nothing and answers 409 bookings_affected listing them."
)
SEEN_TEXT = (
    "The `bookingId`s the 409 listed, sent back with `onBookings`: `cancel` then refuses (409 "
    "again, the new list) if the change would now cancel a booking not among them"
)
DAY_TEXT = "A calendar day in the doctor's timezone, YYYY-MM-DD"
# Text bounds: generous on purpose. The domain's own limits (200 characters for a name...) are
# checked after cleaning and answered with its sentence; these only keep huge inputs out.
_SHORT = 1000


def _not_a_bool(value: Any) -> Any:
    """JSON `true` is not the number 1 (pydantic would take it as one)."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_a_bool)]


# --- bodies ----------------------------------------------------------------------------------


class RangeIn(CamelIn):
    start: str = Field(max_length=20, description='A time of day, e.g. "09:00"', examples=["09:00"])
    end: str = Field(
        max_length=20,
        description='A later time of day the same day, e.g. "12:00"; "24:00" is midnight',
        examples=["12:00"],
    )


class DoctorFieldsIn(CamelIn):
    """Every field of a doctor an admin sets; on a PATCH, a missing or null one stays as is."""

    full_name: str | None = Field(default=None, max_length=_SHORT)
    email: str | None = Field(
        default=None, max_length=_SHORT, description="The doctor's account, found or made by it"
    )
    speciality: str | None = Field(default=None, max_length=_SHORT)
    bio: str | None = Field(default=None, max_length=8000)
    fee_minor: WholeNumber | None = Field(
        default=None,
        ge=-MAX_AMOUNT_MINOR,
        le=MAX_AMOUNT_MINOR,
        description="The fee of new bookings in minor units of `currency` (JPY has none); "
        "existing bookings keep the price they were made at",
    )
    currency: str | None = Field(
        default=None,
        pattern="^[A-Za-z]{3}$",
        description="ISO 4217, one of " + ", ".join(doctor_admin.CURRENCIES),
    )
    slot_minutes: WholeNumber | None = Field(
        default=None,
        ge=-10_000,
        le=10_000,
        description="Length of an appointment, one of "
        + ", ".join(map(str, doctor_admin.SLOT_LENGTHS)),
    )
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA name; the working hours are in it"
    )
    active: bool | None = Field(
        default=None, strict=True, description="false hides the doctor from patients"
    )

    def fields(self) -> DoctorFields:
        return DoctorFields(
            full_name=self.full_name, email=self.email, speciality=self.speciality, bio=self.bio,
            fee_minor=self.fee_minor, currency=self.currency, slot_minutes=self.slot_minutes,
            timezone=self.timezone, active=self.active,
        )  # fmt: skip


class DoctorCreateIn(DoctorFieldsIn):
    full_name: str = Field(max_length=_SHORT)
    email: str = Field(max_length=_SHORT, description="The doctor's account, found or made by it")
    speciality: str = Field(max_length=_SHORT)
    fee_minor: WholeNumber = Field(
        ge=-MAX_AMOUNT_MINOR,
        le=MAX_AMOUNT_MINOR,
        description="The fee in minor units of `currency` (JPY has none)",
    )
    currency: str = Field(
        pattern="^[A-Za-z]{3}$",
        description="ISO 4217, one of " + ", ".join(doctor_admin.CURRENCIES),
    )


class Choice(CamelIn):
    on_bookings: OnBookings | None = Field(default=None, description=ON_BOOKINGS_TEXT)
    booking_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None,
        max_length=sold_bookings.MAX_LISTED,
        description=SEEN_TEXT,
    )
    cancel_reason: str | None = Field(
        default=None,
        max_length=_SHORT,
        description="What the patients of cancelled bookings read (default: a sentence of ours)",
    )


class DoctorPatchIn(DoctorFieldsIn, Choice):
    pass


class HoursIn(Choice):
    week: list[Annotated[list[RangeIn], Field(max_length=24)]] = Field(
        min_length=7,
        max_length=7,
        description="Seven lists of ranges, Monday first (index 0 = Monday ... 6 = Sunday), "
        "each a weekday's hours in the doctor's timezone; [] is no hours that day. Ranges of a "
        "day must not overlap or cross midnight (enter 22:00–24:00 and 00:00–02:00).",
    )


class DayOffIn(Choice):
    date: str = Field(pattern=DATE_RE.pattern, json_schema_extra={"format": "date"},
                      description=DAY_TEXT)  # fmt: skip
    reason: str = Field(default="", max_length=_SHORT, description="Shown in the preview")


class ExtraHoursIn(RangeIn):
    date: str = Field(pattern=DATE_RE.pattern, json_schema_extra={"format": "date"},
                      description=DAY_TEXT)  # fmt: skip
    reason: str = Field(default="", max_length=_SHORT)


# --- answers ---------------------------------------------------------------------------------


class AdminDoctorOut(CamelModel):
    """`doctor_admin.AdminDoctor` on the wire."""

    id: int
    user_id: int
    full_name: str
    email: str
    speciality: str
    bio: str
    fee_minor: int = Field(description="Fee of new bookings, minor units of `currency`")
    currency: str
    fee: str = Field(validation_alias="fee_display", description='For display, e.g. "$45.00"')
    slot_minutes: int
    timezone: str
    active: bool
    photo_updated_at: IsoDateTime | None
    upcoming_bookings: int = Field(description="Held or confirmed bookings not yet over")


class AdminDoctorsOut(CamelModel):
    data: list[AdminDoctorOut] = Field(description="This page, by name")
    count: int = Field(description="Doctors matching the filters, over all pages")


class RangeOut(CamelModel):
    start: str = Field(description='"09:00"')
    end: str = Field(description='"12:00"; "24:00" is midnight')


class DayOffOut(CamelModel):
    date: str
    reason: str


class ExtraHoursOut(RangeOut):
    id: int
    date: str
    reason: str


class PlanOut(CamelModel):
    week: list[list[RangeOut]] = Field(
        description="Seven lists of ranges, Monday first (index 0 = Monday ... 6 = Sunday)"
    )
    days_off: list[DayOffOut] = Field(description="From today on, by date")
    extra_hours: list[ExtraHoursOut] = Field(description="From today on, by date")


class PreviewDayOut(CamelModel):
    date: str
    label: str = Field(description='"Mon 7 Dec"')
    slots: list[str] = Field(description="Free slot starts as patients see them, local time")
    closed: str = Field(description='Why there are no slots ("Day off: ..."), else ""')


class AdminDoctorDetailOut(AdminDoctorOut):
    plan: PlanOut = Field(description="Weekly hours and dated exceptions, doctor's timezone")
    preview: list[PreviewDayOut] = Field(description="The next 14 days, from today there")


class AffectedBookingOut(CamelModel):
    """`sold_bookings.AffectedBooking` on the wire."""

    booking_id: int
    status: str = Field(description=one_of(BOOKING_HELD, BOOKING_CONFIRMED))
    starts_at: IsoDateTime
    ends_at: IsoDateTime
    patient_name: str
    patient_email: str
    price: str = Field(validation_alias="price_display", description="The price booked at")
    paid: bool


class CancelledBookingOut(CamelModel):
    booking_id: int
    cancelled: bool = Field(description="false: it could not be cancelled; `message` says why")
    message: str


class SettledOut(CamelModel):
    message: str = Field(description="What was saved, and what became of stranded bookings")
    kept: list[AffectedBookingOut] = Field(description="Stranded bookings kept as booked")
    cancelled: list[CancelledBookingOut] = Field(description="Stranded bookings cancelled")


class AdminDoctorSavedOut(AdminDoctorOut, SettledOut):
    pass


class PlanSavedOut(SettledOut):
    plan: PlanOut = Field(description="The working plan after the change")


class BookingsAffectedOut(BaseModel):
    """409 bookings_affected: the usual error, and the bookings the change would strand."""

    error: ErrorBody
    bookings: list[AffectedBookingOut] = Field(
        default_factory=list, description="With bookings_affected: the bookings, by start"
    )


EMAIL_TAKEN = error_responses(409, s409="email_taken: an admin's or another doctor's email")
STRANDS = {
    409: {
        "model": BookingsAffectedOut,
        "description": "bookings_affected: nothing was saved; the bookings are listed, send "
        "again with onBookings (or conflict / email_taken / day_off_exists ...)",
    }
}


# --- mapping ---------------------------------------------------------------------------------


class StrandedBookings(Exception):
    """`BookingsAffected`, with the timezone its reader sees times in."""

    def __init__(self, affected: BookingsAffected, timezone: str) -> None:
        super().__init__(affected.message)
        self.affected = affected
        self.timezone = timezone


async def answer_stranded(_request: Request, exc: Exception) -> JSONResponse:
    """The 409 with the bookings listed (the app registers it for `StrandedBookings`)."""
    assert isinstance(exc, StrandedBookings)
    out = BookingsAffectedOut.model_validate(
        {
            "error": {"code": exc.affected.code, "message": exc.affected.message},
            "bookings": exc.affected.bookings,
        },
        context=shown_in(exc.timezone),
    )
    return JSONResponse(out.model_dump(mode="json", by_alias=True), status_code=409)


def _listing(admin: User, change: Callable[[], T]) -> T:
    try:
        return change()
    except BookingsAffected as exc:
        raise StrandedBookings(exc, admin.timezone) from None


def _range(r: RangeIn, where: str | None = None) -> TimeRange:
    """A range as the domain reads it; an unreadable time is named by `where` (a weekday) or,
    without one, by its field."""

    def read(text: str, field: str, *, end: bool) -> Any:
        try:
            return parse_time(text, end=end)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{where or field}: {exc.message}") from None

    return TimeRange(read(r.start, "start", end=False), read(r.end, "end", end=True))


def _range_out(r: TimeRange) -> dict[str, str]:
    return {"start": format_time(r.start), "end": format_time(r.end, end=True)}


def _plan(db: Session, doctor_id: int) -> dict[str, Any]:
    doctor = db.get(Doctor, doctor_id, populate_existing=True)
    plan = working_plan.plan_of(db, doctor)
    return {
        "week": [[_range_out(r) for r in plan.week[d]] for d in range(7)],
        "days_off": [{"date": d.day.isoformat(), "reason": d.reason} for d in plan.days_off],
        "extra_hours": [
            {"id": x.id, "date": x.day.isoformat(), "reason": x.reason, **_range_out(x.range)}
            for x in plan.extra_hours
        ],
    }


def _settled(saved: PlanSaved) -> dict[str, Any]:
    return {
        "message": saved.sentence,
        "kept": saved.settled.kept,
        "cancelled": saved.settled.cancelled,
    }


def _plan_saved(db: Session, admin: User, doctor_id: int, saved: PlanSaved) -> PlanSavedOut:
    out = PlanSavedOut.model_validate(
        {**_settled(saved), "plan": _plan(db, doctor_id)}, context=shown_in(admin.timezone)
    )
    return finish(db, out)


def _doctor(view: AdminDoctor) -> dict[str, Any]:
    return {f: getattr(view, f) for f in AdminDoctor.__dataclass_fields__}


# --- routes ----------------------------------------------------------------------------------


@router.get("", response_model=AdminDoctorsOut, responses=ADMIN_ERRORS)
def list_doctors(
    admin: AdminUser,
    db: DbSession,
    search: Annotated[
        str, Query(max_length=100, description="Part of the name, email or speciality")
    ] = "",
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> AdminDoctorsOut:
    """Every doctor, inactive ones too unless `active` says, by name."""
    rows, count = doctor_admin.list_doctors(
        db, search=search, active=active, limit=limit, offset=offset
    )
    out = AdminDoctorsOut.model_validate(
        {"data": [_doctor(r) for r in rows], "count": count}, context=shown_in(admin.timezone)
    )
    return finish(db, out)


class AdminDoctorCreatedOut(AdminDoctorOut):
    message: str = Field(description="What was done, e.g. an existing account linked")


@router.post(
    "",
    status_code=201,
    response_model=AdminDoctorCreatedOut,
    responses={**ADMIN_ERRORS, **EMAIL_TAKEN},
)
def create_doctor(body: DoctorCreateIn, admin: AdminUser, db: DbSession) -> AdminDoctorCreatedOut:
    """A new doctor, with no hours yet (PUT .../hours next). The account is found or made by
    `email`: a patient's account becomes the doctor's (the message says so)."""
    view, message = doctor_admin.create_doctor(db, body.fields(), admin)
    out = AdminDoctorCreatedOut.model_validate(
        {**_doctor(view), "message": message}, context=shown_in(admin.timezone)
    )
    return finish(db, out)


@router.get(
    "/{doctor_id}",
    response_model=AdminDoctorDetailOut,
    responses={**ADMIN_ERRORS, **error_responses(404)},
)
def get_doctor(doctor_id: DoctorId, admin: AdminUser, db: DbSession) -> AdminDoctorDetailOut:
    """One doctor, active or not, with the working plan and the next 14 days of slots."""
    view = doctor_admin.get_doctor(db, doctor_id)
    doctor = db.get(Doctor, doctor_id)
    days = working_plan.preview(db, doctor)
    preview = [
        {"date": p.day.isoformat(), "label": p.label, "slots": p.slots, "closed": p.closed}
        for p in days
    ]
    out = AdminDoctorDetailOut.model_validate(
        {**_doctor(view), "plan": _plan(db, doctor_id), "preview": preview},
        context=shown_in(admin.timezone),
    )
    return finish(db, out)


@router.patch(
    "/{doctor_id}",
    response_model=AdminDoctorSavedOut,
    responses={**ADMIN_ERRORS, **error_responses(404), **STRANDS},
)
def update_doctor(
    doctor_id: DoctorId, body: DoctorPatchIn, admin: AdminUser, db: DbSession
) -> AdminDoctorSavedOut:
    """Change the fields given. A new fee applies to new bookings only (the message says how
    many keep their price); a deactivation or a new timezone lists stranded bookings first."""
    view, saved = _listing(
        admin,
        lambda: doctor_admin.update_doctor(
            db,
            doctor_id,
            body.fields(),
            admin,
            on_bookings=body.on_bookings,
            cancel_reason=body.cancel_reason or "",
            seen=body.booking_ids,
        ),
    )
    out = AdminDoctorSavedOut.model_validate(
        {**_doctor(view), **_settled(saved)}, context=shown_in(admin.timezone)
    )
    return finish(db, out)


@router.put(
    "/{doctor_id}/hours",
    response_model=PlanSavedOut,
    responses={**ADMIN_ERRORS, **error_responses(404), **STRANDS},
)
def set_hours(doctor_id: DoctorId, body: HoursIn, admin: AdminUser, db: DbSession) -> PlanSavedOut:
    """Replace the weekly hours. `week` is a list of seven lists, Monday first: e.g.
    `[[{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}], [], ...]`.
    Overlapping, reversed or empty ranges, ranges across midnight and ranges shorter than one
    appointment are a 422 naming the weekday."""
    week = {
        d: [_range(r, working_plan.WEEKDAYS[d]) for r in ranges]
        for d, ranges in enumerate(body.week)
    }
    saved = _listing(
        admin,
        lambda: working_plan.set_week(
            db,
            doctor_id,
            week,
            admin,
            on_bookings=body.on_bookings,
            cancel_reason=body.cancel_reason or "",
            seen=body.booking_ids,
        ),
    )
    return _plan_saved(db, admin, doctor_id, saved)


@router.post(
    "/{doctor_id}/days-off",
    status_code=201,
    response_model=PlanSavedOut,
    responses={**ADMIN_ERRORS, **error_responses(404), **STRANDS},
)
def add_day_off(
    doctor_id: DoctorId, body: DayOffIn, admin: AdminUser, db: DbSession
) -> PlanSavedOut:
    """Close a date (its extra hours go with it); bookings that day are listed first."""
    day = parse_day(body.date)
    saved = _listing(
        admin,
        lambda: working_plan.add_day_off(
            db,
            doctor_id,
            day,
            admin,
            reason=body.reason,
            on_bookings=body.on_bookings,
            cancel_reason=body.cancel_reason or "",
            seen=body.booking_ids,
        ),
    )
    return _plan_saved(db, admin, doctor_id, saved)


@router.delete(
    "/{doctor_id}/days-off",
    response_model=PlanSavedOut,
    responses={**ADMIN_ERRORS, **error_responses(404)},
)
def remove_day_off(
    doctor_id: DoctorId,
    admin: AdminUser,
    db: DbSession,
    date: Annotated[
        str,
        Query(pattern=DATE_RE.pattern, json_schema_extra={"format": "date"}, description=DAY_TEXT),
    ],
) -> PlanSavedOut:
    """Open a closed date again; its weekly hours apply."""
    saved = working_plan.remove_day_off(db, doctor_id, parse_day(date), admin)
    return _plan_saved(db, admin, doctor_id, saved)


@router.post(
    "/{doctor_id}/extra-hours",
    status_code=201,
    response_model=PlanSavedOut,
    responses={**ADMIN_ERRORS, **error_responses(404, 409, s409="day_off: the date is closed")},
)
def add_extra_hours(
    doctor_id: DoctorId, body: ExtraHoursIn, admin: AdminUser, db: DbSession
) -> PlanSavedOut:
    """One-off hours on a date, beside (not overlapping) that weekday's hours; the answer's
    plan gives their id."""
    day = parse_day(body.date)
    hours = _range(body)
    saved = working_plan.add_extra_hours(db, doctor_id, day, hours, admin, reason=body.reason)
    return _plan_saved(db, admin, doctor_id, saved)


@router.delete(
    "/{doctor_id}/extra-hours/{extra_id}",
    response_model=PlanSavedOut,
    responses={**ADMIN_ERRORS, **error_responses(404), **STRANDS},
)
def remove_extra_hours(
    doctor_id: DoctorId,
    extra_id: Annotated[int, Path(ge=1, le=MAX_ID, description="Extra hours id")],
    admin: AdminUser,
    db: DbSession,
    on_bookings: Annotated[
        OnBookings | None, Query(alias="onBookings", description=ON_BOOKINGS_TEXT)
    ] = None,
    cancel_reason: Annotated[str, Query(alias="cancelReason", max_length=_SHORT)] = "",
    booking_ids: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None,
        Query(alias="bookingIds", max_length=sold_bookings.MAX_LISTED, description=SEEN_TEXT),
    ] = None,
) -> PlanSavedOut:
    """Take one-off hours away; bookings in them are listed first."""
    saved = _listing(
        admin,
        lambda: working_plan.remove_extra_hours(
            db, doctor_id, extra_id, admin, on_bookings=on_bookings, cancel_reason=cancel_reason,
            seen=booking_ids,
        ),
    )  # fmt: skip
    return _plan_saved(db, admin, doctor_id, saved)
