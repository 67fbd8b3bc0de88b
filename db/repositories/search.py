"""The client search index: rebuilding it set-wise and answering lookups within a scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import ColumnElement, Select, bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.search_terms import COMPANY, FUZZY_FIELDS, NAME, Query, client_terms
from db.models import Client, ClientSearch
from db.repositories.scope import Scope, clients_bound

CHUNK = 900  # below SQLite's and asyncpg's bind-parameter limits with room to spare
INSERT_BATCH = 20_000
ROW_CAP = 5_000  # a one-letter prefix must not drag the whole index into memory
FIELD_BONUS = {NAME: 0.5, COMPANY: 0.3}


def _chunks(items: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def reindex(
    db: AsyncSession | AsyncConnection, client_ids: Collection[int] | None = None
) -> int:
    """Rebuild the terms of the given clients (all when None); returns rows written."""
    conn = await db.connection() if isinstance(db, AsyncSession) else db
    fields = select(
        Client.id, Client.name, Client.company, Client.phone, Client.email, Client.tax_id,
        Client.tags,
    )  # fmt: skip
    table = ClientSearch.__table__  # type: ignore[attr-defined]
    if client_ids is None:
        await conn.execute(delete(table))
        results = [await conn.execute(fields)]
    else:
        ids = sorted(set(client_ids))
        results = []
        for chunk in _chunks(ids):
            await conn.execute(delete(table).where(table.c.client_id.in_(chunk)))
            results.append(await conn.execute(fields.where(col(Client.id).in_(chunk))))
    written = 0
    batch: list[dict[str, Any]] = []
    for result in results:
        for cid, name, company, phone, email, tax_id, tags in result:
            terms = client_terms(
                name=name, company=company, phone=phone, email=email, tax_id=tax_id, tags=tags
            )
            batch.extend({"client_id": cid, "term": t, "field": f} for t, f in terms)
            if len(batch) >= INSERT_BATCH:
                await conn.execute(insert(table), batch)
                written += len(batch)
                batch = []
    if batch:
        await conn.execute(insert(table), batch)
        written += len(batch)
    return written


class _Vocabulary:
    """Distinct name/company/tag terms, cached per database until the index changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, list[str]]] = {}

    async def terms(self, session: AsyncSession) -> list[str]:
        conn = await session.connection()
        key = str(conn.engine.url)
        version = (await conn.execute(select(func.max(ClientSearch.id)))).scalar() or 0
        cached = self._cache.get(key)
        if cached and cached[0] == version:
            return cached[1]
        stmt = select(ClientSearch.term).where(col(ClientSearch.field).in_(FUZZY_FIELDS)).distinct()
        terms = list((await conn.execute(stmt)).scalars())
        self._cache[key] = (version, terms)
        return terms

    def clear(self) -> None:
        self._cache.clear()


vocabulary = _Vocabulary()


def fuzzy_terms(word: str, vocab: list[str], *, cutoff: float, limit: int = 8) -> dict[str, float]:
    """Terms within typo distance of `word`, with a 0–1 similarity."""
    if len(word) < 3:
        return {}
    # Short words need a stricter match: one wrong letter in four is a different word.
    cutoff = max(cutoff, 85.0) if len(word) <= 4 else cutoff
    found = process.extract(word, vocab, scorer=fuzz.ratio, limit=limit, score_cutoff=cutoff)
    return {term: score / 100 for term, score, _ in found}


def _scoped(stmt: Select[Any], shape: str) -> Select[Any]:
    if shape == "all":
        return stmt  # no join at all: the cheapest plan for admins over the whole base
    join = col(Client.id) == col(ClientSearch.client_id)
    return stmt.join(Client, join).where(clients_bound(shape))


def _matching(kind: str) -> ColumnElement[bool]:
    term = col(ClientSearch.term)
    if kind == "prefix":
        return (term >= bindparam("lo")) & (term < bindparam("hi"))
    return term.in_(bindparam("terms", expanding=True))


@cache
def _statement(purpose: str, kind: str, shape: str) -> Select[Any]:
    """Search statements, built once per shape: a lookup runs several, and building them cost
    more than running them on the index."""
    if purpose == "count":  # how many index rows match, counted up to the cap
        inner = _scoped(select(ClientSearch.id).where(_matching(kind)), shape)
        return select(func.count()).select_from(inner.limit(ROW_CAP).subquery())
    base = select(ClientSearch.client_id, ClientSearch.term, ClientSearch.field)
    base = base.where(_matching(kind))
    if purpose == "rows":
        return _scoped(base, shape).limit(ROW_CAP)
    # "among": only the clients an earlier (rarer) word found, already known to be in scope
    return base.where(col(ClientSearch.client_id).in_(bindparam("among", expanding=True)))


@dataclass(frozen=True)
class _Word:
    """One query word as a condition on terms, with the score each matching term earns."""

    kind: str  # "prefix" or "terms"
    params: dict[str, Any]
    word: str | None = None  # prefix match: the exact term scores higher
    weights: dict[str, float] | None = None  # typo candidates or exact ids: per-term scores

    def score(self, term: str, field: str) -> float:
        if self.weights is not None:
            base = self.weights.get(term, 0.0)
        else:
            base = 2.0 if term == self.word else 1.0
        return base + FIELD_BONUS.get(field, 0.0)


