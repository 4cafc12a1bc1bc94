"""Efoy's rules, in plain Python: money, slots, bookings, payments, refunds, audit, auth.

Never imports Reflex; pages, the REST API, the webhook route and the reconciliation task all
call these modules, so each rule is written once.
"""
