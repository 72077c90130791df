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
    # Codes we could not confirm from the publisher (e.g. UMOS 'SAO') are reported.  AL3
    # (alunite, 57 records) and 'magnesia' (1) are mapped since issue 19: 203 - 58 = 145.
    assert report.unmapped_commodities["SAO"] == 46
    assert "AL3" not in report.unmapped_commodities
    assert sum(report.unmapped_commodities.values()) == 145
    assert report.n_kept == 7905


def test_vocabulary_matches_critical_csv(vocab):
    path = resources.files("prospector.schema").joinpath("data/usgs_critical_minerals.csv")
    with path.open(encoding="utf-8") as fh:
        csv = pd.read_csv(fh)
    assert set(csv["commodity"]) <= set(vocab.groups)


# --- Vocabulary reviewed against the 2025 list (issue 19) ------------------------------


def test_potash_is_a_critical_fertilizer_mineral(vocab):
    # Critical in 2018 and 2025 (not 2022); scored with phosphate as a fertilizer mineral, not
    # as an industrial mineral at weight 0.3.
    assert vocab.is_critical("potash") and vocab.is_critical("phosphate")
    assert not load_vocabulary(2022).is_critical("potash")
    assert vocab.groups["potash"] == vocab.groups["phosphate"] == "fertilizer"


def test_alunite_names_aluminium_and_potassium(vocab):
    parsed = parse_commodities(["AL3", "AL3 K", "U CU AL3", "alunite"], vocab)
    assert parsed.commodities == [
        ["aluminum", "potash"],
        ["aluminum", "potash"],
        ["aluminum", "copper", "potash", "uranium"],
        ["aluminum", "potash"],
    ]
    assert not parsed.unmapped


def test_brine_is_a_form_not_a_commodity(vocab):
    # Brine records count for the commodities stated with them, never as "industrial".
    parsed = parse_commodities(["LI BRI", "K MG BRI HAL", "BRI", "brine;lithium"], vocab)
    assert parsed.commodities == [
        ["lithium"],
        ["magnesium", "potash", "salt"],
        [],
        ["lithium"],
    ]
    assert parsed.ignored == {"BRI": 3, "brine": 1}
    assert "brine" not in vocab.groups
    assert "bri" in vocab.forms


def test_great_salt_lake_major_deposit_codes(vocab):
    # The USGS major-deposits record of the Great Salt Lake (sample, dataset
    # mrdata_major_deposits): 'magnesia' is magnesium, 'sodium sulfate' is not limestone.
    parsed = parse_commodities(["Li;magnesia;potash;sodium sulfate", "sodium carbonate"], vocab)
    assert parsed.commodities == [
        ["lithium", "magnesium", "potash", "sodium_sulfate"],
        ["soda_ash"],
    ]


def test_gallium_germanium_host_graded_as_specialty():
    # The Apex mine as UMOS publishes it: GE GA CU ZN AG.  Ga, Ge (specialty) and Cu (base)
    # weigh the same (1.0 critical x 0.8); the tie goes to the group listed first.
    import geopandas as gpd
    import shapely

    from prospector.analysis.value import deposit_weights
    from prospector.config import load_config

    vocab = load_vocabulary(2025)
    (codes,) = parse_commodities(["GE GA CU ZN AG"], vocab).commodities
    deposits = gpd.GeoDataFrame(
        {"commodities": [codes], "dev_status": ["past_producer"], "source": ["umos"]},
        geometry=[shapely.Point(0, 0)],
        crs="EPSG:5070",
    )
    weights = deposit_weights(deposits, vocab, load_config(None).value)
    assert weights["group"].iloc[0] == "specialty"
    # 0.8 status x 0.8 commodity x (1 + 0.1 x 4 more critical commodities)
    assert weights["weight"].iloc[0] == pytest.approx(0.8 * 0.8 * 1.4)
