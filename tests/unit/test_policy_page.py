"""The /policy page and the payment page's link to it, as compiled: the tiers in words come from
the policy in force (the setting), never from text of the page's own."""

from __future__ import annotations

import pytest

from efoy_app import routes
from efoy_app.domain.cancellation_policy import current_policy
from efoy_app.pages import payment
from efoy_app.pages.policy import policy_page
from efoy_app.settings import get_settings


def test_the_page_shows_the_tiers_of_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EFOY_CANCELLATION_POLICY", "72:100,12:40,0:0")
    get_settings.cache_clear()
    compiled = str(policy_page())
    assert current_policy().sentences() == [
        "Cancel 72 hours or more before the appointment starts: everything you paid back (100 %).",
        "Cancel less than 72 hours but 12 hours or more before the start: 40 % of what you paid "
        "back.",
        "Cancel less than 12 hours before the start: nothing back.",
    ]
    for sentence in current_policy().sentences():
        assert f'"{sentence}"' in compiled
    assert "48 hours" not in compiled
    assert "72 hours before is exactly 72 hours before" in compiled
    assert compiled.count('"h1"') == 1
    assert '"Cancellation policy"' in compiled


def test_the_default_tiers_are_shown_by_default() -> None:
    compiled = str(policy_page())
    middle = "Cancel less than 48 hours but 24 hours or more before the start: 50 % of what you "
    assert f'"{middle}paid back."' in compiled
    assert "48 hours before is exactly 48 hours before" in compiled


def test_the_payment_page_links_to_the_policy_beside_the_pay_buttons() -> None:
    options = str(payment._pay_options())
    assert routes.POLICY == "/policy"
    assert '"Cancellation policy"' in options
    assert f'to:"{routes.POLICY}"' in options
    # After both ways to pay, before anything else on the card.
    assert options.index('"Pay by card"') < options.index('"Cancellation policy"')
