"""Where a payer's browser goes to type a card, and where it comes back to.

Against the sandbox its own card page stands in for Stripe.js' Payment Element; with real Stripe
the Payment Element is mounted on our page instead. Both the REST layer and the Reflex state ask
here, so the rule lives once.
"""

from __future__ import annotations

from urllib.parse import urlencode

from efoy_app import routes
from efoy_app.settings import get_settings


def payment_success_url() -> str:
    """Where Stripe (or the sandbox's card page) sends the payer back to."""
    return f"{get_settings().frontend_url.rstrip('/')}{routes.PAYMENT_SUCCESS}"


def card_page_url(payment_intent_id: str, client_secret: str) -> str | None:
    """Against the sandbox, its card page for this PaymentIntent; None with real Stripe."""
    settings = get_settings()
    if not settings.stripe_api_base:
        return None  # real Stripe: the page mounts Stripe's Payment Element instead
    query = urlencode({"client_secret": client_secret, "return_url": payment_success_url()})
    return f"{settings.stripe_api_base.rstrip('/')}/pay/{payment_intent_id}?{query}"


def payment_element_enabled() -> bool:
    """Stripe's Payment Element is compiled in only with a real publishable key (against the
    sandbox its card page stands in for it)."""
    settings = get_settings()
    return bool(settings.stripe_publishable_key) and not settings.stripe_api_base
