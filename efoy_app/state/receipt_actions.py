"""The receipt buttons' state, shared by the pages that show them (confirmation, My
appointments, an admin's payment page) and read by `components/receipt_buttons.py`."""

from __future__ import annotations

import asyncio

import reflex as rx

from efoy_app.domain import receipts
from efoy_app.domain.errors import DomainError, TooSoon

# What the last receipt action came to (`ReceiptActions.receipt_tone`).
TONE_SENT, TONE_WAIT, TONE_ERROR = "sent", "wait", "error"


class ReceiptActions(rx.State, mixin=True):
    """The receipt buttons' vars: which one works (its `loading`), and how the last one went.

    Taken by a state that is also an `AuthState`."""

    receipt_busy: str = ""  # e.g. "receipt-12", "email-12", "note-5": the button at work
    receipt_message: str = ""
    receipt_tone: str = ""
    receipt_about: int = 0  # the payment the message is about (a page may list several)

    async def _receipt_action(self, key: str, about: int, work, *args):  # type: ignore[no-untyped-def]
        """Run `work(user, *args)` in a worker thread with the button `key` busy; a PdfFile is
        downloaded, a str shown as sent; TooSoon shown as a notice, other refusals as errors.

        The button is disabled from the first `yield` on; a second click that left the browser
        before that runs after the first one (Reflex handles one event of a tab at a time): a
        second download of the same file, or for an email the domain's "ask again in N
        seconds" (it queues at most one a minute)."""
        user = await self.current_user()  # type: ignore[attr-defined]
        if user is None:
            yield self.login_redirect()  # type: ignore[attr-defined]
            return
        self.receipt_busy, self.receipt_about = key, about
        self.receipt_message, self.receipt_tone = "", ""
        yield
        try:
            result = await asyncio.to_thread(work, user, *args)
        except TooSoon as exc:
            self.receipt_busy, self.receipt_message, self.receipt_tone = "", exc.message, TONE_WAIT
            return
        except DomainError as exc:
            self.receipt_busy, self.receipt_message, self.receipt_tone = "", exc.message, TONE_ERROR
            return
        self.receipt_busy = ""
        if isinstance(result, receipts.PdfFile):
            yield rx.download(
                data=result.data, filename=result.filename, mime_type=result.content_type
            )
            return
        self.receipt_message, self.receipt_tone = str(result), TONE_SENT
