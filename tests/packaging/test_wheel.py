"""A plain (non-editable) install carries templates, translations and migrations."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_data_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        cwd=tmp_path,
    )  # fmt: skip
    wheel = next(tmp_path.glob("crm_assistant-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "templates/locales/ru/common.toml",
        "templates/locales/en/lookup.toml",
        "templates/messages/card.html.j2",
        "db/migrations/env.py",
        "db/migrations/script.py.mako",
        "db/migrations/versions/0001_initial_schema.py",
        "bot/cli.py",
    }
    assert expected <= names, expected - names
    assert not any(n.startswith("tests/") for n in names)
