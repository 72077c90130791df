"""Colours, class breaks and legends of the map (no I/O, no folium)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prospector.palette import LAND_STATUS, LINES, NODATA_COLOR, RANK_CLASSES, VIRIDIS

__all__: list[str] = []

#: Number of classes of every continuous choropleth (quantiles: each class holds ~20 %).
N_CLASSES = 5


#: Withdrawal kinds and access kinds as shown in the legend.
WITHDRAWAL_KINDS: dict[str, str] = {
    "wilderness": "Wilderness",
    "wsa": "Wilderness study area",
    "nps": "National Park Service",
    "gap12": "Protected (GAP 1-2)",
    "military": "Military",
    "monument": "National monument",
    "plo": "Public land order withdrawal",
    "acec": "Area of critical environmental concern",
    "other": "Other withdrawal",
}
_LINE_DRAWING: dict[str, dict[str, Any]] = {
    "road": {"weight": 1.5},
    "rail": {"weight": 2.0, "dashArray": "6 3"},
    "power": {"weight": 1.5, "dashArray": "2 4"},
    "fault": {"weight": 1.5},
}
#: Leaflet styles of the line layers (colours and labels from :data:`prospector.palette.LINES`).
ACCESS_STYLE: dict[str, dict[str, Any]] = {
    kind: {"color": color, "label": label, **_LINE_DRAWING[kind]}
    for kind, (color, label) in LINES.items()
}

#: Human names of the criterion columns shown as switchable choropleths.
CRITERIA_LABELS: dict[str, str] = {
    "score": "Score (combined)",
    "score_value": "Criterion: mineral value",
    "score_access": "Criterion: access",
    "score_evidence": "Criterion: geological evidence",
}


def class_schemes() -> dict[str, Any]:
    """Return the page's class schemes: rank percentiles (default) and quantiles of the values.

    The browser classifies the current scores itself (they change with the weights):
    ``rank`` puts a parcel of rank r among N in the first class with r <= ceil(N p / 100);
    ``quantile`` uses ``N_CLASSES`` classes with breaks at the values of ranks
    ceil(N k / N_CLASSES).
    """
    return {
        "default": "rank",
        "rank": {
            "title": "Rank percentile",
            "tops": [p for p, _, _ in RANK_CLASSES],
            "colors": [c for _, c, _ in RANK_CLASSES],
            "labels": [lab for _, _, lab in RANK_CLASSES],
        },
        "quantile": {
            "title": f"Quantiles ({N_CLASSES} classes)",
            "k": N_CLASSES,
            "colors": list(VIRIDIS[N_CLASSES])[::-1],
        },
        "nodata": NODATA_COLOR,
    }


@dataclass
class Legend:
    """A legend of one choropleth: class labels and colours, plus raw breaks when continuous."""

    key: str
    title: str
    kind: str  # "classes" | "categories"
    labels: list[str]
    colors: list[str]
    breaks: list[float] = field(default_factory=list)
    scheme: str = ""
    categories: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form used by the map's JavaScript."""
        return {
            "key": self.key,
            "title": self.title,
            "kind": self.kind,
            "labels": self.labels,
            "colors": self.colors,
            "breaks": self.breaks,
            "scheme": self.scheme,
            "categories": self.categories,
            "nodata": NODATA_COLOR,
        }


def classify(values: np.ndarray, *, key: str, title: str) -> tuple[np.ndarray, Legend]:
    """Classify *values* into quantile classes with mapclassify.

    Parameters
    ----------
    values
        Float values; NaN means unknown and gets class ``-1``.
    key, title
        Identifier and human title of the legend.

    Returns
    -------
    classes, legend
        Class index per value (``-1`` for NaN) and the legend whose ``breaks`` are exactly
        ``mapclassify.Quantiles(values[~isnan], k).bins``.
    """
    values = np.asarray(values, dtype="float64")
    classes = np.full(values.shape, -1, dtype="int16")
    valid = np.isfinite(values)
    if not valid.any():
        return classes, Legend(key, title, "classes", [], [], [], "none")
    k = int(min(N_CLASSES, np.unique(values[valid]).size))
    if k < 2:
        classes[valid] = 0
        value = float(values[valid][0])
        return classes, Legend(
            key, title, "classes", [f"{value:.2f}"], list(VIRIDIS[1]), [value], "single value"
        )
    # Imported here, not with the module: mapclassify loads scipy.stats, scikit-learn, numba
    # and matplotlib (~0.2 GB resident) that a run which draws no map never needs.
    import mapclassify

    with warnings.catch_warnings():
        # mapclassify lowers k itself when quantiles coincide; we report the breaks it used.
        warnings.filterwarnings("ignore", message="Not enough unique values", category=UserWarning)
        scheme = mapclassify.Quantiles(values[valid], k=k)
    bins = [float(b) for b in scheme.bins]
    classes[valid] = np.asarray(scheme.yb, dtype="int16")
    colors = list(VIRIDIS[len(bins)])
    lower = float(values[valid].min())
    labels = []
    for i, upper in enumerate(bins):
        low = lower if i == 0 else bins[i - 1]
        labels.append(f"{low:.2f} – {upper:.2f}")
    return classes, Legend(
        key, title, "classes", labels, colors, bins, f"Quantiles (k={len(bins)})"
    )


def land_status_classes(status: np.ndarray) -> tuple[np.ndarray, Legend]:
    """Return category indices of *status* (unknown values map to ``unknown``) and its legend."""
    keys = list(LAND_STATUS)
    lookup = {k: i for i, k in enumerate(keys)}
    unknown = lookup["unknown"]
    classes = np.array([lookup.get(str(s), unknown) for s in status], dtype="int16")
    legend = Legend(
        "land_status",
        "Land status",
        "categories",
        [LAND_STATUS[k][1] for k in keys],
        [LAND_STATUS[k][0] for k in keys],
        scheme="categories",
        categories=keys,
    )
    return classes, legend
