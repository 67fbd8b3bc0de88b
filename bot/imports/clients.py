"""Importing clients: upsert on external id, else phone, else e-mail, in bulk.

Every import writes one summarising audit row; per-row audit is deliberately not written (at
100k rows it would double the work and flood the log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ClientStatus
from bot.imports.columns import CLIENTS
from bot.imports.pipeline import Source, from_path, run_import
from bot.imports.report import ImportReport
from bot.imports.store import CLIENT, Progress, execute_many, insert_returning_ids, staff_ids
from bot.imports.values import Memo, RowProblem, checked, parse_telegram_id, text
from bot.normalize import (
    clean_text,
    normalize_email,
    normalize_phone,
    normalize_tax_id,
    parse_tags,
)
from db.repositories import search
from db.session import Database
from db.types import utcnow

NAME_MAX = 300
EXTERNAL_ID_MAX = 100
TAX_ID_MAX = 20
EMAIL_MAX = 254

# Compared with the database to tell "updated" from "unchanged"; also what the UPDATE sets.
COMPARED = (
    "name",
    "company",
    "phone",
    "email",
    "tax_id",
    "external_id",
    "owner_id",
    "tags",
    "referred_by_id",
)
# Filled from the file when the cell is not empty; an empty cell never erases stored data.
OVERWRITTEN = ("name", "company", "phone", "email", "tax_id", "external_id")


@dataclass(slots=True)
class ClientRow:
    line: int
    values: dict[str, Any]
    tags: list[str]
    owner_telegram_id: int | None
    referred_by: str | None


@dataclass(slots=True)
class Entity:
    """One client the file is about: existing (`id` set, `stored` loaded) or to be created."""

    values: dict[str, Any]
    id: int | None = None
    stored: dict[str, Any] | None = None
    referrer: tuple[str, int] | None = None  # (external id, line) from the last row naming one


def _one_line(raw: str | None) -> str:
    # Names come from multi-line cells and padded exports; one space between words reads right.
    return " ".join(clean_text(raw, NAME_MAX * 2).split())[:NAME_MAX] if raw else ""


def _keyless(name: str, company: str | None) -> tuple[str, str]:
    return name.casefold(), (company or "").casefold()


class _Parser:
    """Turns cells into normalised values; caches the costly phone parsing per raw string."""

    def __init__(self) -> None:
        self.phone = Memo(normalize_phone)
        self.email = Memo(normalize_email)
        self.telegram_id = Memo(parse_telegram_id)

    def row(self, line: int, cells: tuple[Any, ...]) -> ClientRow:
        external, name, company, phone, email, tax_id, owner, tags, referred_by = map(text, cells)
        name = _one_line(name)
        if not name:
            raise RowProblem("missing_name")
        if external is not None and len(external) > EXTERNAL_ID_MAX:
            raise RowProblem("external_id", external)
        values: dict[str, Any] = {
            "external_id": external,
            "name": name,
            "company": _one_line(company) or None,
            "phone": checked(self.phone, phone, "phone"),
            "email": checked(self.email, email, "email"),
            "tax_id": normalize_tax_id(tax_id),
        }
        if values["email"] is not None and len(values["email"]) > EMAIL_MAX:
            raise RowProblem("email", email)
        if values["tax_id"] is not None and len(values["tax_id"]) > TAX_ID_MAX:
            raise RowProblem("tax_id", tax_id)
        owner_id = checked(self.telegram_id, owner, "owner")
        return ClientRow(line, values, parse_tags(tags), owner_id, referred_by)


class _Matcher:
    """Maps rows to entities: file keys first (duplicates merge), then the database's."""

    def __init__(self, stored: dict[int, dict[str, Any]]) -> None:
        self.stored = stored
        self.db_external: dict[str, int] = {}
        self.db_phone: dict[str, int] = {}
        self.db_email: dict[str, int] = {}
        self.db_keyless: dict[tuple[str, str], int] = {}
        for client_id in sorted(stored):
            row = stored[client_id]
            if row["external_id"] is not None:
                self.db_external[row["external_id"]] = client_id
            if row["phone"] is not None:
                self.db_phone.setdefault(row["phone"], client_id)
            if row["email"] is not None:
                # Lower-cased on the way in everywhere, but a hand-edited row may not be.
                self.db_email.setdefault(row["email"].lower(), client_id)
            if row["external_id"] is None and row["phone"] is None and row["email"] is None:
                self.db_keyless.setdefault(_keyless(row["name"], row["company"]), client_id)
        self.external: dict[str, Entity] = {}
        self.phone: dict[str, Entity] = {}
        self.email: dict[str, Entity] = {}
        self.keyless: dict[tuple[str, str], Entity] = {}
        self.by_id: dict[int, Entity] = {}
        self.entities: list[Entity] = []

    def _existing(self, client_id: int | None) -> Entity | None:
        if client_id is None:
            return None
        entity = self.by_id.get(client_id)
        if entity is None:
            stored = self.stored[client_id]
            entity = Entity(values=dict(stored), id=client_id, stored=stored)
            self.by_id[client_id] = entity
            self.entities.append(entity)
        return entity

    def _current(self, client_id: int | None) -> dict[str, Any] | None:
        """A stored client's values as this file has left them so far, without claiming it."""
        if client_id is None:
            return None
        entity = self.by_id.get(client_id)
        return entity.values if entity is not None else self.stored[client_id]

    def find(self, row: ClientRow) -> Entity | None:
        values = row.values
        external = values["external_id"]
        if external is not None:
            found = self.external.get(external) or self._existing(self.db_external.get(external))
            if found is not None:
                return found
        for key, in_file, in_db in (
            (values["phone"], self.phone, self.db_phone),
            (values["email"], self.email, self.db_email),
        ):
            if key is None:
                continue
            found = in_file.get(key)
            client_id = None if found is not None else in_db.get(key)
            current = found.values if found is not None else self._current(client_id)
            # A client known under another external id is someone else sharing a phone/e-mail.
            if current is not None and (external is None or current["external_id"] is None):
                return found or self._existing(client_id)
        if external is None and values["phone"] is None and values["email"] is None:
            # No key at all: the same name and company is the only way to stay idempotent.
            key = _keyless(values["name"], values["company"])
            return self.keyless.get(key) or self._existing(self.db_keyless.get(key))
        return None

    def add(self, row: ClientRow, owner_id: int | None) -> None:
        entity = self.find(row)
        if entity is None:
            entity = Entity(values={name: None for name in COMPARED} | {"tags": []})
            self.entities.append(entity)
        values = entity.values
        for name in OVERWRITTEN:
            if row.values[name] is not None:
                values[name] = row.values[name]
        if owner_id is not None:
            values["owner_id"] = owner_id
        if row.tags:
            # Imports add tags and never remove ones staff set in the bot.
            values["tags"] = list(dict.fromkeys([*values["tags"], *row.tags]))
        if row.referred_by is not None:
            entity.referrer = (row.referred_by, row.line)
        self._register(entity)

    def _register(self, entity: Entity) -> None:
        values = entity.values
        if values["external_id"] is not None:
            self.external[values["external_id"]] = entity
        if values["phone"] is not None:
            self.phone.setdefault(values["phone"], entity)
        if values["email"] is not None:
            self.email.setdefault(values["email"], entity)
        if values["external_id"] is None and values["phone"] is None and values["email"] is None:
            self.keyless.setdefault(_keyless(values["name"], values["company"]), entity)

    def referrer_id(self, external: str) -> int | None:
        entity = self.external.get(external)
        if entity is not None:
            return entity.id
        return self.db_external.get(external)


