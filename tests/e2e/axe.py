"""axe-core on the page a test has open: the violations a person with a disability would meet.

Only `serious` and `critical` count (WCAG AA contrast, names of controls, focusable scroll
regions...); `moderate`/`minor` are best-practice advice and are left to review. axe-core itself
comes with axe-playwright-python (requirements-dev.txt), injected into the page by `Axe().run`.
"""

from __future__ import annotations

import dataclasses

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

BLOCKING = ("serious", "critical")
_AXE = Axe()


@dataclasses.dataclass(frozen=True)
class Violation:
    """One failed rule on one element: enough to find and fix it from a test's output."""

    id: str
    impact: str
    target: tuple[str, ...]
    summary: str

    def __str__(self) -> str:
        return f"{self.impact} {self.id} at {' > '.join(self.target)}: {self.summary}"


SETTLED = "() => document.getAnimations().every(a => a.playState !== 'running')"


def serious_violations(page: Page, *within: str) -> list[Violation]:
    """axe-core's serious and critical violations on `page` (or only inside the `within`
    selectors), one per element, once no animation runs: a dialog fading in has colours
    half-way and would fail contrast at random."""
    page.wait_for_function(SETTLED)
    context = {"include": [[selector] for selector in within]} if within else None
    response = _AXE.run(page, context=context).response
    found: list[Violation] = []
    for rule in response["violations"]:
        if rule.get("impact") not in BLOCKING:
            continue
        for node in rule["nodes"]:
            summary = (node.get("failureSummary") or rule.get("help") or "").replace("\n", " ")
            found.append(
                Violation(
                    id=rule["id"],
                    impact=node.get("impact") or rule["impact"],
                    target=tuple(str(t) for t in node.get("target", ())),
                    summary=summary.strip(),
                )
            )
    return found


def report(violations: list[Violation]) -> str:
    """The violations one per line, for an assertion message."""
    return "\n".join(str(v) for v in violations)
