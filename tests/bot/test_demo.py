"""`crmbot demo` without a terminal: seeds, greets, finds a client by a typo, opens the card."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo import run_demo


async def test_demo_tour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await run_demo(tmp_path / "demo.db", clients=60, interactive=False)
    out = capsys.readouterr().out
    assert "Seeding a demo database with 60 clients" in out
    assert "Здравствуйте, " in out and "Вы вошли как менеджер" in out
    assert "Ответственный:" in out  # a card was opened
    await run_demo(tmp_path / "demo.db", clients=60, interactive=False)
    assert "Seeding" not in capsys.readouterr().out  # the demo file is reused
