"""BLM fees for a lode claim: a dated schedule that says where its amounts come from.

The amounts change: location and maintenance fees are adjusted for inflation every five
years (30 U.S.C. 28j(c); last in 2024), the processing fee every year (43 CFR 3000.12).
A plan states the schedule it used, with its date and source, and a user can pass a newer
one (``FeeSchedule.from_mapping`` of a TOML table).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from prospector.errors import ConfigError

__all__ = ["DEFAULT_FEES", "FeeSchedule"]


@dataclass(frozen=True)
class FeeSchedule:
    """BLM fees due per lode claim when its location is recorded (43 CFR 3830.21(a)).

    Attributes
    ----------
    location_usd
        One-time location fee.
    processing_usd
        Processing fee for a notice of location (fee schedule of 43 CFR 3000.12; adjusted
        every year on 1 October).
    maintenance_usd
        Initial maintenance fee (the first assessment year), per lode claim.
    effective
        Date from which the amounts apply (claims located on or after it).
    source
        Where the amounts were read.
    """

    location_usd: float = 49.0
    processing_usd: float = 25.0
    maintenance_usd: float = 200.0
    effective: str = "2024-09-01"
    source: str = (
        "Location $49 and initial maintenance $200 per lode claim: 43 CFR 3830.21(a) as "
        "amended by 'Required Fees for Mining Claims or Sites', 89 FR 54364 (1 July 2024), "
        "for claims located on or after 1 September 2024 (BLM announcement 'BLM announces "
        "adjustments to mining location and maintenance fees', June 2024). Processing fee "
        "$25 per notice of location (43 CFR 3000.12): figure read in a secondary source "
        "(Burgex, 16 July 2024); check the current 3000.12 table before filing."
    )

    @property
    def per_claim_usd(self) -> float:
        """Location + processing + initial maintenance."""
        return self.location_usd + self.processing_usd + self.maintenance_usd

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, where: str = "fees") -> FeeSchedule:
        """Build a schedule from a mapping (e.g. a TOML table), checking every key."""
        from prospector._util import check_keys

        names = {f for f in cls.__dataclass_fields__}
        problems = check_keys(values, names, where=where)
        for key in ("location_usd", "processing_usd", "maintenance_usd"):
            if key in values:
                v = values[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                    problems.append(f"{where}: {key} must be a number >= 0; got {v!r}.")
        for key in ("effective", "source"):
            if key in values and not str(values[key]).strip():
                problems.append(f"{where}: {key} must be a non-empty text.")
        if "source" not in values and any(k.endswith("_usd") for k in values):
            problems.append(
                f"{where}: changed amounts need a `source` saying where they come from."
            )
        if problems:
            raise ConfigError("\n".join(problems))
        base = asdict(cls())
        base |= {k: (float(v) if k.endswith("_usd") else str(v)) for k, v in values.items()}
        return cls(**base)


DEFAULT_FEES = FeeSchedule()
