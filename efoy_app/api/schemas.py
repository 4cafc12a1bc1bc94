"""Request and response bodies of the REST API: camelCase on the wire, snake_case in Python.

Responses are read from the domain's read models (`Out.model_validate(view, context=...)`), never
copied field by field: a field the domain adds is added here once, by name. Times are shown in
the reader's timezone when the route passes `context=shown_in(...)`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    computed_field,
)
from pydantic.alias_generators import to_camel

from efoy_app.domain.money import format_money, to_major
from efoy_app.domain.scheduling import to_local
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_COMPLETED,
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
)
from efoy_app.routes import MAX_ID

# Every number a client sends is bounded here, before it reaches the domain or the database
# (MAX_ID lives in routes, which the pages share).
# Ids: JavaScript's largest exact integer, which fits SQLite's and PostgreSQL's 64-bit columns and
# is exact as the float that OpenAPI's `maximum` becomes (2**63 - 1 would print as 2**63).
# Amounts stay far below that (and below what Decimal can scale) whatever the currency.
MAX_AMOUNT_MINOR = 10**12
MAX_AMOUNT = Decimal(10**12)

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
AmountMinor = Annotated[int, Field(ge=0, le=MAX_AMOUNT_MINOR, description="Minor units")]


# A required reason must hold something a person can read: free text cleaning removes control
# and bidi characters, so one of something else (whitespace aside) must be there.
READABLE = r"[^\s\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"


def _not_a_bool(value: Any) -> Any:
    """JSON `false` is not the number 0 (pydantic would take it as one); 1.0 is still 1."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    return value


# An amount a client states (the refund it was shown, one it asks for): never a boolean.
StatedMinor = Annotated[AmountMinor, BeforeValidator(_not_a_bool)]
Amount = Annotated[
    Decimal,
    Field(
        ge=0,
        le=MAX_AMOUNT,
        max_digits=16,
        decimal_places=3,
        allow_inf_nan=False,
        description="Major units, e.g. 45.00",
    ),
]
Currency = Annotated[str, Field(pattern="^[A-Za-z]{3}$", description="ISO 4217, e.g. usd")]
# Stripe ids (cs_..., pi_...) as they appear in our paths.
STRIPE_ID_PATTERN = "^[A-Za-z0-9_]{1,255}$"


def one_of(*values: str) -> str:
    """An OpenAPI description listing the values a field takes, from the constants themselves."""
    return " | ".join(values)


_TIMEZONE = "timezone"


def shown_in(timezone: str) -> dict[str, str]:
    """The validation context that shows every `IsoDateTime` of a response in `timezone`."""
    return {_TIMEZONE: timezone}


def _in_reader_timezone(value: datetime, info: ValidationInfo) -> datetime:
    timezone = (info.context or {}).get(_TIMEZONE)
    return to_local(value, timezone) if timezone else value


# ISO-8601 with an explicit offset ("+03:00", "+00:00"), never a bare "Z" or a naive time.
IsoDateTime = Annotated[
    datetime,
    AfterValidator(_in_reader_timezone),
    PlainSerializer(lambda d: d.isoformat(), return_type=str),
]


