"""`crmbot classify` and the classified demo data, run as a user would run them."""

from __future__ import annotations

from pathlib import Path

from tests.bot.test_cli import crmbot


def test_seed_demo_classifies_and_classify_prints_the_counts(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    seeded = crmbot("seed-demo", "--clients", "120", "--seed", "2", db=db)
    assert seeded.returncode == 0, seeded.stderr
    assert "Seeded" in seeded.stdout and "classified them in" in seeded.stdout
    result = crmbot("classify", db=db)
    assert result.returncode == 0, result.stderr
    for title in ("Client types", "Strategies", "Risk levels", "potential", "manage"):
        assert title in result.stdout
    assert "Classified 120 clients in" in result.stdout
    assert "0 type or strategy changes" in result.stdout  # seeding had classified them already


def test_a_bad_strategy_configuration_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "strategy.yaml"
    config.write_text("risk:\n  high: 500\n", encoding="utf-8")
    result = crmbot("classify", db=tmp_path / "crm.db", CRM_STRATEGY_CONFIG=str(config))
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"CRM_STRATEGY_CONFIG: {config}: risk.high:")
    assert "Traceback" not in result.stderr
