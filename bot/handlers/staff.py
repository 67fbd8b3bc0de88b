"""Staff administration from the chat: list, add, disable, change role, hand clients over."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.domain import Role
from bot.handlers.lookup import parse_client_id
from bot.menu import ADMINS, MenuCommand
from bot.messaging import send
from bot.render import render
from bot.runtime import CRMContext
from db.models import StaffCreate
from db.repositories import audit
from db.repositories import clients as clients_repo
from db.repositories import staff as staff_repo

MENU = [MenuCommand("staff", ADMINS, order=80), MenuCommand("assign", ADMINS, order=81)]
NAME_MAX = 200


def _role(text: str) -> Role | None:
    try:
        return Role(text.lower())
    except ValueError:
        return None


async def staff_command(update: Update, context: CRMContext) -> None:
    """/staff [add|disable|role …] — for administrators."""
    t = context.t
    if context.me.role != Role.ADMIN:
        await send(update, t("access.admins_only"))
        return
    args = context.args or []
    if not args:
        people = await staff_repo.list_all(context.session)
        await send(update, render("staff_list", context.lang, staff=people))
        return
    action, rest = args[0].lower(), args[1:]
    if action not in ("add", "disable", "role") or not rest:
        await send(update, t("staff.usage"))
        return
    if not rest[0].isdigit():
        await send(update, t("staff.bad_id"))
        return
    telegram_id = int(rest[0])
    actor = {"actor": "staff", "actor_staff_id": context.me.id}
    session = context.session
    if action == "add":
        if len(rest) < 3:
            await send(update, t("staff.usage"))
            return
        role = _role(rest[1])
        if role is None:
            await send(update, t("staff.bad_role", role=rest[1]))
            return
        name = " ".join(rest[2:]).strip()[:NAME_MAX]
        data = StaffCreate(telegram_id=telegram_id, role=role, name=name, team=context.me.team)
        person = await staff_repo.add(session, data=data, **actor)
        await context.commit()
        context.services.staff.forget(telegram_id)
        await send(update, t("staff.added", name=person.name, role=t(f"role.{role}")))
        return
    person = await staff_repo.get_by_telegram_id(session, telegram_id=telegram_id)
    if person is None:
        await send(update, t("staff.unknown", telegram_id=telegram_id))
        return
    if action == "disable":
        try:
            await staff_repo.disable(session, telegram_id=telegram_id, **actor)
        except staff_repo.StaffError:
            await send(update, t("staff.last_admin"))
            return
        await context.commit()
        context.services.staff.forget(telegram_id)
        await send(update, t("staff.disabled", name=person.name))
        return
    role = _role(rest[1]) if len(rest) > 1 else None
    if role is None:
        await send(update, t("staff.bad_role", role=rest[1] if len(rest) > 1 else ""))
        return
    await staff_repo.update(session, staff=person, role=role, **actor)
    await context.commit()
    context.services.staff.forget(telegram_id)
    await send(update, t("staff.role_changed", name=person.name, role=t(f"role.{role}")))


async def assign_command(update: Update, context: CRMContext) -> None:
    """/assign CLIENT_ID TELEGRAM_ID — hand a client to another staff member."""
    t = context.t
    if context.me.role != Role.ADMIN:
        await send(update, t("access.admins_only"))
        return
    args = context.args or []
    client_id = parse_client_id(args[0]) if args else None
    if client_id is None or len(args) != 2 or not args[1].isdigit():
        await send(update, t("staff.assign_usage"))
        return
    session = context.session
    client = await clients_repo.get_in_scope(session, client_id=client_id, scope=context.scope)
    if client is None:
        await send(update, t("errors.not_found", ref=f"#{client_id}"))
        return
    owner = await staff_repo.get_active(session, telegram_id=int(args[1]))
    if owner is None:
        await send(update, t("staff.assign_not_manager"))
        return
    before = client.owner_id
    client.owner_id = owner.id
    session.add(client)
    audit.record(
        session,
        actor="staff",
        staff_id=context.me.id,
        action="assign",
        entity="client",
        entity_id=client.id,
        client_id=client.id,
        before={"owner_id": before},
        after={"owner_id": owner.id},
    )
    await context.commit()
    await send(update, t("staff.assigned", client=f"#{client.id}", name=owner.name))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("staff", staff_command))
    app.add_handler(CommandHandler("assign", assign_command))