class CamelModel(BaseModel):
    """Responses: camelCase on the wire, read from a domain view's attributes."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class CamelIn(CamelModel):
    """Request bodies refuse unknown fields, so a stray `role` or `price` is an error."""

    model_config = ConfigDict(extra="forbid", from_attributes=False)


class AmountOut(CamelModel):
    """An amount in minor units, with the same amount as a decimal string in major units."""

    amount_minor: int
    currency: str

    @computed_field(description="Major units, as a decimal string")  # type: ignore[prop-decorator]
    @property
    def amount(self) -> str:
        return str(to_major(self.amount_minor, self.currency))


# --- auth ---


class RegisterIn(CamelIn):
    email: str = Field(max_length=320, examples=["ada@example.com"])
    password: str = Field(min_length=8, max_length=1024)
    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    timezone: str | None = Field(default=None, max_length=64, examples=["Africa/Addis_Ababa"])


class TokenIn(CamelIn):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenOut(CamelModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


class UserOut(CamelModel):
    id: int
    email: str
    full_name: str
    phone: str | None
    timezone: str
    role: str
    created_at: IsoDateTime


# --- doctors and slots ---


class DoctorOut(CamelModel):
    id: int
    full_name: str
    speciality: str
    bio: str
    fee_minor: int = Field(description="Fee in minor units of `currency` (JPY has none)")
    currency: str
    fee: str = Field(
        validation_alias="fee_display", description='The fee for display, e.g. "$45.00"'
    )
    slot_minutes: int
    timezone: str = Field(description="The doctor's IANA timezone; working hours are in it")
    photo_url: str | None = Field(
        description="GET it for the doctor's photo (400x400 JPEG); null: show initials"
    )


class SlotOut(CamelModel):
    starts_at: IsoDateTime
    ends_at: IsoDateTime


class SlotsOut(CamelModel):
    doctor_id: int
    date: str = Field(description="The calendar day, in the doctor's timezone")
    timezone: str = Field(description="The timezone the slot times are shown in")
    slots: list[SlotOut]


# --- bookings ---


class BookingIn(CamelIn):
    doctor_id: int = Field(ge=1, le=MAX_ID)
    starts_at: AwareDatetime = Field(description="A slot start, with its offset")
    reason: str = Field(default="", max_length=500)


class CancelIn(CamelIn):
    reason: str | None = Field(default=None, max_length=500)
    expected_refund_minor: StatedMinor | None = Field(
        default=None,
        description="The refund the patient was shown (GET .../cancellation); if it no longer "
        "holds, nothing is cancelled and the answer is 409 refund_changed",
    )


class BookingOut(CamelModel):
    id: int
    patient_id: int
    doctor_id: int
    doctor_name: str
    speciality: str
    starts_at: IsoDateTime
    ends_at: IsoDateTime
    status: str = Field(
        description=one_of(
            BOOKING_HELD, BOOKING_CONFIRMED, BOOKING_COMPLETED, BOOKING_CANCELLED, BOOKING_EXPIRED
        )
    )
    reason: str
    price_minor: int
    currency: str
    hold_expires_at: IsoDateTime | None
    created_at: IsoDateTime

    @computed_field(description='The price for display, e.g. "¥5,000"')  # type: ignore[prop-decorator]
    @property
    def price(self) -> str:
        return format_money(self.price_minor, self.currency)


class CancellationOut(CamelModel):
    """What cancelling the booking now would refund, by the cancellation policy."""

    refund_minor: int = Field(description="Minor units of `currency` (JPY has none)")
    refund_percent: int = Field(ge=0, le=100, description="The policy's percentage that applies")
    currency: str
    reason: str = Field(
        description='Why, in a sentence: "The appointment is in 30 hours: 50 % back under the '
        'policy."'
    )


class CancellationDoneOut(CamelModel):
    """What a cancellation of a paid booking gave back, and where its refund stands."""

    by: str = Field(description=one_of("patient", "clinic"))
    amount_minor: int = Field(description="Minor units of `currency` given back (or to be)")
    currency: str
    percent: int = Field(ge=0, le=100)
    status: str = Field(
        description=one_of("refund_issued", "awaiting_approval", "no_refund", "declined")
    )
    refund_id: int | None
    refund_status: str | None = Field(
        description=one_of("pending", "succeeded", "failed", "canceled") + "; null: no refund"
    )


class CancelledOut(BookingOut):
    """The booking after `cancel`, with what its cancellation gave back (null: nothing had
    been paid) and a sentence for the person."""

    cancellation: CancellationDoneOut | None
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


_ERROR_DESCRIPTIONS = {
    400: "Bad request: the body is not JSON (or not UTF-8)",
    401: "No, bad or expired bearer token",
    402: "payment_failed: Stripe refused the payment",
    403: "Not an admin",
    404: "Not found, or not the caller's",
    409: "Conflict with the current state",
    413: "payload_too_large: the request body is over the limit",
    422: "validation_error: a field is missing, malformed or out of range",
    429: "Too many attempts; see Retry-After",
    502: "Stripe refused a request we made (e.g. refund_rejected); nothing moved",
    503: "Stripe or the database is unavailable; retry later",
}


def error_responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route can give, all with the ErrorOut body.

    `described` overrides a description: `error_responses(404, s409="slot_taken: ...")`.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        text = described.get(f"s{status}", _ERROR_DESCRIPTIONS[status])
        out[status] = {"model": ErrorOut, "description": text}
    return out


# What any route with parameters or a body can answer, whoever calls it.
COMMON_ERRORS = error_responses(400, 413, 422)
AUTH_ERRORS = error_responses(400, 401, 413, 422)


# --- admin lists (appended) ---


class AdminBookingOut(BookingOut):
    """`admin_views.AdminBookingView` on the wire: the booking and the patient it is for."""

    patient_name: str
    patient_email: str


class AdminBookingsOut(CamelModel):
    data: list[AdminBookingOut] = Field(description="This page, newest booking first")
    count: int = Field(description="Bookings matching the filters, over all pages")
