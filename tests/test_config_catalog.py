"""Configuration and catalogue validation: every problem at once, with suggestions."""

from __future__ import annotations

import math

import pytest

from prospector.catalog import load_catalog, load_entry, load_region
from prospector.config import Config, load_config
from prospector.errors import CatalogError, ConfigError


def test_defaults_valid():
    config = load_config(None)
    assert isinstance(config, Config)
    assert config.list_year == 2025
    assert config.parcels.cell_m == pytest.approx(1609.344)


def test_typos_get_did_you_mean(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[score]\nwieghts = {value = 1}\nmethod = "wlcc"\n[valeu]\nradius_km = 3\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    text = str(exc.value)
    assert "unknown key 'wieghts'. Did you mean 'weights'?" in text
    assert "unknown key 'valeu'. Did you mean 'value'?" in text
    assert "must be one of wlc, gamma, topsis, model; got 'wlcc'. Did you mean 'wlc'?" in text


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"value": -1.0, "access": 1.0}, "score.weights.value must be a finite number >= 0"),
        ({"value": math.nan, "access": 1.0}, "score.weights.value must be a finite number >= 0"),
        ({"value": 0.0, "access": 0.0, "evidence": 0.0}, "all weights are zero"),
        ({"value": 1.0, "acess": 1.0}, "Did you mean 'access'?"),
        ({"value": "high"}, "must be a number"),
    ],
)
def test_bad_weights(weights, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
        load_config({"score": {"weights": weights}})


def test_invalid_toml(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[score\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_catalogue_entries_all_valid():
    catalog = load_catalog()
    assert {
        "utah-minmod",
        "usgs-mrds",
        "blm-sma",
        "padus",
        "padus-gap12",
        "blm-mlrs-claims",
        "nationalatlas-wilderness",
        "naturalearth-nps",
        "tiger-roads",
        "naturalearth-railroads",
        "hifld-transmission",
        "blm-plss-sections",
        "srtm-dem",
        "nshm23-faults",
    } <= set(catalog)
    for entry in catalog.values():
        assert entry.publisher and entry.licence and entry.url
    sma = catalog["blm-sma"]
    assert sma.field_map("agency").field == "ADMIN_AGENCY_CODE"
    assert sma.field_map("agency").values["USBR"] == "BOR"


def test_bad_catalogue_entry_lists_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        'name = "bad"\ntitle = "t"\nrole = "withdrawl"\npublisher = "p"\nlicence = "l"\n'
        'url = "u"\nformat = "f"\nlicense = "typo"\n'
    )
    with pytest.raises(CatalogError) as exc:
        load_entry(path)
    text = str(exc.value)
    assert "role 'withdrawl'" in text and "Did you mean 'withdrawals'?" in text
    assert "unknown key 'license'. Did you mean 'licence'?" in text


def test_catalogue_value_mapping_checked(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text(
        'name = "x"\ntitle = "t"\nrole = "claims"\npublisher = "p"\nlicence = "l"\nurl = "u"\n'
        'format = "f"\n[fields]\nserial = "CSE_NR"\ndisposition = "CSE_DISP"\n'
        '[values.disposition]\nACTIVE = "open"\n'
    )
    with pytest.raises(
        CatalogError, match="'ACTIVE' maps to 'open', not one of active, filed, closed"
    ):
        load_entry(path)


def test_unknown_region_suggests():
    with pytest.raises(CatalogError, match="Did you mean 'utah-sample'"):
        load_region("utah-sampel")


def test_sample_region():
    region = load_region("utah-sample")
    assert region.work_crs == "EPSG:5070"
    assert {r.role for r in region.layers} == {
        "deposits",
        "withdrawals",
        "access",
        "evidence",
        "raster",
    }
    assert region.missing_roles() == ["land", "claims"]
    for ref in region.layers:
        assert ref.path.exists()


def test_ahp_judgements_set_family_weights():
    config = load_config(
        {"score": {"ahp": {"value/access": 3, "value/evidence": 5, "access/evidence": 2}}}
    )
    w = config.score.family_weights()
    assert config.score.weights == Config().score.weights  # validation changes nothing
    assert sum(w.values()) == pytest.approx(1.0)
    assert w["value"] > w["access"] > w["evidence"]
    assert w["value"] == pytest.approx(0.648, abs=1e-3)


def test_ahp_inconsistent_refused_unless_forced():
    bad = {"value/access": 9, "value/evidence": 1 / 9, "access/evidence": 9}
    with pytest.raises(ConfigError, match="consistency ratio"):
        load_config({"score": {"ahp": bad}})
    config = load_config({"score": {"ahp": bad, "ahp_force": True}})
    assert sum(config.score.family_weights().values()) == pytest.approx(1.0)
