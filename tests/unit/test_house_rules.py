"""House rules that a reader cannot keep by eye: scans of efoy_app/'s source.

- A status column changes only in `domain/audit.py` (`change_status`, which audits the move, and
  `set_event_status` for webhook events); a row may be created with its first status.
- In `domain/`, a status is named by its constant from `models.py`, never spelled as a string.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from efoy_app import models

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "efoy_app"
AUDIT = APP / "domain" / "audit.py"
STATUS_PREFIXES = ("BOOKING_", "PAYMENT_", "REFUND_", "EVENT_", "STRIPE_")
NOT_STATUSES = ("PAYMENT_KIND_",)


def _assigned(target: ast.AST) -> list[ast.AST]:
    """What an assignment target writes: itself, or each element of a tuple or list."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return [t for element in target.elts for t in _assigned(element)]
    if isinstance(target, ast.Starred):
        return _assigned(target.value)
    return [target]


def _is_status(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "status"


def _is_insert(node: ast.AST) -> bool:
    """`insert(table)` or `dialect.insert(table)`: the statement makes a row, not a change."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "insert") or (
        isinstance(func, ast.Attribute) and func.attr == "insert"
    )


def status_assignments(source: str, filename: str) -> list[str]:
    """Every `x.status = …` (also annotated, augmented or inside a tuple target),
    `setattr(x, "status", …)` and `….values(status=…)` in the source, as "file:line"."""
    found: list[int] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Assign):
            targets = [t for target in node.targets for t in _assigned(target)]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant) and name.value == "status":
                    found.append(node.lineno)
            sets_status = any(k.arg == "status" for k in node.keywords)
            # `insert(...).values(status=...)` makes a row, which may be created with a status.
            values = isinstance(func, ast.Attribute) and func.attr == "values"
            if values and sets_status and not _is_insert(func.value):  # type: ignore[union-attr]
                found.append(node.lineno)
            continue
        else:
            continue
        found.extend(t.lineno for t in targets if _is_status(t))
    return [f"{filename}:{line}" for line in sorted(found)]


def _status_values() -> set[str]:
    return {
        value
        for name, value in vars(models).items()
        if name.startswith(STATUS_PREFIXES)
        and not name.startswith(NOT_STATUSES)
        and isinstance(value, str)
    }


def status_literals(source: str, filename: str, statuses: set[str]) -> list[str]:
    """Every string constant equal to a status value, as "file:line: 'value'"; docstrings and
    the audit trail's action names (`action="cancelled"`) are prose, not statuses."""
    tree = ast.parse(source, filename)
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))
        if isinstance(node, ast.keyword) and node.arg == "action":
            skip.add(id(node.value))
    return [
        f"{filename}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in statuses
        and id(node) not in skip
    ]


def _sources(folder: Path) -> list[tuple[str, str]]:
    return [(p.read_text(), str(p.relative_to(ROOT))) for p in sorted(folder.rglob("*.py"))]


def test_no_status_is_assigned_outside_audit() -> None:
    found = [
        hit
        for source, name in _sources(APP)
        if name != str(AUDIT.relative_to(ROOT))
        for hit in status_assignments(source, name)
    ]
    assert found == [], "change a status through audit.change_status, not at " + ", ".join(found)


def test_no_status_is_spelled_as_a_string_in_the_domain() -> None:
    statuses = _status_values()
    found = [
        hit
        for source, name in _sources(APP / "domain")
        for hit in status_literals(source, name, statuses)
    ]
    assert found == [], "use the constant from models.py at " + ", ".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "booking.status = 'expired'",
        "booking.status: str = BOOKING_EXPIRED",
        "row.attempts, row.status = 1, EVENT_FAILED",
        "setattr(payment, 'status', PAYMENT_PAID)",
        "db.exec(update(Payment).values(status=PAYMENT_EXPIRED))",
    ],
)
def test_the_assignment_scan_sees_each_way_of_assigning(line: str) -> None:
    assert status_assignments(f"x = 1\n{line}\n", "efoy_app/x.py") == ["efoy_app/x.py:2"]


def test_the_assignment_scan_lets_a_row_be_created_with_a_status() -> None:
    source = (
        "row = Payment(status=PAYMENT_PENDING)\nif row.status == PAYMENT_PAID:\n    pass\n"
        "counts[row.status] = 1\ndb.execute(sqlite.insert(events).values(status=EVENT_RECEIVED))\n"
    )
    assert status_assignments(source, "efoy_app/x.py") == []


def test_the_literal_scan_sees_a_status_but_not_prose() -> None:
    source = (
        'def f(p):\n    """A lapsed hold shows as "expired"."""\n'
        '    audit.record(db, action="cancelled")\n'
        '    return p.status == "expired"\n'
    )
    statuses = _status_values()
    assert {"expired", "cancelled", "paid", "requires_payment_method"} <= statuses
    assert status_literals(source, "efoy_app/domain/x.py", statuses) == [
        "efoy_app/domain/x.py:4: 'expired'"
    ]
