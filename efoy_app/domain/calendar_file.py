"""The appointment as an iCalendar file (RFC 5545), attached to the confirmation email and sent
again with METHOD:CANCEL when the booking is cancelled, so calendars add and remove it.

The UID is the booking's and never changes; SEQUENCE grows with each change, as calendar
programs require to accept an update. Times are written in UTC (unambiguous everywhere); the
doctor's local time and zone are in the description and in X-WR-TIMEZONE.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

from icalendar import Calendar, Event, vCalAddress, vText

from efoy_app.domain.times import when_label
from efoy_app.models import Booking, Doctor, User, utcnow
from efoy_app.settings import get_settings

ICS_TYPE = "text/calendar"
SEQUENCE_BOOKED, SEQUENCE_CANCELLED = 0, 1


def booking_uid(booking_id: int) -> str:
    """The same for every version of one appointment's calendar entry."""
    host = urlsplit(get_settings().frontend_url).hostname or "efoy.local"
    return f"efoy-booking-{booking_id}@{host}"


def appointment_ics(
    booking: Booking,
    *,
    patient: User,
    doctor: Doctor,
    doctor_user: User,
    cancelled: bool = False,
    now: datetime | None = None,
) -> bytes:
    """The calendar file for this appointment (REQUEST, or CANCEL when `cancelled`)."""
    settings = get_settings()
    organizer_address = parseaddr(settings.smtp_from)[1] or "no-reply@efoy.example"
    cal = Calendar()
    cal.add("prodid", "-//Efoy//Appointments//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    cal.add("x-wr-timezone", doctor.timezone)
    event = Event()
    event.add("uid", booking_uid(booking.id))
    event.add("sequence", SEQUENCE_CANCELLED if cancelled else SEQUENCE_BOOKED)
    event.add("dtstamp", now or utcnow())
    event.add("dtstart", booking.starts_at)
    event.add("dtend", booking.ends_at)
    event.add("summary", f"Appointment with {doctor_user.full_name} ({doctor.speciality})")
    event.add("location", settings.clinic_name)
    event.add(
        "description",
        f"{when_label(booking.starts_at, doctor.timezone)} at the doctor's ({doctor.timezone}). "
        f"Booking #{booking.id}. Your appointments: {settings.frontend_url.rstrip('/')}"
        "/appointments",
    )
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{organizer_address}")
    organizer.params["cn"] = vText(settings.clinic_name)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{patient.email}")
    attendee.params["cn"] = vText(patient.full_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee)
    cal.add_component(event)
    return cal.to_ical()