async def _load_stored(conn: AsyncConnection) -> dict[int, dict[str, Any]]:
    columns = [CLIENT.c[name] for name in COMPARED]
    result = await conn.execute(select(CLIENT.c.id, *columns))
    return {row[0]: dict(zip(COMPARED, row[1:], strict=True)) for row in result}


def _resolve_referrers(matcher: _Matcher, report: ImportReport) -> None:
    for entity in matcher.entities:
        if entity.referrer is None:
            continue
        external, line = entity.referrer
        referrer_id = matcher.referrer_id(external)
        if referrer_id is None:
            report.warn(line, "referrer_unknown", external)
        elif referrer_id == entity.id:
            report.warn(line, "referrer_self", external)
        else:
            entity.values["referred_by_id"] = referrer_id


async def _match(conn: AsyncConnection, rows: list[ClientRow], report: ImportReport) -> _Matcher:
    """Resolve owners (one query) and fold every good row into its entity."""
    owners = await staff_ids(conn, {r.owner_telegram_id for r in rows if r.owner_telegram_id})
    matcher = _Matcher(await _load_stored(conn))
    for row in rows:
        owner_id = None
        if row.owner_telegram_id is not None:
            owner_id = owners.get(row.owner_telegram_id)
            if owner_id is None:
                report.skip(row.line, "owner", row.owner_telegram_id)
                continue
        matcher.add(row, owner_id)
    return matcher


