"""Route constants and URL builders, so no page spells a path by hand."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

HOME = "/"
LOGIN = "/login"
REGISTER = "/register"
DOCTORS = "/doctors"
DOCTOR_DETAIL = "/doctors/[doctor_id]"
APPOINTMENTS = "/appointments"
POLICY = "/policy"  # the cancellation policy, public
ADMIN = "/admin"
ADMIN_PAYMENT = "/admin/payments/[payment_id]"
ADMIN_WEBHOOKS = "/admin/webhooks"
ADMIN_CANCELLATIONS = "/admin/cancellations"
ADMIN_AUDIT = "/admin/audit"
ADMIN_OUTBOX = "/admin/outbox"
ADMIN_OUTBOX_EMAIL = "/admin/outbox/[email_id]"
ADMIN_DOCTORS = "/admin/doctors"
ADMIN_DOCTOR = "/admin/doctors/[doctor_id]"
# The payments list filtered to pending ones (the alert banner links there).
ADMIN_PENDING_PAYMENTS = "/admin?tab=payments&status=pending"
# Built by the payment work; linked from here.
PAYMENT = "/payment/[booking_id]"
PAYMENT_SUCCESS = "/payment/success"
PAYMENT_CANCEL = "/payment/cancel"

# The REST API (efoy_app/api): every path under API_AREA answers JSON, errors included.
API_AREA = "/api/"
API = "/api/v1"
API_AUTH = f"{API}/auth"
API_DOCTORS = f"{API}/doctors"
API_BOOKINGS = f"{API}/bookings"
API_PAYMENT = f"{API}/payment"
API_ADMIN = f"{API}/admin"
API_WEBHOOK = f"{API_PAYMENT}/webhook"  # Stripe's; the route is `webhook` in api/payments.py


def doctor(doctor_id: int | str) -> str:
    """The page of one doctor, with their free slots."""
    return f"/doctors/{doctor_id}"


def payment(booking_id: int | str) -> str:
    """Where a held booking is paid for."""
    return f"/payment/{booking_id}"


def admin(tab: str | None = None, flagged_only: bool = False) -> str:
    """The admin overview, on its bookings or payments tab, optionally flagged payments only."""
    query: dict[str, str] = {}
    if tab:
        query["tab"] = tab
    if flagged_only:
        query["flagged"] = "1"
    return f"{ADMIN}?{urlencode(query)}" if query else ADMIN


def admin_payment(payment_id: int | str) -> str:
    """Everything about one payment, and its refund form."""
    return f"/admin/payments/{payment_id}"


def admin_webhooks(status: str | None = None) -> str:
    """The stored Stripe events, optionally only those in one status."""
    return f"{ADMIN_WEBHOOKS}?{urlencode({'status': status})}" if status else ADMIN_WEBHOOKS


def admin_outbox_email(email_id: int | str) -> str:
    """One outbox message: its headers, bodies, attachments and delivery."""
    return f"{ADMIN_OUTBOX}/{email_id}"


def admin_doctor(doctor_id: int | str) -> str:
    """One doctor's profile, weekly hours, days off and extra hours, for admins."""
    return f"{ADMIN_DOCTORS}/{doctor_id}"


# Ids that fit every database's id column (PostgreSQL's INTEGER is 32-bit): a larger one is
# refused or simply not found, never sent to the database to overflow there (a 500 before).
MAX_ID = 2**31 - 1
NEXT_MAX_LENGTH = 2000


def parse_id(raw: str) -> int | None:
    """An id written in a URL ("12"), or None for a word, another script's digits or a number
    past MAX_ID (which would overflow the database's integer, not just miss)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


def path_id(path: str, under: str) -> int | None:
    """The id at the end of `path` when it is `<under>/<id>` ("/payment/12" under "/payment"),
    else None."""
    head, _, raw = path.rstrip("/").rpartition("/")
    return parse_id(raw) if head == under else None


def safe_next(target: str | None, default: str = DOCTORS) -> str:
    """`target` if it is a path on this site ("/admin/payments/3?x=1"), else `default`.

    What a login or a registration goes on to: only a relative path that starts with one "/",
    so no other site can be named ("//evil.com", "https://evil.com", "/\\evil.com"); browsers
    read a backslash as a slash and drop tabs and newlines, so those are refused outright.
    """
    if not target or len(target) > NEXT_MAX_LENGTH or not target.startswith("/"):
        return default
    if target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def here(path: str, query: str = "") -> str:
    """The address of the page being shown, as `next`: its path and its whole query."""
    path = path.rstrip("/") or HOME
    return f"{path}?{query}" if query else path


def login(next_path: str | None = None) -> str:
    """The login page, coming back to `next_path` (a path with its query) afterwards."""
    if not next_path or next_path in (HOME, LOGIN, REGISTER):
        return LOGIN
    return f"{LOGIN}?{urlencode({'next': next_path})}"


def register(next_path: str | None = None) -> str:
    """The registration page, going on to `next_path` once the account exists."""
    if not next_path or next_path in (HOME, LOGIN, REGISTER):
        return REGISTER
    return f"{REGISTER}?{urlencode({'next': next_path})}"
