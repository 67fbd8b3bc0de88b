"""The crmbot command line, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def crmbot(*args: str, db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "TELEGRAM_"))}
    environment.update({"DATABASE_URL": f"sqlite+aiosqlite:///{db}", "COLUMNS": "120", **env})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=db.parent,
        timeout=60,
    )


def test_staff_lifecycle(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    added = crmbot("staff", "add", "111", "--role", "admin", "--name", "Анна <Админ>", db=db)
    assert added.returncode == 0, added.stderr
    assert "can now use the bot" in added.stdout
    crmbot("staff", "add", "222", "--role", "manager", "--name", "Boris", "--team", "north", db=db)
    listed = crmbot("staff", "list", db=db)
    assert "Анна <Админ>" in listed.stdout and "Boris" in listed.stdout and "north" in listed.stdout
    last_admin = crmbot("staff", "disable", "111", db=db)
    assert last_admin.returncode == 2
    assert last_admin.stderr.strip() == "this is the last active admin; add another admin first"
    disabled = crmbot("staff", "disable", "222", db=db)
    assert disabled.returncode == 0
    unknown = crmbot("staff", "disable", "999", db=db)
    assert unknown.returncode == 2 and "no staff member" in unknown.stderr


def test_bad_configuration_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = crmbot("staff", "list", db=tmp_path / "crm.db", CRM_TIMEZONE="Nowhere/Land")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("CRM_TIMEZONE: expected an IANA time zone")
    assert "Traceback" not in result.stderr


def test_run_without_token_says_so(tmp_path: Path) -> None:
    result = crmbot("run", db=tmp_path / "crm.db")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("TELEGRAM_BOT_TOKEN:")


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    assert crmbot("db", "upgrade", db=db).returncode == 0
    again = crmbot("db", "upgrade", db=db)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_import_reports_created_updated_skipped(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    crmbot("staff", "add", "111", "--role", "manager", "--name", "Anna", db=db)
    rows = "Внешний ID;Наименование;Телефон;Ответственный\nC1;ООО «Ромашка»;8 (912) 345-67-89;111\n"
    rows += "C2;Bad phone;12;111\n"
    path = tmp_path / "clients.csv"
    path.write_bytes(rows.encode("cp1251"))
    first = crmbot("import", "clients", str(path), db=db)
    assert first.returncode == 0, first.stderr
    assert "Created 1, updated 0, unchanged 0, skipped 1" in first.stdout
    assert "line 3" in first.stdout
    again = crmbot("import", "clients", str(path), db=db)
    assert "Created 0, updated 0, unchanged 1, skipped 1" in again.stdout
    missing = crmbot("import", "clients", str(tmp_path / "nope.csv"), db=db)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_export_writes_the_clients(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    path = tmp_path / "clients.csv"
    path.write_text("name,phone,owner_telegram_id\nИванов,+79123456789,111\nПетров,,\n", "utf-8")
    crmbot("staff", "add", "111", "--role", "manager", "--name", "Anna", db=db)
    crmbot("import", "clients", str(path), db=db)
    everything = crmbot("export", "--format", "csv", "--out", str(tmp_path / "all.csv"), db=db)
    assert everything.returncode == 0, everything.stderr
    assert "Exported 2 clients" in everything.stdout
    mine = crmbot("export", "--as", "111", "--lang", "en", "--out", str(tmp_path / "m.xlsx"), db=db)
    assert "Exported 1 clients" in mine.stdout
    assert (tmp_path / "m.xlsx").read_bytes()[:2] == b"PK"
    bad = crmbot("export", "--segment", "vip", db=db)
    assert bad.returncode == 2 and bad.stderr.startswith("--segment: expected")
