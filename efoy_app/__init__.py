"""Efoy: a hospital appointment manager (Reflex app, REST API, Stripe payments)."""
