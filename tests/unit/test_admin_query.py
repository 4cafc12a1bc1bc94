"""The admin filters' query-string rules: the API's strict reading and the page's lenient one
agree (what one refuses the other leaves out), and the page's URL reads back as its filter."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from efoy_app.domain import admin_query
from efoy_app.domain.admin_views import PaymentFilter, clamp_page
from efoy_app.domain.errors import ValidationFailed

TZ = "Africa/Addis_Ababa"

raw_values = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(("paid", "refunded", "lost", "", " paid ", "PAID")),
        "doctor": st.sampled_from(("1", "12", "0", "-3", "x", str(2**53), str(2**64), "٣")),
        "currency": st.sampled_from(("usd", "EUR", "US", "€€€", "", "\x00")),
        "from": st.sampled_from(("2031-05-01", "2031-13-45", "2031-02-30", "1999-12-31", "")),
        "to": st.sampled_from(("2031-05-03", "2031-04-01", "2200-01-01", "tomorrow")),
        "dates": st.sampled_from(("created", "paid", "paid_at", "updated", "")),
        "flagged": st.sampled_from(("1", "true", "0", "", "maybe", "ON")),
        "q": st.text(max_size=5) | st.sampled_from(("x" * 201, "#12", "cs_1", "a\x00b")),
        "unrelated": st.text(max_size=3),
    },
)


@given(raw_values)
def test_strict_refuses_exactly_what_lenient_leaves_out(values):
    read = admin_query.lenient_payment_filter(values, TZ)
    try:
        strict = admin_query.payment_filter(values, TZ)
    except ValidationFailed:
        assert read.problems
        return
    assert read.problems == ()
    assert strict == read.filters


@given(raw_values)
def test_a_page_url_reads_back_as_its_filter(values):
    f = admin_query.lenient_payment_filter(values, TZ).filters
    again = dict(parse_qsl(admin_query.page_query(f, page=3)))
    assert again.pop("tab") == "payments" and again.pop("page") == "3"
    assert admin_query.payment_filter(again, TZ) == f


def test_the_page_quotes_what_it_left_out():
    read = admin_query.lenient_payment_filter(
        {"status": "lost", "from": "2026-13-45", "currency": "usd", "q": "a\x00b"}, TZ
    )
    assert read.filters == PaymentFilter(currency="USD", tz=TZ)
    assert read.problems == (
        "Ignored status “lost”: unknown payment status; use one of pending, paid, "
        "partially_refunded, refunded, failed, expired.",
        "Ignored from “2026-13-45”: 2026-13-45 is not a calendar date.",
        "Ignored search “a\ufffdb”: a search cannot contain control characters.",
    )
    read = admin_query.lenient_payment_filter({"from": "2031-05-03", "to": "2031-05-01"}, TZ)
    assert (read.filters.date_from, read.problems) == (
        None, ("Ignored the dates: the range ends before it starts.",),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "page", "said"),
    [(None, 1, False), ("2", 2, False), ("abc", 1, True), ("0", 1, True), ("-1", 1, True),
     ("٣", 1, True), (str(2**64), 2**64, False)],
)  # fmt: skip
def test_pages(raw, page, said):
    assert admin_query.parse_page(raw)[0] == page
    assert bool(admin_query.parse_page(raw)[1]) == said


def test_a_page_past_the_end_is_the_last_one():
    assert clamp_page(3, 120) == (3, "")
    assert clamp_page(4, 120) == (3, "There is no page 4; showing page 3 of 3.")
    assert clamp_page(2**64, 0) == (1, "There is no page that far; showing page 1 of 1.")


def test_strict_names_the_parameter():
    with pytest.raises(ValidationFailed, match="^date_from: 2031-02-30 is not a calendar date"):
        admin_query.payment_filter({"date_from": "2031-02-30"}, TZ)
    assert admin_query.payment_filter({"date_to": "2031-02-28", "dates": "paid"}, TZ) == (
        PaymentFilter(date_to=date(2031, 2, 28), date_field="paid_at", tz=TZ)
    )
