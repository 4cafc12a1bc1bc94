"""The Reflex app: the REST API mounted beside the pages, and the pages themselves.

Tables need no registration here: every model shares `SQLModel.metadata`, which is what
`reflex db makemigrations` compares against once `efoy_app.models` is imported.
"""

import asyncio

import reflex as rx

import efoy_app.models  # noqa: F401  (tables on SQLModel.metadata for `reflex db`)
from efoy_app.api import api
from efoy_app.domain import receipt_pdf
from efoy_app.http_security import secure
from efoy_app.mail_sender import send_mail_forever
from efoy_app.pages import (  # noqa: F401  (each page registers itself)
    admin,
    admin_audit,
    admin_cancellations,
    admin_doctors,
    admin_outbox,
    admin_payment,
    admin_webhooks,
    appointments,
    doctor,
    doctors,
    home,
    login,
    not_found,
    payment,
    policy,
)
from efoy_app.reconcile import reconcile_forever
from efoy_app.settings import get_settings

app = rx.App(
    # The REST API with Reflex mounted inside it, then the security headers around everything.
    api_transformer=[api, secure],
    stylesheets=["/efoy.css"],
    head_components=[
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        # Moves focus to the new page's heading after a client-side navigation.
        rx.el.script(src="/efoy-focus.js", defer=True),
    ],
)
# Every worker runs reconciliation; its steps are idempotent and PostgreSQL lets one at a time.
app.register_lifespan_task(reconcile_forever)
# Every worker sends the outbox; their claims never overlap (domain/mail_delivery.py).
app.register_lifespan_task(send_mail_forever)


async def warm_receipts() -> None:
    """Load the receipt fonts in a thread at start, not in the first payment's transaction."""
    await asyncio.to_thread(receipt_pdf.warm_up, get_settings())


app.register_lifespan_task(warm_receipts)
