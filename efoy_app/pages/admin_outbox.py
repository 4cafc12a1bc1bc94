"""/admin/outbox: every email Efoy queued, newest first, with what became of it; and
/admin/outbox/[email_id]: one message to read, its files to save, `Retry` when it failed.

A message's HTML is shown as its source text, escaped like any other text: it is never run or
rendered in the admin's page (a message that quotes a patient's words could carry markup).
"""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.admin import (
    MUTED,
    admin_nav,
    admin_page,
    data_table,
    note,
    table_card,
    zone_note,
)
from efoy_app.components.badges import status_badge
from efoy_app.components.layout import (
    error_callout,
    message_card,
    notice_callout,
    page_heading,
    wrap_row,
)
from efoy_app.pages.admin_audit import choice, labelled
from efoy_app.pages.admin_payment import code_fact, fact, section
from efoy_app.state.admin_outbox import (
    AdminOutboxEmailState,
    AdminOutboxState,
    AttachmentEntry,
    OutboxEntry,
)

S = AdminOutboxState
E = AdminOutboxEmailState
F = AdminOutboxEmailState.facts
# What it is and its state first (with the link to read it); on a phone the rest scrolls.
COLUMNS = [
    "Subject",
    "Status",
    "Recipient",
    "Created",
    "Kind",
    "Attempts",
    "Next attempt or sent",
    "Last error",
]
ATTACHMENT_COLUMNS = ["File", "Save", "Size", "Type"]
ERROR_RED = rx.color("red", 11)
PRE_STYLE = {
    "white_space": "pre-wrap",
    "overflow_wrap": "anywhere",
    "font_family": "var(--code-font-family)",
    "font_size": "var(--font-size-2)",
    "line_height": "1.5",
    "margin": "0",
    "padding": "0.75em",
    "width": "100%",
    "border_radius": "var(--radius-2)",
    "background": rx.color("gray", 2),
    "border": f"1px solid {rx.color('gray', 5)}",
}


def email_row(e: OutboxEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(e.subject, class_name="subject"),
                rx.link(
                    "Read",
                    href=e.href,
                    size="2",
                    weight="medium",
                    high_contrast=True,
                    underline="always",
                    title="Read this email",
                ),
                spacing="0",
            ),
            min_width="14em",
        ),
        rx.table.cell(status_badge(e.status_label, e.status_color, e.status), class_name="status"),
        rx.table.cell(e.to_address, class_name="recipient"),
        rx.table.cell(rx.text(e.created_at, title=e.created_exact), min_width="8em"),
        rx.table.cell(e.kind, class_name="kind", white_space="nowrap"),
        rx.table.cell(e.attempts.to_string(), class_name="attempts"),
        rx.table.cell(
            rx.cond(e.next_or_sent != "", rx.text(e.next_or_sent), rx.text("—", color=MUTED)),
            class_name="next-or-sent",
            min_width="8em",
        ),
        rx.table.cell(
            rx.cond(
                e.error != "",
                rx.text(e.error, size="1", color=ERROR_RED, class_name="error"),
                rx.text("—", color=MUTED),
            ),
            min_width="12em",
            max_width="24em",
        ),
        custom_attrs={"data-email-id": e.id, "data-status": e.status},
    )


def filters() -> rx.Component:
    return rx.form(
        wrap_row(
            labelled(
                "Status",
                "outbox-status",
                choice("outbox-status", S.status_choices, S.status_filter, S.set_status),
            ),
            labelled(
                "Kind", "outbox-kind", choice("outbox-kind", S.kind_choices, S.kind, S.set_kind)
            ),  # fmt: skip
            labelled(
                "Recipient",
                "outbox-to",
                rx.input(
                    id="outbox-to",
                    name="outbox-to",
                    value=S.to,
                    on_change=S.set_to,
                    placeholder="part of the address",
                    max_length=100,
                ),
            ),
            rx.hstack(
                rx.button("Filter", type="submit", size="2"),
                rx.button(
                    "Clear", type="button", variant="soft", size="2", on_click=S.clear_filters
                ),  # fmt: skip
                spacing="2",
                align="end",
                height="100%",
            ),
            align="end",
        ),
        on_submit=S.apply_filters,
        margin_bottom="1em",
    )


def pager(where: str) -> rx.Component:
    def step(label: str, shown: rx.Var, href: rx.Var) -> rx.Component:
        return rx.cond(
            shown,
            rx.link(label, href=href, size="2", weight="medium", high_contrast=True),
            rx.text(label, size="2", color=MUTED, aria_disabled="true"),
        )

    return rx.hstack(
        step("Previous", S.has_previous, S.previous_href),
        rx.text(S.summary, size="2", class_name="outbox-summary"),
        step("Next", S.has_next, S.next_href),
        spacing="4",
        align="center",
        margin_y="1em",
        role="navigation",
        aria_label=f"Outbox pages ({where})",
    )


