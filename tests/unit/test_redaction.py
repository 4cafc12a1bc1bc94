"""Client secrets are redacted at any depth of a stored Stripe object; nothing else changes."""

from __future__ import annotations

import copy
import json

from efoy_app.domain.redaction import REDACTED, SECRET_PATTERN, redact_secrets

PI_SECRET = "pi_3QabcDEF123_secret_Zx9Yw8Vu7Ts6"
CS_SECRET = "cs_test_a1B2c3_secret_Qq1Ww2Ee3"


def event() -> dict:
    return {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_3QabcDEF123",
                "object": "payment_intent",
                "amount": 4500,
                "client_secret": PI_SECRET,
                "metadata": {"booking_id": "12", "note": "secret_ but not a secret"},
                "next_action": {
                    "redirect_to_url": {
                        "url": f"https://hooks.example/3ds?payment_intent_client_secret={PI_SECRET}&x=1"
                    }
                },
                "charges": {"data": [{"id": "ch_1", "nested": [[{"client_secret": CS_SECRET}]]}]},
                "latest_charge": None,
                "livemode": False,
            },
            "previous_attributes": {"client_secret": None},
        },
    }


def test_secrets_are_redacted_at_any_depth_and_the_rest_is_kept() -> None:
    original = event()
    kept = copy.deepcopy(original)
    redacted = redact_secrets(original)
    assert original == kept  # the input is not modified
    assert SECRET_PATTERN.search(json.dumps(original))
    assert not SECRET_PATTERN.search(json.dumps(redacted))
    assert "_secret_" not in json.dumps(redacted)
    expected = copy.deepcopy(kept)
    obj = expected["data"]["object"]
    obj["client_secret"] = REDACTED
    obj["next_action"]["redirect_to_url"]["url"] = (
        f"https://hooks.example/3ds?payment_intent_client_secret={REDACTED}&x=1"
    )
    obj["charges"]["data"][0]["nested"][0][0]["client_secret"] = REDACTED
    assert redacted == expected
    assert list(redacted["data"]["object"]) == list(kept["data"]["object"])  # key order too


def test_scalars_pass_through() -> None:
    for value in (None, 0, 12.5, True, "", "pi_123", "plain text"):
        assert redact_secrets(value) == value
    assert redact_secrets({"client_secret": ""}) == {"client_secret": ""}
