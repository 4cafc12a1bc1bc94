"""Builders for the objects the sandbox serves, shaped as Stripe's own (see fixtures/).

Each builder sets every top-level key Stripe's fixture object has, with the same JSON type or
null, so code written against Stripe finds every field it reads. Values the sandbox has no
notion of (tax, shipping, Connect...) are null or empty, as on a plain test-mode payment.
"""

from __future__ import annotations

from typing import Any

from .cards import Card
from .ids import checkout_session_id, client_secret, new_id


def _address() -> dict[str, None]:
    return {k: None for k in ("city", "country", "line1", "line2", "postal_code", "state")}


def billing_details(card: Card) -> dict[str, Any]:
    return {
        "address": _address(),
        "email": card.email,
        "name": card.name,
        "phone": None,
        "tax_id": None,
    }


def payment_method(card: Card, created: int) -> dict[str, Any]:
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing_details(card),
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "display_brand": card.brand,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "fingerprint": card.fingerprint,
            "funding": "credit",
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
        "_number": card.number,
    }


def line_item(
    *,
    name: str,
    unit_amount: int,
    quantity: int,
    currency: str,
    created: int,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Checkout line item with the one-off Price Stripe makes from `price_data`."""
    total = unit_amount * quantity
    return {
        "id": new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": total,
        "amount_tax": 0,
        "amount_total": total,
        "currency": currency,
        "description": name,
        "metadata": {},
        "price": {
            "id": new_id("price"),
            "object": "price",
            "active": False,
            "billing_scheme": "per_unit",
            "created": created,
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": new_id("prod", 14),
            "recurring": None,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
            "_product_description": description,
            "_product_metadata": metadata or {},
        },
        "quantity": quantity,
    }


def checkout_session(
    *,
    created: int,
    expires_at: int,
    currency: str,
    line_items: list[dict[str, Any]],
    success_url: str | None,
    cancel_url: str | None,
    metadata: dict[str, str],
    client_reference_id: str | None,
    customer_email: str | None,
    locale: str | None,
    payment_intent_data: dict[str, Any],
    public_url: str,
) -> dict[str, Any]:
    session_id = checkout_session_id()
    total = sum(item["amount_total"] for item in line_items)
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "client_secret": None,
        "collected_information": {
            "business_name": None,
            "individual_name": None,
            "shipping_details": None,
        },
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": customer_email,
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": locale,
        "managed_payments": {"enabled": False},
        "metadata": metadata,
        "mode": "payment",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": f"{public_url}/checkout/{session_id}",
        "wallet_options": None,
        "_line_items": line_items,
        "_payment_intent_data": payment_intent_data,
    }


def customer_details(email: str | None, name: str | None) -> dict[str, Any]:
    return {
        "address": _address(),
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def payment_intent(
    *,
    amount: int,
    currency: str,
    created: int,
    metadata: dict[str, str],
    description: str | None,
    receipt_email: str | None,
    automatic_payment_methods: bool,
    statement_descriptor: str | None = None,
    statement_descriptor_suffix: str | None = None,
) -> dict[str, Any]:
    intent_id = new_id("pi")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": (
            {"allow_redirects": "always", "enabled": True} if automatic_payment_methods else None
        ),
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": client_secret(intent_id),
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": statement_descriptor,
        "statement_descriptor_suffix": statement_descriptor_suffix,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def charge(
    *,
    intent: dict[str, Any],
    method: dict[str, Any],
    created: int,
    public_url: str,
    failure: tuple[str, str | None, str] | None = None,
    authenticated: bool = False,
) -> dict[str, Any]:
    """A Charge for one attempt; `failure` is (code, decline_code, message) for a decline."""
    charge_id = new_id("ch")
    card = method["card"]
    succeeded = failure is None
    return {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if succeeded else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": new_id("txn") if succeeded else None,
        "billing_details": method["billing_details"],
        "calculated_statement_descriptor": "EFOY SANDBOX",
        "captured": succeeded,
        "created": created,
        "currency": intent["currency"],
        "customer": None,
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": failure[0] if failure else None,
        "failure_message": failure[2] if failure else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network" if succeeded else "declined_by_network",
            "reason": failure[1] if failure else None,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": (
                "Payment complete."
                if succeeded
                else "The bank did not return any further details with this decline."
            ),
            "type": "authorized" if succeeded else "issuer_declined",
        },
        "paid": succeeded,
        "payment_intent": intent["id"],
        "payment_method": method["id"],
        "payment_method_details": {
            "card": {
                "amount_authorized": intent["amount"] if succeeded else None,
                "authorization_code": None,
                "brand": card["brand"],
                "checks": card["checks"],
                "country": card["country"],
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "extended_authorization": {"status": "disabled"},
                "fingerprint": card["fingerprint"],
                "funding": card["funding"],
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": card["last4"],
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": card["brand"],
                "network_token": {"used": False},
                "network_transaction_id": None,
                "overcapture": {
                    "maximum_amount_capturable": intent["amount"],
                    "status": "unavailable",
                },
                "regulated_status": "unregulated",
                "three_d_secure": (
                    {
                        "authentication_flow": "challenge",
                        "electronic_commerce_indicator": "05",
                        "exemption_indicator": None,
                        "result": "authenticated",
                        "result_reason": None,
                        "transaction_id": None,
                        "version": "2.2.0",
                    }
                    if authenticated
                    else None
                ),
                "transaction_link_id": None,
                "wallet": None,
            },
            "type": "card",
        },
        "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"{public_url}/receipts/{charge_id}" if succeeded else None,
        "refunded": False,
        "refunds": None,  # filled in when shown (see views.present)
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": intent["statement_descriptor"],
        "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
        "status": "succeeded" if succeeded else "failed",
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(
    *,
    charge: dict[str, Any],
    amount: int,
    reason: str | None,
    metadata: dict[str, str],
    created: int,
    status: str,
) -> dict[str, Any]:
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "customer": None,
        "customer_account": None,
        "destination_details": {
            "card": {
                "reference": None,
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "failure_balance_transaction": None,
        "failure_reason": None,
        "metadata": metadata,
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


def event(
    *,
    type_: str,
    snapshot: dict[str, Any],
    created: int,
    api_version: str,
    pending_webhooks: int,
    request_id: str | None,
    idempotency_key: str | None,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": snapshot}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type_,
    }


def webhook_endpoint(
    *,
    url: str,
    enabled_events: list[str],
    created: int,
    secret: str,
    description: str | None,
    metadata: dict[str, str],
    api_version: str | None,
    endpoint_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": endpoint_id or new_id("we"),
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": None,
        "created": created,
        "description": description,
        "enabled_events": enabled_events,
        "livemode": False,
        "metadata": metadata,
        "status": "enabled",
        "url": url,
        "_secret": secret,
    }


def balance_transaction(
    *,
    transaction_id: str,
    amount: int,
    currency: str,
    source: str,
    type_: str,
    created: int,
    description: str | None,
) -> dict[str, Any]:
    """Money moving on the sandbox account; no fees are taken, so `net` equals `amount`."""
    return {
        "id": transaction_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": 0,
        "fee_details": [],
        "net": amount,
        "reporting_category": type_,
        "source": source,
        "status": "available",
        "type": type_,
    }