@rx.page(route=routes.ADMIN_OUTBOX, title="Outbox — Admin — Efoy", on_load=S.load_page)
def admin_outbox() -> rx.Component:
    return admin_page(
        S,
        rx.box(
            page_heading(
                "Outbox",
                "Every email Efoy sends, newest first: queued, being sent, sent, or failed "
                "after its last attempt (Read one to retry it).",
            ),
            admin_nav(),
            note(zone_note(), margin_bottom="1em"),
            filters(),
            error_callout(S.error, id="outbox-error", margin_bottom="1em"),
            pager("top"),
            table_card(
                data_table(
                    COLUMNS,
                    S.emails,
                    email_row,
                    aria_label="Outbox",
                    empty=rx.text("No emails match these filters.", color=MUTED, padding="1em"),
                    size="1",
                )
            ),
            pager("bottom"),
        ),
    )


# --- one message ---


def attachment_row(a: AttachmentEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(a.filename, class_name="filename"), min_width="10em"),
        rx.table.cell(
            rx.button(
                rx.icon("download", size=14),
                "Download",
                on_click=E.download(a.id),
                size="1",
                variant="soft",
                aria_label="Download " + a.filename,
            )
        ),
        rx.table.cell(a.size, class_name="size", white_space="nowrap"),
        rx.table.cell(rx.code(a.content_type, variant="ghost"), class_name="content-type"),
        custom_attrs={"data-attachment-id": a.id},
    )


def headers_card() -> rx.Component:
    return section(
        "Message",
        rx.data_list.root(
            fact("To", F.to_address, id="email-to"),
            fact("Subject", F.subject, id="email-subject"),
            fact("Kind", F.kind, id="email-kind"),
            fact("Created", F.created_at),
            code_fact("Message-ID", F.message_id, id="email-message-id"),
            code_fact("Dedupe key", F.dedupe_key),
            fact("Booking", F.booking),
            rx.data_list.item(
                rx.data_list.label("Payment", min_width="11em"),
                rx.data_list.value(
                    rx.cond(
                        F.payment_id > 0,
                        rx.link(
                            "#",
                            F.payment_id.to_string(),
                            href=F.payment_href,
                            high_contrast=True,
                            underline="always",
                        ),  # fmt: skip
                        rx.text("—", color=MUTED),
                    )
                ),
            ),
            orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
            size="2",
        ),
    )


def delivery_card() -> rx.Component:
    return section(
        "Delivery",
        rx.data_list.root(
            rx.data_list.item(
                rx.data_list.label("Status", min_width="11em"),
                rx.data_list.value(
                    status_badge(F.status_label, F.status_color, F.status, id="email-status")
                ),
            ),
            fact("Attempts", F.attempts.to_string(), id="email-attempts"),
            fact("Next attempt", F.next_attempt_at, id="email-next-attempt"),
            fact("Claimed until", F.claimed_until),
            fact("Sent at", F.sent_at, id="email-sent-at"),
            fact("Last error", F.error, id="email-error", color=ERROR_RED),
            orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
            size="2",
        ),
        rx.cond(
            F.can_retry,
            rx.vstack(
                rx.button(
                    rx.icon("rotate-ccw", size=16),
                    "Retry",
                    on_click=E.retry,
                    loading=E.busy,
                    disabled=E.busy,
                    color_scheme="orange",
                ),
                note("Queues it again, due now; its attempts so far are kept."),
                spacing="1",
                align="start",
            ),
        ),
        error_callout(E.error, width="100%", id="email-action-error"),
        notice_callout(E.notice, width="100%", id="email-notice"),
    )


def bodies() -> rx.Component:
    return rx.fragment(
        section(
            "Plain text",
            rx.el.pre(F.body, id="email-body", style=PRE_STYLE),
        ),
        section(
            "HTML version",
            rx.cond(
                F.html_body != "",
                rx.vstack(
                    note("Shown as its source, as text: the HTML is not rendered in this page."),
                    rx.el.pre(F.html_body, id="email-html", style=PRE_STYLE),
                    spacing="2",
                    width="100%",
                ),
                rx.text("This email has no HTML version.", color=MUTED),
            ),
        ),
    )


def attachments_card() -> rx.Component:
    return section(
        "Attachments",
        data_table(
            ATTACHMENT_COLUMNS,
            E.attachments,
            attachment_row,
            aria_label="Attachments",
            empty=rx.text("No attachments.", color=MUTED),
        ),
        id="email-attachments",
    )


def email_not_found() -> rx.Component:
    return message_card(
        "Email not found",
        "There is no email with this number.",
        rx.link("Back to the outbox", href=routes.ADMIN_OUTBOX),
        heading_size="5",
        size="1",
        width="100%",
    )


def email_detail() -> rx.Component:
    return rx.vstack(
        admin_nav(),
        rx.hstack(
            rx.heading("Email #", F.id.to_string(), size="7", as_="h1"),
            status_badge(F.status_label, F.status_color, F.status, size="2"),
            align="center",
            spacing="3",
            wrap="wrap",
            id="email-heading",
        ),
        rx.link("← All emails", href=routes.ADMIN_OUTBOX, size="2", high_contrast=True),
        note(zone_note()),
        rx.grid(
            headers_card(),
            delivery_card(),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        bodies(),
        attachments_card(),
        spacing="4",
        width="100%",
        align="start",
    )


@rx.page(route=routes.ADMIN_OUTBOX_EMAIL, title="Email — Admin — Efoy", on_load=E.load_page)
def admin_outbox_email() -> rx.Component:
    return admin_page(E, rx.cond(E.not_found, email_not_found(), email_detail()))
