"""The cancellation policy: how much of a payment comes back when a booking is cancelled, by how
long before the appointment's start the cancellation is made.

The policy is data, written once as a compact string (`EFOY_CANCELLATION_POLICY`, default
"48:100,24:50,0:0": 100 % from 48 hours before the start and earlier, 50 % from 24 hours up to
48 hours, nothing under 24 hours). Each "hours:percent" tier applies from that many hours before
the start (inclusive, to the second) until the next larger tier; the list must end with a
0-hour tier, so every moment before the start has a percentage. The same `CancellationPolicy`
feeds the quote below, the REST API and the public /policy page, so what patients read is what
they get.

Rules of the quote:
- Hours are counted in UTC from the appointment's start (`Booking.starts_at`), never on a wall
  clock, so a daylight-saving change in the doctor's timezone neither adds nor removes an hour.
- 48 h 00 min 00 s before the start is still the 48-hour tier; one second later it is not.
- The refund is `percent` of what was paid, rounded DOWN to the currency's minor unit (a whole
  yen for JPY, which has no minor unit; a fils, 0.001, for KWD or BHD): a patient never gets
  more than the policy's percentage, and the clinic never keeps more than one minor unit extra.
- It never exceeds what is left to refund on the payment (`refunds.refundable_now`: paid minus
  refunds that went through or are under way), so earlier refunds are never paid twice.
  `domain/cancellation.py` reads the payment and calls `refund_for`; this module reads no
  database (settings.py imports it to validate the policy at start).
- A booking that is not confirmed (held, expired, cancelled, completed) has nothing to refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import format_money, normalize_currency
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_COMPLETED,
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
    Booking,
    Doctor,
)
from efoy_app.settings import Settings, get_settings

# The setting's default, written once in settings.py: "48:100,24:50,0:0".
DEFAULT_POLICY: str = Settings.model_fields["cancellation_policy"].default
# A tier further ahead than a year would never apply: the booking horizon is days, not years.
MAX_TIER_HOURS = 24 * 366
MAX_TIERS = 10
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Tier:
    """`percent` back when cancelling `hours` hours or more before the start (and less than the
    next larger tier's hours)."""

    hours: int
    percent: int


@dataclass(frozen=True)
class CancellationPolicy:
    """Tiers from the earliest cancellation (most hours before) to the last (0 hours)."""

    tiers: tuple[Tier, ...]

    @property
    def text(self) -> str:
        """The compact form it was parsed from, normalised ("48:100,24:50,0:0")."""
        return ",".join(f"{t.hours}:{t.percent}" for t in self.tiers)

    def tier_at(self, before: timedelta) -> Tier | None:
        """The tier for a cancellation `before` the start; None once the appointment started
        (at its start time too: a 0-hour tier covers the time before it)."""
        if before <= timedelta(0):
            return None
        for tier in self.tiers:
            if before >= tier.hours * _HOUR:
                return tier
        return None  # unreachable: the last tier is at 0 hours

    def sentences(self) -> list[str]:
        """The tiers in words, one sentence each, for the /policy page."""
        lines = []
        for i, tier in enumerate(self.tiers):
            back = _percent_back(tier.percent)
            later = self.tiers[i - 1].hours if i else None
            if later is None and tier.hours == 0:
                lines.append(f"Cancel any time before the appointment starts: {back}.")
            elif later is None:
                lines.append(
                    f"Cancel {_hours(tier.hours)} or more before the appointment starts: {back}."
                )
            elif tier.hours == 0:
                lines.append(f"Cancel less than {_hours(later)} before the start: {back}.")
            else:
                lines.append(
                    f"Cancel less than {_hours(later)} but {_hours(tier.hours)} or more before "
                    f"the start: {back}."
                )
        return lines


def _hours(n: int) -> str:
    return "1 hour" if n == 1 else f"{n} hours"


def _percent_back(percent: int) -> str:
    if percent == 0:
        return "nothing back"
    if percent == 100:
        return "everything you paid back (100 %)"
    return f"{percent} % of what you paid back"


def parse_policy(text: str) -> CancellationPolicy:
    """A policy from "hours:percent,..." (any order); refuses what a person could misread.

    Raises ValidationFailed for: a malformed tier, hours outside 0..MAX_TIER_HOURS or a percent
    outside 0..100 (whole numbers only), the same hours twice, no 0-hour tier, or a later
    cancellation getting back more than an earlier one.
    """
    example = f"e.g. {DEFAULT_POLICY!r}"
    parts = [p.strip() for p in (text or "").split(",")]
    if not any(parts):
        raise ValidationFailed(
            f"The cancellation policy is empty; write hours:percent tiers, {example}."
        )
    if len(parts) > MAX_TIERS:
        raise ValidationFailed(f"The cancellation policy has more than {MAX_TIERS} tiers.")
    tiers: list[Tier] = []
    for part in parts:
        hours, sep, percent = (s.strip() for s in part.partition(":"))
        if not (sep and _whole(hours) and _whole(percent)):
            raise ValidationFailed(
                f"Cancellation policy tier {part!r} is not hours:percent in whole numbers, "
                f"{example}."
            )
        tier = Tier(int(hours), int(percent))
        if tier.hours > MAX_TIER_HOURS:
            raise ValidationFailed(
                f"Cancellation policy tier {part!r}: at most {MAX_TIER_HOURS} hours."
            )
        if tier.percent > 100:
            raise ValidationFailed(f"Cancellation policy tier {part!r}: at most 100 percent.")
        tiers.append(tier)
    tiers.sort(key=lambda t: t.hours, reverse=True)
    hours_seen = [t.hours for t in tiers]
    if len(set(hours_seen)) != len(hours_seen):
        raise ValidationFailed("The cancellation policy names the same hours twice.")
    if hours_seen[-1] != 0:
        raise ValidationFailed(
            "The cancellation policy must end with a 0-hour tier (what a cancellation under the "
            f"last tier gets back), {example}."
        )
    for earlier, later in zip(tiers, tiers[1:], strict=False):
        if later.percent > earlier.percent:
            raise ValidationFailed(
                f"The cancellation policy gives more back {later.hours} hours before "
                f"({later.percent} %) than {earlier.hours} hours before ({earlier.percent} %)."
            )
    return CancellationPolicy(tuple(tiers))


def _whole(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 6


@lru_cache(maxsize=8)
def _parsed(text: str) -> CancellationPolicy:
    return parse_policy(text)


def current_policy() -> CancellationPolicy:
    """The clinic's policy: `EFOY_CANCELLATION_POLICY` (validated when Settings is built)."""
    return _parsed(get_settings().cancellation_policy)


def policy_for(doctor: Doctor | None) -> CancellationPolicy:
    """The doctor's own policy if they have one, else the clinic's. A stored policy that no longer
    reads (written past the checks, by hand in SQL) falls back to the clinic's, and says so in
    the log, rather than refusing every cancellation of that doctor."""
    text = doctor.cancellation_policy if doctor is not None else None
    if not text:
        return current_policy()
    try:
        return _parsed(text)
    except ValidationFailed as exc:
        # Imported here: efoy_app.logs reads the settings, whose validator imports this module.
        from efoy_app.logs import get_logger, log_kv  # noqa: PLC0415

        log_kv(get_logger("cancellation_policy"), "policy.unreadable", doctor_id=doctor.id,
               error=exc.message)  # fmt: skip
        return current_policy()


@dataclass(frozen=True)
class CancellationQuote:
    """What cancelling now would give back, and the sentence that says why."""

    refund_minor: int
    refund_percent: int
    currency: str
    reason: str


def _in_words(before: timedelta) -> str:
    """ "in 30 hours", "in 1 hour", "in 45 minutes": whole units, counted down (47 h 59 min is
    "47 hours", so the words never name a tier the time has already left)."""
    hours = int(before // _HOUR)
    if hours >= 1:
        return f"in {_hours(hours)}"
    minutes = int(before // timedelta(minutes=1))
    if minutes < 1:
        return "in less than a minute"
    return "in 1 minute" if minutes == 1 else f"in {minutes} minutes"


_NOT_CONFIRMED = {
    BOOKING_HELD: "Nothing has been paid for this booking, so there is nothing to refund.",
    BOOKING_EXPIRED: "This booking's hold has lapsed and nothing was paid: nothing to refund.",
    BOOKING_CANCELLED: "This booking is already cancelled.",
    BOOKING_COMPLETED: "The appointment has taken place: nothing to refund under the policy.",
}


def refund_for(
    booking: Booking,
    now: datetime,
    *,
    paid_minor: int,
    left_minor: int,
    policy: CancellationPolicy | None = None,
) -> CancellationQuote:
    """What cancelling `booking` at `now` gives back under `policy` (default: the one in force).

    `paid_minor` is what the booking's payment took and `left_minor` what is still refundable on
    it (`refunds.refundable_now`); both 0 when nothing was paid. Pure: no database, no clock.
    """
    if now.tzinfo is None:
        raise ValueError("refund_for needs an aware `now` (a naive one has no UTC instant)")
    policy = policy or current_policy()
    currency = normalize_currency(booking.currency)
    if booking.status != BOOKING_CONFIRMED:
        reason = _NOT_CONFIRMED.get(booking.status, "This booking has nothing to refund.")
        return CancellationQuote(0, 0, currency, reason)
    if paid_minor <= 0:
        return CancellationQuote(0, 0, currency, "Nothing was paid for this booking.")
    before = booking.starts_at.astimezone(UTC) - now.astimezone(UTC)
    tier = policy.tier_at(before)
    if tier is None:
        return CancellationQuote(
            0, 0, currency, "The appointment has already started: nothing back under the policy."
        )
    by_policy = paid_minor * tier.percent // 100  # rounded down, in minor units
    refund = min(by_policy, max(left_minor, 0))
    reason = f"The appointment is {_in_words(before)}: {tier.percent} % back under the policy."
    if refund < by_policy:
        already = format_money(paid_minor - left_minor, currency)
        if refund == 0:
            reason += f" {already} has been refunded already, so nothing is left to refund."
        else:
            reason += (
                f" {already} has been refunded already, so the {format_money(refund, currency)} "
                "left is refunded."
            )
    return CancellationQuote(refund, tier.percent, currency, reason)
