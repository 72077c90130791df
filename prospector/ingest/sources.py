"""The standard official sources of a region, and where their downloads point.

:data:`SOURCE_SETS` names the catalogue entries ``prospector region new`` writes into
a region file.  ``standard`` is what a complete run needs: land status (BLM SMA, PAD-US
managers), withdrawals (BLM wilderness, PAD-US designations), restrictions (BLM WSAs),
mining claims not closed (BLM MLRS), primary and secondary roads and rail lines (Census
TIGER),
transmission lines (HIFLD), deposits (USGS MRDS),
faults (USGS NSHM 2023) and a DEM (USGS 3DEP).  ``padus-manager`` (PAD-US fee managers) is
an optional extra (``--sources standard,padus-manager``).

Every download URL in the catalogue is the publisher's real address.  Tests and
offline mirrors redirect them with :envvar:`PROSPECTOR_MIRROR` (see :func:`resolve_url`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from prospector.errors import CatalogError, ConfigError

__all__ = ["MIRROR_ENV_VAR", "SOURCE_SETS", "expand_url", "resolve_url", "sources_for"]

#: Environment variable naming a mirror that serves every publisher under
#: ``<mirror>/<publisher host>/<path>`` (e.g. a local replica on 127.0.0.1).
MIRROR_ENV_VAR: Final = "PROSPECTOR_MIRROR"

_STANDARD: Final = (
    "blm-sma",
    "blm-wilderness",
    "padus-designations",
    "blm-wsa",
    "blm-mlrs-claims",
    "tiger-prisecroads",
    "tiger-rails",
    "hifld-transmission",
    "usgs-mrds",
    "nshm23-fault-sections",
    "usgs-3dep-dem",
)

#: Named sets of catalogue entries for ``region new --sources``.
SOURCE_SETS: Final[Mapping[str, tuple[str, ...]]] = {
    "standard": _STANDARD,
    "land": ("blm-sma", "blm-wilderness", "padus-designations", "blm-wsa", "blm-mlrs-claims"),
    "minimal": ("blm-sma", "blm-wilderness", "blm-wsa", "blm-mlrs-claims", "usgs-mrds"),
}


def sources_for(spec: str) -> tuple[str, ...]:
    """Resolve ``--sources``: a set name, or comma-separated entry names (``+`` adds).

    ``"standard"`` → the standard set; ``"standard,+tiger-roads-local"`` → the standard
    set plus one entry; ``"blm-sma,usgs-mrds"`` → exactly those.
    """
    names: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key = part.removeprefix("+")
        if key in SOURCE_SETS:
            names += [n for n in SOURCE_SETS[key] if n not in names]
        elif key not in names:
            names.append(key)
    if not names:
        raise ConfigError(
            f"--sources {spec!r} names no source. Give a set ({', '.join(SOURCE_SETS)}) or "
            "catalogue entries separated by commas."
        )
    return tuple(names)


def expand_url(url: str, params: Mapping[str, str], *, where: str) -> str:
    """Fill ``{name}`` placeholders of a catalogue URL from a layer's ``params``."""
    try:
        return url.format_map(dict(params))
    except (KeyError, IndexError, ValueError) as exc:
        raise CatalogError(
            f"{where}: the download URL {url!r} needs the parameter {exc}; add it to the "
            'layer\'s `params` table in the region file (e.g. params = { statefp = "32" }).'
        ) from exc


def resolve_url(url: str) -> str:
    """Return ``url``, or its address on the mirror named by ``$PROSPECTOR_MIRROR``.

    With ``PROSPECTOR_MIRROR=http://127.0.0.1:8000`` the URL
    ``https://gis.blm.gov/arcgis/rest/services/x/MapServer/1`` becomes
    ``http://127.0.0.1:8000/gis.blm.gov/arcgis/rest/services/x/MapServer/1``.
    """
    mirror = os.environ.get(MIRROR_ENV_VAR, "").strip().rstrip("/")
    if not mirror:
        return url
    if urlsplit(mirror).scheme not in ("http", "https"):
        raise ConfigError(
            f"{MIRROR_ENV_VAR}={mirror!r} is not an http(s) URL. Fix: set it to the mirror's "
            "base address, e.g. http://127.0.0.1:8000, or unset it to use the publishers."
        )
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{mirror}/{parts.netloc}{tail}"
