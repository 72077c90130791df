"""Colours and labels shared by the HTML map and the exported GIS styles.

One place, so a deposit group or a score class has the same colour in the browser, in
QGIS (GeoPackage/Shapefile styles) and in Google Earth (KML).  All palettes are
colour-blind safe: viridis for ordered values, Okabe-Ito for categories.
"""

from __future__ import annotations

__all__ = [
    "DEPOSIT_GROUPS",
    "LAND_STATUS",
    "LINES",
    "NODATA_COLOR",
    "RANK_CLASSES",
    "SCORE_COLORS",
    "VIRIDIS",
]

#: Viridis by number of classes (dark = low, yellow = high).
VIRIDIS: dict[int, tuple[str, ...]] = {
    1: ("#fde725",),
    2: ("#21918c", "#fde725"),
    3: ("#440154", "#21918c", "#fde725"),
    4: ("#440154", "#31688e", "#35b779", "#fde725"),
    5: ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"),
}

#: The five score classes.
SCORE_COLORS: tuple[str, ...] = VIRIDIS[5]

NODATA_COLOR = "#bdbdbd"

#: Rank-percentile classes: (upper bound in % of ranked parcels, colour, label). A parcel of
#: rank r among N is in the first class whose bound p satisfies r <= ceil(N * p / 100).
#: The best classes are small, so any zoom level separates the top targets.
RANK_CLASSES: tuple[tuple[float, str, str], ...] = (
    (1, "#fde725", "Top 1 %"),
    (5, "#5ec962", "Top 1–5 %"),
    (10, "#21918c", "Top 5–10 %"),
    (25, "#3b528b", "Top 10–25 %"),
    (50, "#440154", "Top 25–50 %"),
    (100, "#d8d2e3", "Bottom 50 %"),
)

#: Land status colours (Okabe-Ito) and labels.
LAND_STATUS: dict[str, tuple[str, str]] = {
    "open": ("#009e73", "Open to mineral entry"),
    "partly_open": ("#f0e442", "Partly open"),
    "restricted": ("#e69f00", "Open with restrictions (e.g. WSA)"),
    "closed": ("#d55e00", "Closed (withdrawn)"),
    "unknown": ("#999999", "Unknown / ownership unknown"),
}

#: Deposit commodity-group colours (Okabe-Ito plus two) and legend labels.
DEPOSIT_GROUPS: dict[str, tuple[str, str]] = {
    "ree": ("#cc79a7", "Rare earths"),
    "battery": ("#0072b2", "Battery metals"),
    "base": ("#d55e00", "Base metals"),
    "precious": ("#e69f00", "Precious metals"),
    "pgm": ("#56b4e9", "Platinum-group metals"),
    "energy": ("#009e73", "Energy (U, Th...)"),
    "specialty": ("#f0e442", "Specialty metals"),
    "industrial": ("#8c6d31", "Industrial minerals"),
    "bulk": ("#7f7f7f", "Bulk commodities"),
    "none": ("#000000", "Other / none"),
}

#: Line layers (access kinds and line evidence): colour and legend label.
LINES: dict[str, tuple[str, str]] = {
    "road": ("#4d4d4d", "Roads"),
    "rail": ("#000000", "Railways"),
    "power": ("#7b3294", "Power lines"),
    "fault": ("#d55e00", "Faults (evidence)"),
}
