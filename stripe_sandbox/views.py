"""How stored objects are shown: private keys removed, computed fields filled, `expand`, lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import invalid_request, no_such
from .forms import Params

if TYPE_CHECKING:
    from .runtime import Sandbox

# Which fields `expand[]` may turn from an id into the object, per object type.
EXPANDABLE: dict[str, set[str]] = {
    "checkout.session": {
        "payment_intent",
        "line_items",
        "customer",
        "invoice",
        "payment_link",
        "setup_intent",
        "subscription",
    },
    "payment_intent": {
        "latest_charge",
        "payment_method",
        "customer",
        "application",
        "review",
        "on_behalf_of",
    },
    "charge": {
        "payment_intent",
        "balance_transaction",
        "customer",
        "refunds",
        "application",
        "application_fee",
        "review",
        "source_transfer",
        "on_behalf_of",
    },
    "refund": {"charge", "payment_intent", "balance_transaction", "failure_balance_transaction"},
    "balance_transaction": {"source"},
    "event": set(),
    "webhook_endpoint": set(),
    "payment_method": {"customer"},
    "item": {"price"},
}


def strip(value: Any) -> Any:
    """A deep copy without the sandbox's own "_" keys."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def present(sb: Sandbox, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as Stripe would send it (also what an event snapshots)."""
    shown = strip(obj)
    if obj["object"] == "charge":
        refunds = [
            present(sb, r) for r in sb.store.newest_first("refund") if r["charge"] == obj["id"]
        ]
        shown["refunds"] = list_object(refunds, f"/v1/charges/{obj['id']}/refunds")
    return shown


def list_object(data: list[dict[str, Any]], url: str, has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def line_items(sb: Sandbox, session: dict[str, Any]) -> dict[str, Any]:
    items = [strip(item) for item in session["_line_items"]]
    return list_object(items, f"/v1/checkout/sessions/{session['id']}/line_items")


def expand(sb: Sandbox, shown: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    for index, path in enumerate(paths):
        _expand_path(sb, shown, path.split("."), f"expand[{index}]", path)
    return shown


def _expand_path(
    sb: Sandbox, shown: dict[str, Any], parts: list[str], param: str, path: str
) -> None:
    if len(path.split(".")) > 4:
        raise invalid_request(
            "You cannot expand more than 4 levels of a property. Property: " + path, param=param
        )
    field, rest = parts[0], parts[1:]
    kind = shown.get("object", "")
    if field not in EXPANDABLE.get(kind, set()):
        raise invalid_request(f"This property cannot be expanded ({field}).", param=param)
    value = shown.get(field)
    if kind == "checkout.session" and field == "line_items":
        session = sb.store.get(shown["id"], "checkout.session")
        if session is not None:
            shown[field] = value = line_items(sb, session)
    elif isinstance(value, str):
        target = sb.store.get(value)
        if target is None:
            raise no_such(field, value, param=param)
        shown[field] = value = present(sb, target)
    if not rest or value is None:
        return
    if isinstance(value, dict) and value.get("object") == "list":
        if rest[0] == "data":
            rest = rest[1:]
        for item in value["data"]:
            if rest:
                _expand_path(sb, item, rest, param, path)
        return
    if isinstance(value, dict):
        _expand_path(sb, value, rest, param, path)


def render(sb: Sandbox, obj: dict[str, Any], params: Params) -> dict[str, Any]:
    """An API answer for one object, with the `expand[]` the caller asked for."""
    return expand(sb, present(sb, obj), params.expand())


def page(sb: Sandbox, items: list[dict[str, Any]], params: Params, url: str) -> dict[str, Any]:
    """Stripe's cursor pagination over newest-first items: limit, starting_after, ending_before."""
    limit = params.int("limit")
    if limit is None:
        limit = 10
    if not 1 <= limit <= 100:
        raise invalid_request(
            "This value must be greater than or equal to 1 and less than or equal to 100.",
            param="limit",
        )
    items = _filter_created(items, params)
    starting_after = params.str("starting_after")
    ending_before = params.str("ending_before")
    ids = [item["id"] for item in items]
    if starting_after is not None:
        position = _position(ids, starting_after, "starting_after", sb)
        chosen = items[position + 1 : position + 1 + limit]
        has_more = position + 1 + limit < len(items)
    elif ending_before is not None:
        position = _position(ids, ending_before, "ending_before", sb)
        start = max(0, position - limit)
        chosen = items[start:position]
        has_more = start > 0
    else:
        chosen = items[:limit]
        has_more = len(items) > limit
    paths = [p.removeprefix("data.") for p in params.expand()]
    data = []
    for item in chosen:
        shown = present(sb, item)
        for index, path in enumerate(paths):
            _expand_path(sb, shown, path.split("."), f"expand[{index}]", path)
        data.append(shown)
    return list_object(data, url, has_more)


def _position(ids: list[str], cursor: str, param: str, sb: Sandbox) -> int:
    if cursor in ids:
        return ids.index(cursor)
    obj = sb.store.get(cursor)
    raise no_such(obj["object"] if obj else "object", cursor, param=param)


def _filter_created(items: list[dict[str, Any]], params: Params) -> list[dict[str, Any]]:
    """`created=123` or `created[gte]=...` (gt, gte, lt, lte), as Stripe's list endpoints take."""
    if "created" not in params:
        return items
    raw = params.raw("created")
    if isinstance(raw, str):
        exact = params.int("created")
        return [i for i in items if i["created"] == exact]
    bounds = params.dict("created")
    checks = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    bounds.reject_unknown(set(checks))
    for op, check in checks.items():
        value = bounds.int(op)
        if value is not None:
            items = [i for i in items if check(i["created"], value)]
    return items
