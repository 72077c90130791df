"""Configuration: names checked against the vocabularies, partial tables, overrides, show, docs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from click.testing import CliRunner

from prospector._compat import tomllib
from prospector.cli.main import cli
from prospector.config import (
    Config,
    config_reference,
    config_to_dict,
    config_to_toml,
    load_config,
)
from prospector.errors import ConfigError

DOCS = Path(__file__).parents[1] / "docs"

# The documented defaults, written out by hand (not read from the code under test).
GROUP_DEFAULTS = {
    "ree": 1.0,
    "battery": 1.0,
    "pgm": 1.0,
    "base": 0.8,
    "precious": 0.7,
    "energy": 0.8,
    "specialty": 0.8,
    "fertilizer": 0.8,
    "industrial": 0.3,
    "bulk": 0.02,
}


def problems_of(source) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(source)
    return str(exc.value)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"score": {"access_weights": {"roads": 0.5}}},
            "score.access_weights: unknown access criterion 'roads'. Did you mean 'road'?",
        ),
        (
            {"value": {"group_weights": {"batery": 1}}},
            "value.group_weights: unknown commodity group 'batery'. Did you mean 'battery'?",
        ),
        (
            {"value": {"commodity_weights": {"lithum": 2}}},
            "value.commodity_weights: unknown commodity 'lithum'. Did you mean 'lithium'?",
        ),
        (  # a published alias points at its canonical name
            {"value": {"commodity_weights": {"Li": 2}}},
            "value.commodity_weights: unknown commodity 'Li'. Did you mean 'lithium'?",
        ),
        (
            {"value": {"status_weights": {"producing": 1}}},
            "value.status_weights: unknown development status 'producing'. "
            "Did you mean 'producer'?",
        ),
        (
            {"access": {"decay_km": {"rails": 20}}},
            "access.decay_km: unknown kind of infrastructure 'rails'. Did you mean 'rail'?",
        ),
        (
            {"score": {"weights": {"evidense": 0.2}}},
            "score.weights: unknown criterion family 'evidense'. Did you mean 'evidence'?",
        ),
        ({"open_agencies": ["BLM", "USFSS"]}, "open_agencies: unknown agency 'USFSS'."),
    ],
)
def test_unknown_names_in_tables_are_errors(data, message):
    assert message in problems_of(data)


def test_every_problem_of_a_file_at_once(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "[score.access_weights]\nroads = 0.5\n[value.group_weights]\nbatery = 1\n"
        "[value.commodity_weights]\nlithum = 2\n"
    )
    text = problems_of(path)
    assert text.startswith(f"invalid configuration in {path}:")
    assert "'roads'" in text and "'batery'" in text and "'lithum'" in text


def test_cli_exits_2_with_did_you_mean(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[value.group_weights]\nbatery = 1\n")
    from tests.test_cli import run

    code, out, err = run(["config", "show", "--config", str(path)])
    assert code == 2 and out == ""
    assert "Did you mean 'battery'?" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"list_year": "2025"}, "list_year must be a whole number; got '2025'"),
        ({"list_year": 2024}, "list_year must be one of 2018, 2022, 2025"),
        ({"open_agencies": "BLM"}, "open_agencies must be a list of names (strings)"),
        ({"access": {"travel_cost": "yes"}}, "access.travel_cost must be true or false"),
        ({"parcels": {"cell_m": "1 mile"}}, "parcels.cell_m must be a number; got '1 mile'"),
        ({"parcels": {"cell_m": 0}}, "parcels.cell_m must be a positive number; got 0.0"),
        ({"value": {"group_weights": 1.0}}, "value.group_weights must be a table of names"),
        ({"score": 3}, "score must be a table; got 3"),
        ({"work_crs": "EPSG:4326"}, "work_crs: 'EPSG:4326' is not a projected CRS in metres"),
        ({"work_crs": "EPSG:99999999"}, "work_crs: 'EPSG:99999999' is not a coordinate"),
        ({"access": {"min_raster_coverage": 1.5}}, "must be a share in [0, 1]; got 1.5"),
        ({"score": {"status": "opn"}}, "Did you mean 'open'?"),
    ],
)
def test_wrong_types_and_values(data, message):
    assert message in problems_of(data)


def test_unreadable_config_files(tmp_path):
    assert "is a folder; give a TOML config file" in problems_of(tmp_path)
    binary = tmp_path / "c.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    assert f"{binary} is not a config file: byte 0 is not UTF-8 text" in problems_of(binary)
    assert "config file not found" in problems_of(tmp_path / "none.toml")


# --------------------------------------------------------------------------- partial tables


def test_partial_table_overrides_only_its_keys():
    config = load_config({"value": {"group_weights": {"battery": 0.5}}})
    assert config.value.group_weights == {**GROUP_DEFAULTS, "battery": 0.5}
    weights = load_config({"score": {"weights": {"value": 1.0}}}).score.weights
    assert weights == {"value": 1.0, "access": 0.25, "evidence": 0.15}
    decay = load_config({"access": {"decay_km": {"road": 2.0}}}).access.decay_km
    assert decay == {"road": 2.0, "rail": 30.0, "power": 15.0}
    # The defaults themselves are untouched (no shared tables).
    assert Config().value.group_weights == GROUP_DEFAULTS


def test_partial_group_table_keeps_the_ranking_of_other_groups():
    from prospector.analysis.value import deposit_weights
    from prospector.schema.commodities import load_vocabulary
    from tests.test_value import _sites

    sites = _sites([["copper"], ["lithium"]], ["producer", "producer"], [(0, 0), (9, 0)])
    config = load_config({"value": {"group_weights": {"battery": 0.5}}}).value
    weights = deposit_weights(sites, load_vocabulary(2025), config)
    # Copper keeps base 0.8 (a replacing table would have set it to 0); lithium 0.5.
    assert weights["weight"].tolist() == pytest.approx([0.8, 0.5])


# --------------------------------------------------------------------------- AHP, no side effects

JUDGEMENTS = {"value/access": 3, "value/evidence": 5, "access/evidence": 2}


def test_validate_has_no_side_effects():
    config = Config()
    config.score.ahp = dict(JUDGEMENTS)
    before = copy.deepcopy(config)
    assert config.validate() is config
    assert config == before
    # AHP weights come from a pure function: the principal eigenvector of the matrix
    # [[1, 3, 5], [1/3, 1, 2], [1/5, 1/2, 1]] is (0.648, 0.230, 0.122) (Saaty's example).
    family = config.score.family_weights()
    assert family == pytest.approx({"value": 0.648, "access": 0.230, "evidence": 0.122}, abs=1e-3)
    assert config == before


def test_ahp_and_weights_together_are_refused():
    text = problems_of({"score": {"ahp": JUDGEMENTS, "weights": {"value": 1.0}}})
    assert "score.ahp and score.weights are both given" in text


def test_config_does_not_import_analysis():
    import ast

    package = Path(__file__).parents[1] / "prospector" / "config"
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    ours = {m for m in imported if m.startswith("prospector")}
    assert ours and not {m for m in ours if m.startswith("prospector.analysis")}


# --------------------------------------------------------------------------- overrides


def test_overrides_are_validated_and_leave_the_original_alone():
    config = load_config(None)
    new = config.with_overrides({"score.status": "open", "value.group_weights": {"bulk": 0.0}})
    assert (new.score.status, config.score.status) == ("open", "not_closed")
    assert new.value.group_weights == {**GROUP_DEFAULTS, "bulk": 0.0}
    assert config.value.group_weights == GROUP_DEFAULTS
    with pytest.raises(ConfigError) as exc:
        config.with_overrides({"score.stauts": "open", "score.method": "wlcc"})
    text = str(exc.value)
    assert "invalid configuration in the overrides" in text
    assert "[score]: unknown key 'stauts'. Did you mean 'status'?" in text
    assert "score.method must be one of wlc, gamma, topsis, model; got 'wlcc'" in text
    with pytest.raises(ConfigError, match="unknown commodity group 'batery'"):
        config.with_overrides({"value.group_weights.batery": 1.0})
    ahp = load_config({"score": {"ahp": JUDGEMENTS}})
    with pytest.raises(ConfigError, match=r"score\.ahp is set"):
        ahp.with_overrides({"score.weights.value": 1.0})


def test_cli_status_and_method_go_through_validation(tiny_region, tmp_path):
    import json

    from tests.test_cli import run

    config = tmp_path / "km.toml"
    config.write_text("[parcels]\ncell_m = 1000.0\n")
    out = tmp_path / "run"
    args = ["rank", "--region", str(tiny_region()), "--out", str(out), "--no-map"]
    code, _, err = run([*args, "--config", str(config), "--status", "any", "--method", "topsis"])
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["score"]["status"] == "any"
    assert manifest["config"]["score"]["method"] == "topsis"
    assert manifest["config"]["parcels"]["cell_m"] == 1000.0


# --------------------------------------------------------------------------- show and docs


def test_show_prints_the_effective_configuration_as_toml(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        'work_crs = "EPSG:5070"\n[value.group_weights]\nbattery = 0.5\n'
        '[score]\nahp = {"value/access" = 3, "value/evidence" = 5, "access/evidence" = 2}\n'
        '[evidence.raster_direction]\n"mag-anomaly" = "low"\n'
    )
    result = CliRunner().invoke(cli, ["config", "show", "--config", str(path)])
    assert result.exit_code == 0, result.output
    data = tomllib.loads(result.output)
    assert data["value"]["group_weights"] == {**GROUP_DEFAULTS, "battery": 0.5}
    assert data["work_crs"] == "EPSG:5070"
    assert data["score"]["ahp"] == JUDGEMENTS
    assert data["evidence"]["raster_direction"] == {"mag-anomaly": "low"}
    assert "The AHP judgements give the family weights: value = 0.6483" in result.output
    # Reading the printed TOML back gives the same configuration (AHP without the weights).
    del data["score"]["weights"]
    assert load_config(data) == load_config(path)
    defaults = CliRunner().invoke(cli, ["config", "show"])
    assert load_config(tomllib.loads(defaults.output)) == Config()
    assert "# work_crs is not set" in defaults.output


def test_toml_round_trip_of_every_value_kind():
    config = load_config(
        {"access": {"road_classes": ["primary", 'quote"d']}, "parcels": {"cell_m": 1e-3}}
    )
    back = load_config(tomllib.loads(config_to_toml(config)))
    assert back == config
    assert config_to_dict(back)["access"]["road_classes"] == ["primary", 'quote"d']


def test_docs_config_md_is_current():
    text = (DOCS / "config.md").read_text(encoding="utf-8")
    assert text == config_reference(), (
        "docs/config.md is stale: prospector config show --markdown > docs/config.md"
    )
    # Every key of every table is documented, with its default.
    for section, value in config_to_dict(Config()).items():
        keys = value if isinstance(value, dict) and section != "open_agencies" else {section: 0}
        for key in keys:
            assert f"| `{key}` |" in text, key
    assert "| `cell_m` | number | `1609.344` |" in text
    assert "Names: `ree`, `battery`, `pgm`, `specialty`, `base`, `precious`" in text


def test_markdown_reference_from_the_cli():
    result = CliRunner().invoke(cli, ["config", "show", "--markdown"])
    assert result.exit_code == 0
    assert result.output == (DOCS / "config.md").read_text(encoding="utf-8")
    bad = CliRunner().invoke(cli, ["config", "show", "--markdown", "--config", "x.toml"])
    assert bad.exit_code == 2 and "leave out --config" in bad.output


def test_example_config_loads_with_what_it_says():
    path = DOCS / "example-config.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    config = load_config(path)
    assert config.value.radius_km == raw["value"]["radius_km"] == 8.0
    assert config.value.group_weights == {**GROUP_DEFAULTS, **raw["value"]["group_weights"]}
    assert config.access.decay_km == {"road": 3.0, "rail": 30.0, "power": 15.0}
    assert config.score.status == "open"
    assert config.score.access_weights == {
        "road": 0.7,
        "rail": 0.2,
        "power": 0.1,
        "terrain": 0.0,
        "travel": 0.0,
    }


def test_with_overrides_function_takes_nested_and_dotted_keys():
    from prospector.config import with_overrides

    config = load_config(None)
    new = with_overrides(
        config,
        {"score": {"status": "open"}, "score.method": "gamma", "value.group_weights": {"bulk": 0}},
    )
    assert (new.score.status, new.score.method) == ("open", "gamma")
    assert new.value.group_weights == {**GROUP_DEFAULTS, "bulk": 0.0}
    assert isinstance(new.value.group_weights["bulk"], float)
    assert config == Config()


def test_focus_from_the_command_line():
    from prospector.config import load_config, with_focus

    base = with_focus(load_config(None), "tungsten, lithium,,")
    assert base.value.focus_commodities == ["tungsten", "lithium"]
    assert with_focus(base, None, "battery").value.focus_commodities == ["tungsten", "lithium"]
    assert with_focus(base, "").value.focus_commodities == []  # '' clears
    with pytest.raises(ConfigError, match="',,' names nothing"):
        with_focus(base, ",,")
