"""Cancelling a paid (confirmed) booking: the booking is cancelled and its slot freed, and the
refund the policy gives is reserved in the ledger in the same transaction, then sent to Stripe.

Why one transaction: a double click, ten concurrent requests or a crash between the two steps
must never leave a cancelled booking without its refund, nor two refunds of one cancellation.
The booking row is locked first; whoever comes second finds it cancelled and is answered with
the first request's outcome. Sending goes through `refunds.submit_refund`, so an outage queues
the reserved row with its idempotency key and reconciliation sends that same row later.

Two callers: the patient (the policy's amount; the preview they confirmed must still hold) and
the clinic (a doctor's absence, a closed day: everything that is left, whatever the policy),
whose patient is told by email. With `EFOY_CANCELLATION_REFUNDS=approval` a patient's refund
is not sent at once: its `Cancellation` row waits for an admin (`approve`, `decline`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, func, select

from efoy_app.domain import audit, messages, payment_close
from efoy_app.domain.bookings import MAX_REASON_LENGTH, get_booking_for
from efoy_app.domain.cancellation import paid_payment, quote_cancellation
from efoy_app.domain.cancellation_policy import CancellationQuote
from efoy_app.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from efoy_app.domain.money import format_money, normalize_currency
from efoy_app.domain.refunds import (
    RefundRejected,
    create_refund_row,
    refundable_now,
    submit_refund,
)
from efoy_app.domain.text import clean_text
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    CANCELLATION_AWAITING,
    CANCELLATION_DECLINED,
    CANCELLATION_NO_REFUND,
    CANCELLATION_REFUNDED,
    PAID_STATUSES,
    REFUND_SUCCEEDED,
    ROLE_ADMIN,
    Booking,
    Cancellation,
    Payment,
    Refund,
    User,
    utcnow,
)
from efoy_app.settings import get_settings

log = get_logger("booking_cancel")
M = TypeVar("M", bound=SQLModel)
BY_PATIENT = "patient"
BY_CLINIC = "clinic"


class RefundChanged(Conflict):
    """The amount shown in the preview no longer holds (a tier boundary passed meanwhile)."""

    code = "refund_changed"


@dataclass(frozen=True)
class CancelOutcome:
    """A cancellation and what became of its refund."""

    booking: Booking
    cancellation: Cancellation | None  # None: nothing had been paid
    refund: Refund | None  # None: nothing to refund, or it waits for an admin
    queued: bool = False  # Stripe did not answer; the reserved refund is sent later
    repeated: bool = False  # the booking had been cancelled already (a double click)
    rejected: bool = False  # Stripe refused the refund: nothing moved, the ledger says failed

    @property
    def message(self) -> str:
        """One sentence for the patient who cancelled."""
        return self._sentence("the card")

    @property
    def clinic_message(self) -> str:
        """The same for the admin who cancelled or approved."""
        return self._sentence("the patient's card")

    def _sentence(self, card: str) -> str:
        done = "The appointment is cancelled and the time is free again."
        if self.refund is not None:
            amount = format_money(self.refund.amount_minor, self.refund.currency)
            if self.rejected:
                return f"{done} The refund of {amount} was refused by Stripe; the clinic sees it."
            if self.queued:
                return (
                    f"{done} The refund of {amount} is queued: Stripe did not answer, and it "
                    "is sent again automatically."
                )
            return f"{done} {amount} is on its way back to {card}."
        c = self.cancellation
        if c is not None and c.status == CANCELLATION_AWAITING:
            amount = format_money(c.amount_minor, c.currency)
            return f"{done} The clinic confirms the refund of {amount} shortly."
        if c is not None and c.status == CANCELLATION_DECLINED:
            return f"{done} The clinic declined the refund: {c.decision_note}"
        return done


def _locked(db: Session, model: type[M], row_id: int) -> M | None:
    """The row, locked until the transaction ends (PostgreSQL; SQLite holds its write lock)."""
    return db.exec(
        select(model)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def cancellation_of(db: Session, booking_id: int) -> Cancellation | None:
    return db.exec(select(Cancellation).where(Cancellation.booking_id == booking_id)).first()


def quote(
    db: Session,
    booking: Booking,
    by: str,
    now: datetime | None = None,
    amount_minor: int | None = None,
) -> CancellationQuote:
    """What cancelling now gives back: the policy's amount for the patient; for the clinic,
    everything that is left, or the amount the admin chose."""
    if by != BY_CLINIC or booking.status != BOOKING_CONFIRMED:
        return quote_cancellation(db, booking, now)
    payment = paid_payment(db, booking.id)
    paid = payment.amount_minor if payment is not None else 0
    left = refundable_now(db, payment) if payment is not None else 0
    currency = normalize_currency(booking.currency)
    if amount_minor is None:
        return CancellationQuote(
            left,
            100 if left else 0,
            currency,
            "The clinic cancels: everything paid comes back, whatever the policy.",
        )
    if not 0 <= amount_minor <= left:
        raise ValidationFailed(
            f"A refund of {format_money(amount_minor, currency)} is more than the "
            f"{format_money(left, currency)} left to refund on this payment.",
            code="refund_exceeds_payment",
        )
    percent = amount_minor * 100 // paid if paid else 0
    return CancellationQuote(
        amount_minor,
        percent,
        currency,
        f"The clinic cancels and refunds {format_money(amount_minor, currency)}.",
    )


def cancel(
    db: Session,
    *,
    booking_id: int,
    actor: User,
    reason: str = "",
    expected_refund_minor: int | None = None,
) -> CancelOutcome:
    """A patient's (or an admin's) cancel, whatever the booking's state: a hold is released
    (its open payments closed at Stripe first), a paid booking is refunded by the policy."""
    booking = get_booking_for(db, booking_id, actor)  # 404 for another patient's booking
    if booking.status in (BOOKING_CONFIRMED, BOOKING_CANCELLED):
        return cancel_paid_booking(
            db, booking_id=booking_id, actor=actor, reason=reason,
            expected_refund_minor=expected_refund_minor,
        )  # fmt: skip
    held = payment_close.cancel_held_booking(db, booking_id=booking_id, actor=actor, reason=reason)
    return CancelOutcome(held, None, None)


def cancel_paid_booking(
    db: Session,
    *,
    booking_id: int,
    actor: User,
    reason: str = "",
    expected_refund_minor: int | None = None,
    by: str = BY_PATIENT,
    amount_minor: int | None = None,
) -> CancelOutcome:
    """Cancel a confirmed booking with its refund (commits). The clinic may name the amount
    (`amount_minor`, 0 for none); a patient always gets the policy's.

    `expected_refund_minor` is the amount the person was shown; when it no longer holds the
    cancel is refused with the new amount, so nobody gets other than what they confirmed.
    Cancelling again answers with the first cancellation's outcome and moves no money.
    """
    reason = clean_text(reason)
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(f"Reason must be at most {MAX_REASON_LENGTH} characters.")
    if by == BY_CLINIC and actor.role != ROLE_ADMIN:
        raise NotFound("Booking not found.")
    if by == BY_CLINIC and not reason:
        raise ValidationFailed("Say why the clinic cancels: the patient is told.")
    try:
        get_booking_for(db, booking_id, actor)  # 404 for another patient's booking
        booking = _locked(db, Booking, booking_id)
        if booking.status == BOOKING_CANCELLED:
            outcome = _earlier_outcome(db, booking)
            db.rollback()
            return outcome
        if booking.status != BOOKING_CONFIRMED:
            raise Conflict(f"This appointment is {booking.status} and cannot be cancelled here.")
        now = utcnow()
        if by == BY_PATIENT and booking.starts_at <= now:
            raise Conflict(
                "This appointment has already started, so it can no longer be cancelled; "
                "please contact the clinic.",
                code="appointment_started",
            )
        found = paid_payment(db, booking.id)
        payment = _locked(db, Payment, found.id) if found is not None else None
        if amount_minor is not None and by != BY_CLINIC:
            raise ValidationFailed("Only the clinic chooses the amount of a cancellation.")
        offer = quote(db, booking, by, now, amount_minor)
        if expected_refund_minor is not None and expected_refund_minor != offer.refund_minor:
            raise RefundChanged(
                f"The refund is now {format_money(offer.refund_minor, offer.currency)}, not "
                f"{format_money(expected_refund_minor, offer.currency)}. {offer.reason} "
                "Nothing was cancelled; look at the new amount and confirm again."
            )
        who = f"user:{actor.id}"
        said = reason or (
            "cancelled by the clinic" if by == BY_CLINIC else "cancelled by the patient"
        )
        booking.cancelled_reason = said[:500]
        audit.change_status(
            db, booking, BOOKING_CANCELLED, actor=who, entity_type="booking", reason=said,
            action="cancelled", at=now,
        )  # fmt: skip
        cancellation = None
        if payment is not None:
            cancellation = _record(db, booking, payment, offer, by, said, actor)
        refund_id = None
        if cancellation is not None and cancellation.status == CANCELLATION_REFUNDED:
            refund_id = _reserve(db, cancellation, payment, offer.refund_minor, actor)
        _tell_patient(db, booking, offer, said, by, cancellation and cancellation.status)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    log_kv(log, "booking.cancelled", booking_id=booking_id, by=by, refund_id=refund_id)
    return _send(db, booking_id, refund_id)


def _record(
    db: Session,
    booking: Booking,
    payment: Payment,
    offer: CancellationQuote,
    by: str,
    said: str,
    actor: User,
) -> Cancellation:
    if offer.refund_minor <= 0:
        status = CANCELLATION_NO_REFUND
    elif by == BY_PATIENT and get_settings().cancellation_refunds == "approval":
        status = CANCELLATION_AWAITING
    else:
        status = CANCELLATION_REFUNDED
    cancellation = Cancellation(
        booking_id=booking.id,
        payment_id=payment.id,
        by=by,
        amount_minor=offer.refund_minor,
        currency=offer.currency,
        percent=offer.refund_percent,
        reason=said[:500],
        status=status,
        requested_by_user_id=actor.id,
    )
    db.add(cancellation)
    db.flush()  # the unique booking_id refuses a second cancellation here
    audit.record(
        db, actor=f"user:{actor.id}", entity_type="booking", entity_id=booking.id,
        action="cancellation_recorded", to_status=status, reason=offer.reason,
        details={"cancellation_id": cancellation.id, "by": by, "amount_minor": offer.refund_minor},
    )  # fmt: skip
    return cancellation


def _reserve(
    db: Session, cancellation: Cancellation, payment: Payment, amount_minor: int, actor: User
) -> int:
    refund = create_refund_row(
        db,
        payment=payment,
        amount_minor=amount_minor,
        reason=(
            f"Cancellation of booking #{cancellation.booking_id} by the {cancellation.by} "
            f"({cancellation.percent} %): {cancellation.reason}"
        ),
        requested_by_user_id=actor.id,
        actor=f"user:{actor.id}",
    )
    cancellation.refund_id = refund.id
    db.add(cancellation)
    return refund.id


def _send(db: Session, booking_id: int, refund_id: int | None) -> CancelOutcome:
    """Send the reserved refund; whatever Stripe says, the cancellation stands."""
    booking = db.get(Booking, booking_id, populate_existing=True)
    cancellation = cancellation_of(db, booking_id)
    if refund_id is None:
        return CancelOutcome(booking, cancellation, None)
    try:
        sent = submit_refund(db, refund_id)
    except RefundRejected:
        refund = db.get(Refund, refund_id, populate_existing=True)
        return CancelOutcome(booking, cancellation, refund, rejected=True)
    return CancelOutcome(booking, cancellation, sent.refund, queued=sent.queued)


def _earlier_outcome(db: Session, booking: Booking) -> CancelOutcome:
    cancellation = cancellation_of(db, booking.id)
    refund = None
    if cancellation is not None and cancellation.refund_id is not None:
        refund = db.get(Refund, cancellation.refund_id)
    return CancelOutcome(booking, cancellation, refund, repeated=True)


def outcome_of(db: Session, cancellation_id: int) -> CancelOutcome:
    """A cancellation as it stands now (after an admin's decision)."""
    cancellation = db.get(Cancellation, cancellation_id, populate_existing=True)
    if cancellation is None:
        raise NotFound("Cancellation not found.")
    outcome = _earlier_outcome(db, db.get(Booking, cancellation.booking_id))
    return replace(outcome, repeated=False)


def _tell_patient(
    db: Session, booking: Booking, offer: CancellationQuote, said: str, by: str, status: str | None
) -> None:
    """The email (with the calendar file that removes the entry) a patient gets about it."""
    back = format_money(offer.refund_minor, offer.currency)
    if status == CANCELLATION_AWAITING:
        refund_line = f"The refund of {back} waits for the clinic's approval; we write again."
    elif offer.refund_minor:
        whole = "The whole payment, " if offer.refund_percent == 100 else ""
        refund_line = (
            f"{whole}{back}{',' if whole else ''} is being refunded to your card; it shows "
            "there within a few working days."
        )
    else:
        refund_line = "Nothing is refunded on this booking."
    messages.booking_cancelled(
        db, booking, by_clinic=by == BY_CLINIC, reason=said, refund_line=refund_line
    )


def approve(db: Session, *, cancellation_id: int, admin: User) -> CancelOutcome:
    """An admin approves a refund waiting for approval: it is reserved and sent (commits).
    Approving twice sends nothing more."""
    try:
        cancellation = _waiting(db, cancellation_id, admin)
        if cancellation.status != CANCELLATION_AWAITING:
            outcome = _earlier_outcome(db, db.get(Booking, cancellation.booking_id))
            db.rollback()
            return outcome
        payment = _locked(db, Payment, cancellation.payment_id)
        amount = min(cancellation.amount_minor, refundable_now(db, payment))
        refund_id = None
        if amount > 0:
            refund_id = _reserve(db, cancellation, payment, amount, admin)
        _decide(db, cancellation, CANCELLATION_REFUNDED, admin, "refund approved")
        booking_id = cancellation.booking_id
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return _send(db, booking_id, refund_id)


def decline(db: Session, *, cancellation_id: int, admin: User, note: str) -> Cancellation:
    """An admin declines a refund waiting for approval, with a reason kept in the trail."""
    note = clean_text(note)
    if not note:
        raise ValidationFailed("Say why the refund is declined: the patient reads it.")
    try:
        cancellation = _waiting(db, cancellation_id, admin)
        if cancellation.status == CANCELLATION_AWAITING:
            _decide(db, cancellation, CANCELLATION_DECLINED, admin, note)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return cancellation


def _waiting(db: Session, cancellation_id: int, admin: User) -> Cancellation:
    if admin.role != ROLE_ADMIN:
        raise NotFound("Cancellation not found.")
    cancellation = _locked(db, Cancellation, cancellation_id)
    if cancellation is None:
        raise NotFound("Cancellation not found.")
    return cancellation


def _decide(db: Session, cancellation: Cancellation, status: str, admin: User, note: str) -> None:
    cancellation.decided_by_user_id = admin.id
    cancellation.decided_at = utcnow()
    cancellation.decision_note = note[:500]
    audit.change_status(
        db, cancellation, status, actor=f"user:{admin.id}", entity_type="cancellation",
        reason=note,
    )  # fmt: skip


@dataclass(frozen=True)
class CancellationRow:
    """One cancellation as the admin's list shows it."""

    id: int
    booking_id: int
    patient_name: str
    patient_email: str
    starts_at: datetime
    by: str
    amount_minor: int
    currency: str
    percent: int
    reason: str
    status: str
    refund_id: int | None
    decision_note: str | None
    created_at: datetime


def cancellation_list(
    db: Session, admin: User, *, status: str | None, limit: int, offset: int
) -> tuple[list[CancellationRow], int]:
    """Cancellations, newest first (those awaiting approval: oldest first, the queue's order),
    one page of them and how many match in all."""
    if admin.role != ROLE_ADMIN:
        raise Forbidden("Admins only.")
    where = [Cancellation.status == status] if status else []
    count = db.exec(select(func.count()).select_from(Cancellation).where(*where)).one()
    order = col(Cancellation.id) if status == CANCELLATION_AWAITING else col(Cancellation.id).desc()
    rows = db.exec(
        select(Cancellation, Booking, User)
        .join(Booking, Booking.id == Cancellation.booking_id)
        .join(User, User.id == Booking.patient_id)
        .where(*where)
        .order_by(order)
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        CancellationRow(
            id=c.id,
            booking_id=b.id,
            patient_name=u.full_name,
            patient_email=u.email,
            starts_at=b.starts_at,
            by=c.by,
            amount_minor=c.amount_minor,
            currency=c.currency,
            percent=c.percent,
            reason=c.reason,
            status=c.status,
            refund_id=c.refund_id,
            decision_note=c.decision_note,
            created_at=c.created_at,
        )  # fmt: skip
        for c, b, u in rows
    ], int(count)


@dataclass(frozen=True)
class RefundState:
    """Where a cancelled booking's refund stands, as its patient reads it."""

    amount_minor: int
    currency: str
    percent: int
    cancellation_status: str
    refund_status: str | None
    decision_note: str | None


def refund_states(db: Session, booking_ids: list[int]) -> dict[int, RefundState]:
    """The refund of each of these bookings that was cancelled after being paid; and, for the
    others, what was refunded on their payment anyway (an admin's refund, a payment that came
    after its slot was taken), so a patient always sees money that went back."""
    if not booking_ids:
        return {}
    rows = db.exec(
        select(Cancellation, Refund)
        .join(Refund, col(Refund.id) == Cancellation.refund_id, isouter=True)
        .where(col(Cancellation.booking_id).in_(booking_ids))
    ).all()
    states = _cancellation_states(rows)
    rest = [i for i in booking_ids if i not in states]
    if rest:
        refunded = db.exec(
            select(Payment).where(
                col(Payment.booking_id).in_(rest),
                col(Payment.status).in_(PAID_STATUSES),
                Payment.amount_refunded_minor > 0,
            )
        ).all()
        for p in refunded:
            states[p.booking_id] = RefundState(
                amount_minor=p.amount_refunded_minor,
                currency=p.currency,
                percent=p.amount_refunded_minor * 100 // p.amount_minor if p.amount_minor else 0,
                cancellation_status=CANCELLATION_REFUNDED,
                refund_status=REFUND_SUCCEEDED,
                decision_note=None,
            )
    return states


def _cancellation_states(rows: Any) -> dict[int, RefundState]:
    return {
        c.booking_id: RefundState(
            amount_minor=r.amount_minor if r is not None else c.amount_minor,
            currency=c.currency,
            percent=c.percent,
            cancellation_status=c.status,
            refund_status=r.status if r is not None else None,
            decision_note=c.decision_note,
        )
        for c, r in rows
    }
