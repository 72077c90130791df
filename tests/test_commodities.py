from importlib import resources

import pandas as pd
import pytest

from prospector.errors import ConfigError
from prospector.schema.commodities import load_vocabulary, parse_commodities


@pytest.fixture(scope="module")
def vocab():
    return load_vocabulary(2025)


def test_critical_list_sizes():
    # 2025: 60 entries (+ the REE and PGM group names Prospector adds); 2022: 50; 2018: 35 with
    # REE and PGM expanded per element in the reference CSV.
    assert len(load_vocabulary(2025).critical - {"rare_earths", "platinum_group_metals"}) == 60
    assert "copper" in load_vocabulary(2025).critical
    assert "copper" not in load_vocabulary(2022).critical
    assert "uranium" in load_vocabulary(2018).critical
    assert "uranium" not in load_vocabulary(2022).critical


def test_unknown_list_year():
    with pytest.raises(ConfigError, match="2018, 2022, 2025"):
        load_vocabulary(2023)


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("AU AG", ["gold", "silver"]),
        ("U V", ["uranium", "vanadium"]),
        ("lithium;potash", ["lithium", "potash"]),
        ("SDG", ["sand_gravel"]),
        ("STN2 CLY", ["clay", "stone"]),
        ("Cerium;Dysprosium", ["cerium", "dysprosium"]),
        ("chalcopyrite;pyrite", ["copper"]),
        ("sand and gravel", ["sand_gravel"]),
        ("", []),
        (None, []),
    ],
)
def test_parse_known_codes(vocab, published, expected):
    parsed = parse_commodities([published], vocab)
    assert parsed.commodities == [expected]
    assert not parsed.unmapped


def test_unmapped_codes_are_counted_not_dropped(vocab):
    parsed = parse_commodities(["AU SAO", "SAO", "UNIDENTIFIED", "XYZ;lithium"], vocab)
    assert parsed.commodities == [["gold"], [], [], ["lithium"]]
    assert parsed.unmapped == {"SAO": 2, "XYZ": 1}
    assert parsed.ignored == {"UNIDENTIFIED": 1}
    assert "3 occurrences of 2 unmapped" in parsed.summary()


def test_sample_site_normalised(utah_result):
    deposits = utah_result.deposits.set_index("site_id")
    # A real UMOS record and a USGS Earth MRI record from the embedded sample.
    green = deposits.loc["earth_mri_usa:256"]
    assert green["name"] == "Green Energy"
    assert list(green["commodities"]) == ["lithium", "potash"]
    assert green["critical"]
    gold_silver = deposits[deposits["commodity_codes"] == "AU AG"]
    assert len(gold_silver) > 0
    assert all(list(c) == ["gold", "silver"] for c in gold_silver["commodities"])


def test_sample_unmapped_report(utah_result):
    (report,) = [r for r in utah_result.data.reports if r.role == "deposits"]
    # Codes we could not confirm from the publisher (e.g. UMOS 'SAO', 'AL3') are reported.
    assert report.unmapped_commodities["SAO"] == 46
    assert report.unmapped_commodities["AL3"] == 57
    assert sum(report.unmapped_commodities.values()) == 203
    assert report.n_kept == 7905


def test_vocabulary_matches_critical_csv(vocab):
    path = resources.files("prospector.schema").joinpath("data/usgs_critical_minerals.csv")
    with path.open(encoding="utf-8") as fh:
        csv = pd.read_csv(fh)
    assert set(csv["commodity"]) <= set(vocab.groups)
