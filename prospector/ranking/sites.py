"""Deposit sites of a run: records de-duplicated into sites, and the commodity focus note."""

from __future__ import annotations

import dataclasses

from prospector.analysis.dedupe import dedupe_sites
from prospector.config import Config
from prospector.ingest import RegionData
from prospector.schema.commodities import resolve_focus

__all__ = ["focus_notes", "with_sites"]


def with_sites(data: RegionData, config: Config) -> RegionData:
    """Return *data* with its deposit records de-duplicated into sites (``value.dedupe_m``).

    Records of one deposit published by several sources become one site with ``sources``
    and ``n_sources`` (:func:`~prospector.analysis.dedupe.dedupe_sites`), which value uses
    as corroboration.  Idempotent: deposits that already carry ``n_sources`` are kept.
    """
    deposits = data.deposits
    if deposits is None or config.value.dedupe_m <= 0 or "n_sources" in deposits:
        return data
    sites = dedupe_sites(deposits, distance_m=config.value.dedupe_m)
    return dataclasses.replace(data, deposits=sites)


def focus_notes(data: RegionData, config: Config) -> list[str]:
    """One note naming the commodity focus (``value.focus_*``), if any."""
    focus = resolve_focus(
        config.value.focus_commodities, config.value.focus_groups, vocabulary=data.vocabulary
    )
    if not focus:
        return []
    return [
        f"Commodity focus: {', '.join(sorted(focus))} (other commodities count "
        f"× {config.value.off_focus_weight:g} in the deposit value)."
    ]
