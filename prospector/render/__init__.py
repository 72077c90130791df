"""Interactive, offline HTML map of ranked parcels (``prospects.html``).

The map is a Leaflet page built with folium whose every asset is vendored in
``prospector/render/static``: it opens without any network access.  All parcels
are drawn as rasterised choropleths (score, land status, each criterion); the
best ``detail_limit`` parcels also get vector outlines, popups, tooltips and search.
"""

from __future__ import annotations

from prospector.render._scoring import Scoring
from prospector.render.hillshade import hillshade_from_dem
from prospector.render.map import BASEMAPS, build_map, write_map

__all__ = ["BASEMAPS", "Scoring", "build_map", "hillshade_from_dem", "write_map"]
