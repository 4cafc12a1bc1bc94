"""/admin/audit: who changed which booking, payment or refund, when and why, newest first."""

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
from efoy_app.components.layout import error_callout, page_heading, wrap_row
from efoy_app.pages.admin_webhooks import SELECT_STYLE
from efoy_app.state.admin_audit import AdminAuditState, AuditSentence

S = AdminAuditState
COLUMNS = ["When", "What happened"]


def entry_row(a: AuditSentence) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(a.at, title=a.at_exact), white_space="nowrap"),
        rx.table.cell(
            rx.vstack(
                rx.text(a.sentence, weight="medium", title=a.actor_detail, class_name="sentence"),
                rx.cond(a.why != "", rx.text(a.why, size="1", color=MUTED, class_name="why")),
                spacing="0",
            ),
            min_width="18em",
        ),
        custom_attrs={"data-audit-id": a.id},
    )


def labelled(label: str, field_id: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=field_id),
        control,
        spacing="1",
    )


def choice(field_id: str, choices: rx.Var, value: rx.Var, on_change: object) -> rx.Component:
    return rx.el.select(
        rx.foreach(choices, lambda c: rx.el.option(c[1], value=c[0])),
        id=field_id,
        name=field_id,
        value=value,
        on_change=on_change,
        style=SELECT_STYLE,
    )


def filters() -> rx.Component:
    return rx.form(
        wrap_row(
            labelled(
                "Actor", "audit-actor", choice("audit-actor", S.actor_choices, S.actor, S.set_actor)
            ),  # fmt: skip
            labelled(
                "Object type",
                "audit-type",
                choice("audit-type", S.type_choices, S.object_type, S.set_object_type),
            ),
            labelled(
                "Object",
                "audit-object",
                rx.input(
                    id="audit-object",
                    name="audit-object",
                    value=S.object_text,
                    on_change=S.set_object_text,
                    placeholder="booking 12 or #12",
                    max_length=60,
                ),
            ),
            labelled(
                "From",
                "audit-from",
                rx.input(
                    id="audit-from",
                    name="audit-from",
                    type="date",
                    value=S.date_from,
                    on_change=S.set_date_from,
                ),  # fmt: skip
            ),
            labelled(
                "To",
                "audit-to",
                rx.input(
                    id="audit-to",
                    name="audit-to",
                    type="date",
                    value=S.date_to,
                    on_change=S.set_date_to,
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
        rx.text(S.summary, size="2", class_name="audit-summary"),
        step("Next", S.has_next, S.next_href),
        spacing="4",
        align="center",
        margin_y="1em",
        role="navigation",
        aria_label=f"Audit pages ({where})",
    )


@rx.page(route=routes.ADMIN_AUDIT, title="Audit — Admin — Efoy", on_load=AdminAuditState.load_page)
def admin_audit() -> rx.Component:
    return admin_page(
        S,
        rx.box(
            page_heading(
                "Audit",
                "Every change of bookings, payments and refunds: who or what made it, when and "
                "why, newest first.",
            ),
            admin_nav(),
            note(zone_note(), " Days in the filter are the clinic's too.", margin_bottom="1em"),
            filters(),
            error_callout(S.error, id="audit-error", margin_bottom="1em"),
            pager("top"),
            table_card(
                data_table(
                    COLUMNS,
                    S.entries,
                    entry_row,
                    aria_label="Audit trail",
                    empty=rx.text("No changes match these filters.", color=MUTED, padding="1em"),
                    size="1",
                )
            ),
            pager("bottom"),
        ),
    )
