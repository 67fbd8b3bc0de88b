"""The strategy configuration file: defaults, YAML and TOML, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import ClientType, Severity
from bot.strategies.config import DEFAULT, StrategyConfigError, load_config, parse_config


def test_no_file_means_the_defaults() -> None:
    config = load_config(None)
    assert config is DEFAULT
    assert config.classification.best.min_frequency_score == 5
    assert config.risk.high == 60
    assert config.classification.worst.complaint_cost[Severity.CRITICAL] == 12_000


def test_yaml_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "strategy.yaml"
    path.write_text(
        "classification:\n"
        "  regular: {max_gap_variation: 0.4}\n"
        "  worst:\n"
        "    complaint_cost: {critical: 20000}\n"
        "risk:\n"
        "  weights: {cadence: 50}\n"
        "  no_contact_types: [best]\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.classification.regular.max_gap_variation == 0.4
    assert config.classification.regular.min_purchase_days == 5  # untouched default
    assert config.classification.worst.complaint_cost == {Severity.CRITICAL: 20_000}
    assert config.risk.weights.cadence == 50 and config.risk.weights.p_alive == 20
    assert config.risk.no_contact_types == (ClientType.BEST,)


def test_toml_works_too(tmp_path: Path) -> None:
    path = tmp_path / "strategy.toml"
    path.write_text("[risk]\nmedium = 25\nhigh = 70\n", encoding="utf-8")
    config = load_config(path)
    assert (config.risk.medium, config.risk.high) == (25, 70)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"risk": {"weights": {"cadense": 10}}}, "risk.weights.cadense: Extra inputs"),
        ({"classification": {"best": {"min_recency_score": 7}}}, "min_recency_score"),
        ({"risk": {"medium": 70, "high": 60}}, "medium must be below high"),
        ({"strategy": {"future_types": ["vip"]}}, "strategy.future_types.0"),
        ({"classification": {"alive": {"p_alive_min": "high"}}}, "p_alive_min"),
    ],
)
def test_bad_values_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(StrategyConfigError, match=message) as error:
        parse_config(data, "strategy.yaml")
    assert str(error.value).startswith("strategy.yaml: ")


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    broken = tmp_path / "strategy.yaml"
    broken.write_text("risk: [unclosed\n", encoding="utf-8")
    with pytest.raises(StrategyConfigError, match="not valid YAML"):
        load_config(broken)
    other = tmp_path / "strategy.json"
    other.write_text("{}", encoding="utf-8")
    with pytest.raises(StrategyConfigError, match=r"\.yaml, \.yml or \.toml"):
        load_config(other)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(StrategyConfigError, match="mapping of sections"):
        load_config(listed)


def test_the_documented_file_is_the_defaults() -> None:
    """docs/strategy.md lists every key with its default; keep the two in step."""
    import yaml

    doc = (Path(__file__).resolve().parents[2] / "docs" / "strategy.md").read_text(encoding="utf-8")
    block = doc.split("## The configuration file, with every default")[1]
    text = block.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert parse_config(yaml.safe_load(text)) == DEFAULT