async def _insert_new(conn: AsyncConnection, matcher: _Matcher, now: datetime) -> list[Entity]:
    """Bulk INSERT the new clients and give each entity its id."""
    new = [e for e in matcher.entities if e.id is None]
    # Referrers that already exist go into the INSERT; new ones are set once they have ids.
    for entity in new:
        if entity.referrer is not None:
            entity.values["referred_by_id"] = matcher.referrer_id(entity.referrer[0])
    inserted = [
        entity.values | {"status": ClientStatus.ACTIVE, "created_at": now, "updated_at": now}
        for entity in new
    ]
    new_ids = await insert_returning_ids(conn, CLIENT, inserted, check="name")
    for entity, new_id in zip(new, new_ids, strict=True):
        entity.id = new_id
    return new


def _update_by_id(columns: tuple[str, ...], **fixed: Any) -> Any:
    """An UPDATE for executemany: parameters v_id and v_<column>; `fixed` is the same for all."""
    values = {name: bindparam(f"v_{name}") for name in columns}
    return update(CLIENT).where(CLIENT.c.id == bindparam("v_id")).values({**values, **fixed})


def _is_changed(entity: Entity) -> bool:
    stored = entity.stored or {}
    return any(entity.values[name] != stored.get(name) for name in COMPARED)


async def _write(conn: AsyncConnection, rows: list[ClientRow], report: ImportReport) -> None:
    matcher = await _match(conn, rows, report)
    now = utcnow()
    new = await _insert_new(conn, matcher, now)
    inserted_referrals = {e.id: e.values["referred_by_id"] for e in new}
    _resolve_referrers(matcher, report)

    existing = [e for e in matcher.entities if e.stored is not None]
    changed = [e for e in existing if _is_changed(e)]
    await execute_many(
        conn,
        _update_by_id(COMPARED, updated_at=now),
        [{"v_id": e.id} | {f"v_{n}": e.values[n] for n in COMPARED} for e in changed],
    )
    # The second pass: referrals to clients created by this very file.
    await execute_many(
        conn,
        _update_by_id(("referred_by_id",)),
        [
            {"v_id": e.id, "v_referred_by_id": e.values["referred_by_id"]}
            for e in new
            if e.values["referred_by_id"] != inserted_referrals[e.id]
        ],
    )
    report.created = len(new)
    report.updated = len(changed)
    report.unchanged = len(existing) - len(changed)
    report.client_ids = {e.id for e in [*new, *changed] if e.id is not None}


async def import_clients_data(
    database: Database,
    data: Source,
    filename: str,
    *,
    actor: str = "cli",
    actor_staff_id: int | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import clients from an uploaded file: bytes or a binary stream, plus its name."""
    return await run_import(
        database,
        data,
        filename,
        spec=CLIENTS,
        entity="client",
        parse_row=_Parser().row,
        write=_write,
        actor=actor,
        actor_staff_id=actor_staff_id,
        progress=progress,
        after_write=_reindex,
    )


async def _reindex(session: AsyncSession, report: ImportReport) -> None:
    """New and changed clients become findable in the same transaction."""
    if report.client_ids:
        await search.reindex(session, report.client_ids)


import_clients = from_path(import_clients_data)
