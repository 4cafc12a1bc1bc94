"""One page of ids from an ordered index, the deep ones read from its other end.

An OFFSET skips index entries one by one, so page 2 000 of 2 000 costs the whole index. When
the number of matching rows is known (the lists count first), a page in the older half is read
oldest first from the other end and turned round: no page skips more than half the entries, the
last page none. Both orders must be exact mirrors (every column reversed), so the pages are the
same rows either way.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session


def page_of_ids(
    session: Session,
    query: Any,
    *,
    newest_first: tuple[Any, ...],
    oldest_first: tuple[Any, ...],
    offset: int,
    limit: int,
    count: int | None,
) -> list[int]:
    """Rows `offset` to `offset + limit` of `query` (a select of ids) in `newest_first` order."""
    if count is None or offset <= count // 2:
        return list(session.exec(query.order_by(*newest_first).offset(offset).limit(limit)).all())
    shown = max(min(limit, count - offset), 0)
    if shown == 0:
        return []
    from_end = max(count - offset - shown, 0)
    rows = session.exec(query.order_by(*oldest_first).offset(from_end).limit(shown)).all()
    return list(reversed(rows))
