"""Decoding Stripe's form encoding (`a[b][0][c]=v`) and reading typed parameters from it.

The `stripe` library sends every request body (and GET query) this way: nested objects as
`key[sub]`, arrays as `key[0]`, booleans as `true`/`false`, everything else as text.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from .errors import invalid_request, missing_param

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Build the nested structure; arrays stay dicts keyed "0", "1"... until read as lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise invalid_request(f"Invalid parameter name: {key}", param=key)
        parts = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node = root
        for depth, part in enumerate(parts):
            if part == "":  # `a[]=x` appends, as older clients send arrays
                part = str(len(node))
            if depth == len(parts) - 1:
                if isinstance(node.get(part), dict):
                    raise invalid_request(f"Invalid hash: {key}", param=key)
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise invalid_request(f"Invalid hash: {key}", param=key)
                node = child
    return root


def decode(body: str) -> dict[str, Any]:
    """`keep_blank_values`: `metadata[key]=` means "delete this key" to Stripe."""
    return parse_pairs(parse_qsl(body, keep_blank_values=True))


class Params:
    """Typed, validated access to decoded parameters, raising Stripe's errors by param name."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def reject_unknown(self, allowed: set[str]) -> None:
        """Stripe refuses a parameter it does not know; so does the sandbox, to catch typos."""
        for key in self.data:
            if key not in allowed:
                raise invalid_request(
                    f"Received unknown parameter: {self.name(key)}",
                    param=self.name(key),
                    code="parameter_unknown",
                )

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def str(self, key: str, *, required: bool = False, max_length: int = 5000) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise missing_param(self.name(key))
            return None
        if not isinstance(value, str):
            raise invalid_request(f"Invalid string: {value!r}", param=self.name(key))
        if len(value) > max_length:
            raise invalid_request(
                f"Invalid string: {value[:20]}...; must be at most {max_length} characters",
                param=self.name(key),
            )
        return value

    def int(self, key: str, *, required: bool = False, minimum: int | None = None) -> int | None:
        text = self.str(key, required=required)
        if text is None:
            return None
        try:
            value = int(text)
        except ValueError:
            raise invalid_request(
                f"Invalid integer: {text}", param=self.name(key), code="parameter_invalid_integer"
            ) from None
        if minimum is not None and value < minimum:
            which = "positive" if minimum >= 1 else "non-negative"
            raise invalid_request(
                f"Invalid {which} integer", param=self.name(key), code="parameter_invalid_integer"
            )
        return value

    def bool(self, key: str, default: bool = False) -> bool:
        text = self.str(key)
        if text is None:
            return default
        if text not in ("true", "false"):
            raise invalid_request(f"Invalid boolean: {text}", param=self.name(key))
        return text == "true"

    def enum(self, key: str, choices: tuple[str, ...], *, required: bool = False) -> str | None:
        value = self.str(key, required=required)
        if value is not None and value not in choices:
            listed = ", ".join(choices[:-1]) + f", or {choices[-1]}"
            raise invalid_request(
                f"Invalid {self.name(key)}: must be one of {listed}", param=self.name(key)
            )
        return value

    def dict(self, key: str, *, required: bool = False) -> Params:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise missing_param(self.name(key))
            return Params({}, self.name(key))
        if not isinstance(value, dict):
            raise invalid_request(f"Invalid object: {self.name(key)}", param=self.name(key))
        return Params(value, self.name(key))

    def list(self, key: str) -> list[Any]:
        """Arrays arrive as `key[0]`, `key[1]`...; read them in index order."""
        value = self.data.get(key)
        if value is None or value == "":
            return []
        if not isinstance(value, dict) or not all(k.isdigit() for k in value):
            raise invalid_request(f"Invalid array: {self.name(key)}", param=self.name(key))
        return [value[k] for k in sorted(value, key=int)]

    def items(self, key: str) -> list[Params]:
        """An array of objects (e.g. `line_items`), each readable as Params."""
        result = []
        for index, item in enumerate(self.list(key)):
            name = f"{self.name(key)}[{index}]"
            if not isinstance(item, dict):
                raise invalid_request(f"Invalid object: {name}", param=name)
            result.append(Params(item, name))
        return result

    def strings(self, key: str) -> list[str]:
        values = self.list(key)
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise invalid_request(
                    f"Invalid string: {self.name(key)}[{index}]", param=f"{self.name(key)}[{index}]"
                )
        return values

    def metadata(
        self, current: dict[str, str] | None = None, key: str = "metadata"
    ) -> dict[str, str]:
        """Stripe merges metadata: an empty value deletes a key, `metadata=""` clears them all."""
        result = dict(current or {})
        value = self.data.get(key)
        if value is None:
            return result
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise invalid_request("Invalid metadata: must be an object", param=key)
        for meta_key, meta_value in value.items():
            name = f"{self.name(key)}[{meta_key}]"
            if not isinstance(meta_value, str):
                raise invalid_request(f"Invalid string: {name}", param=name)
            if len(meta_key) > 40:
                raise invalid_request("Metadata keys can have up to 40 characters.", param=name)
            if len(meta_value) > 500:
                raise invalid_request("Metadata values can have up to 500 characters.", param=name)
            if meta_value == "":
                result.pop(meta_key, None)
            else:
                result[meta_key] = meta_value
        if len(result) > 50:
            raise invalid_request("Metadata can have up to 50 keys.", param=key)
        return result

    def expand(self) -> list[str]:
        return self.strings("expand")
