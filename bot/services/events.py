"""What other capabilities need to hear about when a client's data changes.

Writers (logging, complaints, imports, sales) call `client_inputs_changed` inside their
transaction, before committing; subscribers (e.g. the strategy engine recomputing the client's
type and strategy) do their work in the same transaction, so both commit or neither does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from sqlmodel.ext.asyncio.session import AsyncSession

Subscriber = Callable[[AsyncSession, Collection[int]], Awaitable[None]]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register a coroutine run for every change (idempotent; usable as a decorator)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


async def client_inputs_changed(session: AsyncSession, client_ids: Collection[int]) -> None:
    """Tell subscribers that these clients' sales, interactions or complaints changed."""
    if not client_ids:
        return
    for subscriber in list(_subscribers):
        await subscriber(session, client_ids)
