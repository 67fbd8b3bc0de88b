"""`crmbot alerts send-now` and `status`, run as an operator would, against the loopback Bot API."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from bot.domain import Role
from bot.sandbox import FakeBotApi
from db.session import Database
from tests.alerts_support import at_risk_client, ledger
from tests.factories import make_staff


async def crmbot(*args: str, url: str, **env: str) -> tuple[int, str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "TELEGRAM_"))}
    environment.update({"DATABASE_URL": url, "COLUMNS": "160", **env})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        env=environment, cwd=Path(url.removeprefix("sqlite+aiosqlite:///")).parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_send_now_twice_at_once_then_status(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    async with database.session() as s:
        people = [
            await make_staff(s, telegram_id=700 + i, name=f"Менеджер {i}", team="north")
            for i in range(6)
        ]
        boss = await make_staff(s, telegram_id=799, name="Boss", role=Role.SUPERVISOR)
        for person in people[:5]:
            await at_risk_client(s, person.id)
    async with FakeBotApi() as server:
        for person in [*people, boss]:
            server.user(person.telegram_id, person.name)
        server.block_chat(people[4].telegram_id)
        env = {"TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_BASE_URL": server.base_url}
        # Two operators (or a cron job and an operator) at the same moment: one digest each.
        results = await asyncio.gather(
            crmbot("alerts", "send-now", url=sqlite_url, **env),
            crmbot("alerts", "send-now", url=sqlite_url, **env),
        )
        for code, out, err in results:
            assert code == 0, err
            # 7 due, or 6 when the other run had already found the blocked person out.
            assert re.match(r"Due [67]: ", out), out
        totals = {
            what: sum(int(re.search(rf"{what} (\d+)", out)[1]) for _, out, _ in results)  # type: ignore[index]
            for what in ("sent", "blocked", "nothing new")
        }
        assert totals == {"sent": 5, "blocked": 1, "nothing new": 1}
        for person in people[:4]:
            assert len(server.messages(person.telegram_id)) == 1
        assert len(server.messages(boss.telegram_id)) == 1
        assert server.messages(people[5].telegram_id) == []  # nothing at risk
    rows = await ledger(database)
    await database.dispose()
    assert sorted(r.status for r in rows) == ["blocked"] + ["sent"] * 5 + ["skipped"]
    when = f"{rows[0].day:%Y-%m-%d}"
    code, out, err = await crmbot("alerts", "status", "--date", when, url=sqlite_url)
    assert code == 0, err
    assert f"Digests of {when}: sent 5, skipped 1, pending 0, failed 0, blocked 1." in out
    assert "Менеджер 4" in out and "bot was blocked" in out
    assert "Blocked the bot (1): Менеджер 4 (704)" in out


async def test_send_now_needs_a_token_and_a_good_date(sqlite_url: str) -> None:
    code, _, err = await crmbot("alerts", "send-now", url=sqlite_url)
    assert code == 2 and err.startswith("TELEGRAM_BOT_TOKEN:")
    token = {"TELEGRAM_BOT_TOKEN": "123:ABCDEFGH"}
    code, _, err = await crmbot(
        "alerts", "send-now", "--date", "20.11.2026", url=sqlite_url, **token
    )
    assert code == 2 and "--date: expected YYYY-MM-DD" in err and "Traceback" not in err


async def test_send_now_weekly_sends_the_weeks_summary_once_then_status(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    async with database.session() as s:
        manager = await make_staff(s, telegram_id=801, name="Менеджер", team="north")
        boss = await make_staff(s, telegram_id=802, name="Boss", role=Role.SUPERVISOR, team="north")
        gone = await make_staff(s, telegram_id=803, name="Gone", role=Role.SUPERVISOR)
        await at_risk_client(s, manager.id)
    async with FakeBotApi() as server:
        for person in (manager, boss, gone):
            server.user(person.telegram_id, person.name)
        server.block_chat(gone.telegram_id)
        env = {"TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_BASE_URL": server.base_url}
        week = ("alerts", "send-now", "--weekly", "--date", "2026-11-25")  # a Wednesday
        code, out, err = await crmbot(*week, url=sqlite_url, **env)
        assert code == 0, err
        assert out.startswith("Due 2: sent 1, nothing new 0, blocked 1, failed 0"), out
        code, out, err = await crmbot(*week, url=sqlite_url, **env)
        assert code == 0 and out.startswith("Due 1: sent 0") and "already done 1" in out, out
        text, chart = server.messages(boss.telegram_id)
        assert text.content.startswith("🗓 Итоги недели: 16–22 нояб. 2026\u202fг.")
        assert chart.photo is not None
        assert server.messages(manager.telegram_id) == []  # managers get no weekly summary
    rows = await ledger(database)
    await database.dispose()
    assert sorted((r.kind, f"{r.day}", r.status) for r in rows) == [
        ("weekly", "2026-11-23", "blocked"),
        ("weekly", "2026-11-23", "sent"),
    ]
    code, out, err = await crmbot("alerts", "status", "--date", "2026-11-25", url=sqlite_url)
    assert code == 0, err
    assert "Digests of 2026-11-25: sent 0, skipped 0, pending 0, failed 0, blocked 0." in out
    assert (
        "Weekly summaries of the week of 2026-11-23: sent 1, skipped 0, pending 0, failed 0, "
        "blocked 1." in out
    )
    assert re.search(r"weekly\s+│\s+Gone\s+│\s+803\s+│\s+blocked", out), out