def _prefix(word: str) -> _Word:
    return _Word("prefix", {"lo": word, "hi": word + "\uffff"}, word=word)


def _terms(weights: dict[str, float]) -> _Word:
    return _Word("terms", {"terms": list(weights)}, weights=weights)


async def _count(conn: AsyncConnection, scope: Scope, word: _Word) -> int:
    stmt = _statement("count", word.kind, scope.shape)
    result = await conn.execute(stmt, {**word.params, **scope.params()})
    return int(result.scalar() or 0)


async def _rows(
    conn: AsyncConnection, scope: Scope, word: _Word, among: Sequence[int] | None
) -> list[tuple[int, str, str]]:
    if among is None:
        stmt = _statement("rows", word.kind, scope.shape)
        result = await conn.execute(stmt, {**word.params, **scope.params()})
        return [tuple(r) for r in result]  # type: ignore[misc]
    out: list[tuple[int, str, str]] = []
    stmt = _statement("among", word.kind, "all")
    for chunk in _chunks(among):
        result = await conn.execute(stmt, {**word.params, "among": list(chunk)})
        out.extend(tuple(r) for r in result)  # type: ignore[misc]
    return out


def _best(rows: list[tuple[int, str, str]], word: _Word) -> dict[int, float]:
    best: dict[int, float] = {}
    for cid, term, field in rows:
        best[cid] = max(best.get(cid, 0.0), word.score(term, field))
    return best


@dataclass(frozen=True)
class Hit:
    client_id: int
    name: str
    company: str | None
    score: float
    fuzzy: bool


async def find(session: AsyncSession, *, query: Query, scope: Scope, limit: int = 200) -> list[Hit]:
    """Clients in scope matching the query: all words (by prefix, else by typo), or an exact id."""
    conn = await session.connection()
    words: list[tuple[_Word, int]] = []
    fuzzy_used = False
    if query.exact:
        exact = _terms(dict.fromkeys(query.exact, 3.0))
        words.append((exact, await _count(conn, scope, exact)))
    for text in query.words:
        if len(text) >= 2:
            prefix = _prefix(text)
            count = await _count(conn, scope, prefix)
            if count:
                words.append((prefix, count))
                continue
        similar = fuzzy_terms(text, await vocabulary.terms(session), cutoff=75)
        if not similar and len(text) < 2:
            similar = {text: 1.0}
        candidate = _terms({t: 1.5 * s for t, s in similar.items()})
        count = await _count(conn, scope, candidate) if similar else 0
        if not count:
            return []
        words.append((candidate, count))
        fuzzy_used = True
    if not words:
        return []
    # Start from the rarest word; the others only need checking for the clients it found.
    words.sort(key=lambda item: item[1])
    scores = _best(await _rows(conn, scope, words[0][0], None), words[0][0])
    for word, _ in words[1:]:
        if not scores:
            break
        matched = _best(await _rows(conn, scope, word, sorted(scores)), word)
        scores = {cid: s + matched[cid] for cid, s in scores.items() if cid in matched}
    if not scores:
        return []
    ranked = sorted(scores.items(), key=lambda item: -item[1])[: limit * 2]
    names = await _names(session, [cid for cid, _ in ranked])
    hits = [
        Hit(cid, names[cid][0], names[cid][1], score, fuzzy_used)
        for cid, score in ranked
        if cid in names
    ]
    hits.sort(key=lambda h: (-h.score, h.name.lower(), h.client_id))
    return hits[:limit]


_NAMES = select(Client.id, Client.name, Client.company).where(
    col(Client.id).in_(bindparam("ids", expanding=True))
)


async def _names(session: AsyncSession, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    conn = await session.connection()
    out: dict[int, tuple[str, str | None]] = {}
    for chunk in _chunks(ids):
        for cid, name, company in await conn.execute(_NAMES, {"ids": list(chunk)}):
            out[cid] = (name, company)
    return out


async def suggest(
    session: AsyncSession, *, query: Query, scope: Scope, limit: int = 3
) -> list[Hit]:
    """The closest names in scope for a search that found nothing (any word may match)."""
    vocab = await vocabulary.terms(session)
    weights: dict[str, float] = {}
    for word in query.words:
        for term, similarity in fuzzy_terms(word, vocab, cutoff=60, limit=15).items():
            weights[term] = max(weights.get(term, 0.0), similarity)
    if not weights:
        return []
    conn = await session.connection()
    rows = await _rows(conn, scope, _terms(weights), None)
    totals: dict[int, float] = defaultdict(float)
    for cid, term, _field in rows:
        totals[cid] += weights[term]
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:limit]
    names = await _names(session, [cid for cid, _ in ranked])
    return [Hit(cid, *names[cid], score, True) for cid, score in ranked if cid in names]
