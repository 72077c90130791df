"""Compare a fetched file with its catalogue entry: what the publisher changed.

Publishers rename fields and add codes without notice.  :func:`diagnose` reads a file's
field names (and the distinct values of the fields the catalogue maps through a value
table) and reports

* mapped fields that are missing, with the closest present name (a likely rename),
* codes present in the file that the entry's value tables do not map (they fall back to
  the entry's default, e.g. ``agency = "OTHER"``),
* fields present in the file that the entry does not use (for information).
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyogrio

from prospector.catalog import CatalogEntry
from prospector.errors import LayerReadError

__all__ = ["Diagnosis", "diagnose"]

_MAX_VALUES = 20


@dataclass
class Diagnosis:
    """What differs between a file and its catalogue entry."""

    path: Path
    source: str
    n_features: int
    missing_fields: dict[str, str | None] = field(default_factory=dict)
    """Mapped field -> closest field in the file (None when nothing is close)."""
    unmapped_values: dict[str, Counter[str]] = field(default_factory=dict)
    """Published field -> counts of values its value table does not map."""
    extra_fields: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every mapped field exists and every value is mapped."""
        return not self.missing_fields and not self.unmapped_values

    def lines(self) -> list[str]:
        """Human-readable findings, one per line."""
        out: list[str] = []
        for name, close in self.missing_fields.items():
            out.append(
                f"field {name!r} used by the catalogue is missing"
                + (f" - renamed to {close!r}?" if close else "")
                + " Fix the entry's [fields] table."
            )
        for name, counts in self.unmapped_values.items():
            listed = ", ".join(f"{v!r} ({n})" for v, n in counts.most_common(_MAX_VALUES))
            out.append(
                f"field {name!r} has values the catalogue does not map: {listed}. They get "
                "the entry's default; add them to its [values] table if they mean something."
            )
        if self.extra_fields:
            out.append("fields not used by the catalogue: " + ", ".join(self.extra_fields))
        return out


def diagnose(path: str | Path, entry: CatalogEntry, *, layer: str | None = None) -> Diagnosis:
    """Compare the fields and codes of the file at *path* with catalogue *entry*.

    Raises
    ------
    prospector.errors.LayerReadError
        The file cannot be read.
    """
    path = Path(path)
    try:
        info = pyogrio.read_info(path, layer=layer or entry.layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise LayerReadError(f"cannot read {path}: {exc}") from exc
    present = [str(f) for f in info["fields"]]
    lower = {f.lower(): f for f in present}
    report = Diagnosis(path, entry.name, int(info.get("features") or 0))
    used: set[str] = set()
    for fmap in entry.fields:
        if fmap.field is None:
            continue
        actual = lower.get(fmap.field.lower())
        if actual is None:
            close = difflib.get_close_matches(fmap.field, present, n=1, cutoff=0.6)
            report.missing_fields[fmap.field] = close[0] if close else None
            continue
        used.add(actual)
        if fmap.values:
            table = pyogrio.read_dataframe(
                path, layer=layer or entry.layer, columns=[actual], read_geometry=False
            )
            counts = Counter(str(v) for v in table[actual].dropna())
            known = {str(k) for k in fmap.values}
            unmapped = Counter({v: n for v, n in counts.items() if v not in known})
            if unmapped:
                report.unmapped_values[fmap.field] = unmapped
    report.extra_fields = [f for f in present if f not in used]
    return report
