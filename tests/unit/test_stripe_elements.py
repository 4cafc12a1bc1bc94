"""Stripe's Payment Element: compiled in only with real keys, and wired to the right packages."""

from __future__ import annotations

import pytest

from efoy_app.components.stripe_elements import REACT_STRIPE, STRIPE_JS, stripe_card_form
from efoy_app.domain.card_page import payment_element_enabled
from efoy_app.settings import get_settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch):
    def apply(**env: str | None) -> None:
        for key, value in env.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


def test_enabled_only_with_a_publishable_key_and_real_stripe(settings_env) -> None:
    settings_env(STRIPE_PUBLISHABLE_KEY="pk_test_123", STRIPE_API_BASE=None)
    assert payment_element_enabled() is True
    settings_env(STRIPE_PUBLISHABLE_KEY="pk_test_123", STRIPE_API_BASE="http://127.0.0.1:12111")
    assert payment_element_enabled() is False
    settings_env(
        STRIPE_PUBLISHABLE_KEY=None, VITE_STRIPE_PUBLISHABLE_KEY=None, STRIPE_API_BASE=None
    )
    assert payment_element_enabled() is False
    settings_env(VITE_STRIPE_PUBLISHABLE_KEY="pk_test_seed")
    assert payment_element_enabled() is True


def test_component_renders_stripe_elements_with_the_client_secret() -> None:
    form = stripe_card_form(
        publishable_key="pk_test_abc", client_secret="pi_1_secret_2", return_url="http://x/ok"
    )
    rendered = form.render()
    assert rendered["name"] == "EfoyStripeCardForm"
    assert sorted(rendered["props"]) == [
        'clientSecret:"pi_1_secret_2"',
        'publishableKey:"pk_test_abc"',
        'returnUrl:"http://x/ok"',
    ]
    imports = form._get_all_imports()
    assert {v.tag for v in imports[REACT_STRIPE]} == {
        "Elements",
        "PaymentElement",
        "useStripe",
        "useElements",
    }
    assert [v.tag for v in imports[STRIPE_JS]] == ["loadStripe"]
    code = "".join(form._get_all_custom_code())
    assert "function EfoyStripeCardForm" in code
    assert "stripe.confirmPayment" in code
