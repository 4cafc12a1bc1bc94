"""A Stripe-compatible HTTP server for demos and tests on machines that cannot reach Stripe.

Efoy never imports this package: it talks to it over HTTP through the official `stripe`
library, exactly as it would talk to Stripe. Run it with `python -m stripe_sandbox`.
"""

API_VERSION = "2026-10-28.endive"
"""Reported in events and responses; the version stripe 16.1 sends (the sandbox has only one)."""
