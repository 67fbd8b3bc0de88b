"""`crmbot run` as an operator starts it: a fresh database is migrated, then the bot polls."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.sandbox import FakeBotApi


async def test_run_migrates_and_serves(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    async with FakeBotApi() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "TELEGRAM_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=server.token,
            TELEGRAM_API_BASE_URL=server.base_url,
            DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run",
            env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            stranger = server.user(4242, "Eve", language_code="en")
            reply = await stranger.send("/start", max_wait=30)
            assert "4242" in reply.text and "staff" in reply.text
            assert server.commands(language_code="en")  # post_init set the default menu
        finally:
            process.terminate()
            output = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
    assert db.exists(), output
    assert process.returncode is not None
