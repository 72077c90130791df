"""Does the ranking find deposits it has not seen?  Spatial block cross-validation.

Known sites are split into folds.  For each fold the held-out sites are removed from the
value evidence (the kernel value is rebuilt from the training sites only), every parcel is
scored again with the same criteria and weights, and the held-out sites are located in the
ranked parcels.  Pooled over the folds this gives a *prediction-rate curve*: the share of
held-out sites captured against the share of ranked area, parcels taken by decreasing score.

Two fold schemes are compared:

``spatial``
    Square blocks of ``block_km`` in the work CRS (aligned to its origin) are shuffled with
    the seed and dealt round-robin into folds; a parcel belongs to the block of its centroid
    and a site to the block of its parcel.  Each fold is evaluated on its own blocks: the
    question is "how well does the ranking find sites in ground where no site was used?".
``random``
    Sites are dealt into folds at random (no blocking) and evaluated over the whole ranked
    area.  Neighbouring and duplicate records of one deposit land in different folds, so
    proximity to a training site "predicts" the held-out one.

The gap between the two measures how much of the apparent skill is spatial leakage.  A
deposit-only ranking (kernel value) should be near chance (capture at 10 % ≈ 10 %) under
spatial blocks much larger than the kernel radius; far above chance means a leak.

Parcels with equal scores are one step of the curve: the capture inside a tie is
interpolated linearly (the expected capture if tied parcels were visited in random order).
Breaking ties by parcel id instead would order zero-value ground north to south and invent
skill.  Parcels that are not ranked (closed ground under the default ``score.status``) are
not part of the area, and sites inside them are not targets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector.analysis.criteria import build_criteria
from prospector.analysis.score import combine
from prospector.analysis.value import deposit_weights, deposits_in_parcels, parcel_value
from prospector.config import Config, ValueConfig
from prospector.errors import ConfigError, CRSError
from prospector.schema.commodities import CommodityVocabulary

__all__ = [
    "CAPTURE_AT",
    "CrossValidation",
    "PredictionRate",
    "area_positions",
    "block_folds",
    "cross_validate",
    "random_folds",
    "training_value",
    "validation_report",
]

Scheme = Literal["spatial", "random"]
Targets = Literal["commodity", "critical", "all"]
EvaluateOn = Literal["fold", "region"]

#: Shares of ranked area at which capture is reported.
CAPTURE_AT: tuple[float, ...] = (0.05, 0.1, 0.2)

_CURVE_POINTS = 201
_MEASURED = (
    "value_raw", "dist_road_km", "dist_rail_km", "dist_power_km", "dist_fault_km",
    "slope_mean_deg", "dem_coverage",
)  # fmt: skip


def _key(fraction: float) -> str:
    return f"{fraction:g}"


@dataclass(frozen=True)
class PredictionRate:
    """Where held-out sites fall in a ranking, as shares of the ranked area.

    For each target site, ``lo`` is the share of the evaluated area scored strictly higher
    than its parcel and ``hi`` the share scored higher or equal (``hi − lo`` is the tie).
    """

    lo: np.ndarray
    hi: np.ndarray

    @property
    def n_targets(self) -> int:
        """Number of target sites."""
        return len(self.lo)

    def capture(self, fraction: float | np.ndarray) -> float | np.ndarray:
        """Return the expected share of targets captured in the top *fraction* of the area."""
        f = np.atleast_1d(np.asarray(fraction, dtype=float))
        if self.n_targets == 0:
            out = np.full(f.shape, np.nan)
        else:
            width = self.hi - self.lo
            safe = np.where(width > 0, width, 1.0)
            part = np.where(
                width[None, :] > 0,
                np.clip((f[:, None] - self.lo[None, :]) / safe[None, :], 0.0, 1.0),
                (f[:, None] >= self.hi[None, :]).astype(float),
            )
            out = part.mean(axis=1)
        return float(out[0]) if np.ndim(fraction) == 0 else out

    @property
    def auc(self) -> float:
        """Area under the prediction-rate curve (0.5: chance; 1: every site at the top)."""
        if self.n_targets == 0:
            return float("nan")
        return float(1.0 - np.mean((self.lo + self.hi) / 2.0))

    def curve(self, n_points: int = _CURVE_POINTS) -> pd.DataFrame:
        """Return the prediction-rate curve at *n_points* evenly spaced area shares."""
        f = np.linspace(0.0, 1.0, n_points)
        return pd.DataFrame({"area_fraction": f, "capture": self.capture(f)})

    def summary(self) -> dict[str, Any]:
        """``{"auc", "capture": {"0.05", "0.1", "0.2"}, "n_targets"}``."""
        return {
            "auc": self.auc,
            "capture": {_key(f): float(self.capture(f)) for f in CAPTURE_AT},
            "n_targets": self.n_targets,
        }

    @classmethod
    def pool(cls, parts: Sequence[PredictionRate]) -> PredictionRate:
        """Pool the targets of several folds into one curve."""
        if not parts:
            return cls(np.zeros(0), np.zeros(0))
        return cls(np.concatenate([p.lo for p in parts]), np.concatenate([p.hi for p in parts]))


def area_positions(
    score: np.ndarray, area: np.ndarray, evaluate: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Area shares above each parcel in a ranking by decreasing score.

    Parameters
    ----------
    score
        Score per parcel (compared after rounding to 12 decimals, as in ranking).
    area
        Area per parcel (any unit).
    evaluate
        Boolean mask of the parcels that form the ranked area (default: all).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Per parcel, the share of evaluated area with a strictly higher score (``lo``) and
        with a higher or equal score (``hi``); NaN for parcels not evaluated.
    """
    score = np.asarray(score, dtype=float)
    area = np.asarray(area, dtype=float)
    mask = np.ones(len(score), dtype=bool) if evaluate is None else np.asarray(evaluate, bool)
    lo = np.full(len(score), np.nan)
    hi = np.full(len(score), np.nan)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return lo, hi
    s = np.round(score[idx], 12)
    order = np.argsort(-s, kind="stable")
    s_sorted, a_sorted = s[order], area[idx][order]
    total = a_sorted.sum()
    if not total > 0:
        raise ValueError("the evaluated parcels have no area")
    group = np.cumsum(np.r_[True, s_sorted[1:] != s_sorted[:-1]]) - 1
    end = np.cumsum(np.bincount(group, weights=a_sorted))
    start = np.r_[0.0, end[:-1]]
    lo[idx[order]] = start[group] / total
    hi[idx[order]] = end[group] / total
    return lo, hi


def block_folds(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    owner: np.ndarray,
    *,
    block_km: float = 25.0,
    n_folds: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Assign parcels and sites to folds by square spatial blocks.

    Parameters
    ----------
    parcels, deposits
        In the same projected work CRS (metres).
    owner
        Positional index of each site's parcel (−1 outside every parcel), as returned by
        :func:`~prospector.analysis.value.deposits_in_parcels`.  A site takes its parcel's
        block, so a site and its parcel are always in the same fold.
    block_km
        Block side in km; blocks are aligned to multiples of it from the CRS origin.
    n_folds
        Number of folds; the shuffled blocks are dealt round-robin.
    seed
        Seed of the block shuffle.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Fold (0..n_folds−1) of every parcel and of every site.
    """
    _check_folds(block_km, n_folds)
    if parcels.crs is None or not parcels.crs.is_projected:
        raise CRSError("spatial blocks need parcels in a projected work CRS (metres)")
    if len(deposits) and deposits.crs != parcels.crs:
        raise CRSError(
            f"deposits ({deposits.crs}) and parcels ({parcels.crs}) must share the work CRS"
        )
    block_m = block_km * 1000.0
    centre = parcels.geometry.centroid
    p_xy = np.floor(np.c_[centre.x.to_numpy(), centre.y.to_numpy()] / block_m).astype(np.int64)
    owner = np.asarray(owner, dtype=np.int64)
    if len(deposits):
        d_xy = np.floor(
            np.c_[deposits.geometry.x.to_numpy(), deposits.geometry.y.to_numpy()] / block_m
        ).astype(np.int64)
        inside = owner >= 0
        d_xy[inside] = p_xy[owner[inside]]
    else:
        d_xy = np.zeros((0, 2), dtype=np.int64)
    blocks, inverse = np.unique(np.r_[p_xy, d_xy], axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_parcel_blocks = len(np.unique(inverse[: len(p_xy)]))
    if n_parcel_blocks < n_folds:
        raise ConfigError(
            f"{n_parcel_blocks} blocks of {block_km:g} km cover the parcels, fewer than the "
            f"{n_folds} folds; use smaller blocks or fewer folds."
        )
    rng = np.random.default_rng(seed)
    fold_of_block = np.empty(len(blocks), dtype=np.int64)
    fold_of_block[rng.permutation(len(blocks))] = np.arange(len(blocks)) % n_folds
    folds = fold_of_block[inverse]
    return folds[: len(p_xy)], folds[len(p_xy) :]


def random_folds(n_deposits: int, *, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Deal *n_deposits* sites into *n_folds* folds at random (sizes differ by at most 1)."""
    _check_folds(1.0, n_folds)
    rng = np.random.default_rng(seed)
    folds = np.empty(n_deposits, dtype=np.int64)
    folds[rng.permutation(n_deposits)] = np.arange(n_deposits) % n_folds
    return folds


def training_value(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    weights: pd.DataFrame,
    train: np.ndarray,
    config: ValueConfig,
) -> pd.Series:
    """Kernel value per parcel from the training sites only (``value_raw``).

    Held-out sites (``train`` False) are not passed to the kernel at all, so they cannot
    contribute to the value of any parcel.
    """
    train = np.asarray(train, dtype=bool)
    value = parcel_value(parcels, deposits[train], weights[train], config)
    return value["value_raw"]


@dataclass(frozen=True)
class CrossValidation:
    """Pooled prediction rate of one fold scheme, with per-fold detail."""

    scheme: str
    rate: PredictionRate
    folds: pd.DataFrame
    """``fold, n_train_sites, n_targets, area_km2, auc, capture_0.1`` per fold."""

    def summary(self) -> dict[str, Any]:
        """Pooled AUC and capture, plus the per-fold table as records."""
        out = self.rate.summary()
        out["folds"] = self.folds.to_dict(orient="records")
        return out


@dataclass
class _Prepared:
    """Everything about the sites that does not depend on the weights."""

    parcels: gpd.GeoDataFrame
    measured: pd.DataFrame
    deposits: gpd.GeoDataFrame
    site_weights: pd.DataFrame
    owner: np.ndarray
    target: np.ndarray
    eligible: np.ndarray
    area: np.ndarray
    have: dict[str, bool]
    value_cache: dict[tuple[str, int, float], pd.Series] = dataclasses.field(default_factory=dict)


def _prepare(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    vocabulary: CommodityVocabulary,
    config: Config,
    *,
    have: dict[str, bool],
    eligible: pd.Series | np.ndarray | None,
    targets: Targets,
) -> _Prepared:
    if targets not in ("commodity", "critical", "all"):
        raise ConfigError(f"targets must be one of commodity, critical, all; got {targets!r}.")
    parcels = parcels.reset_index(drop=True)
    deposits = deposits.reset_index(drop=True)
    site_weights = deposit_weights(deposits, vocabulary, config.value)
    _, owner = deposits_in_parcels(parcels, deposits, vocabulary)
    mask = (
        np.ones(len(parcels), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    )
    if targets == "commodity":
        is_target = deposits["commodities"].map(len).to_numpy() > 0
    elif targets == "critical":
        is_target = site_weights["critical"].to_numpy(dtype=bool)
    else:
        is_target = np.ones(len(deposits), dtype=bool)
    in_ranked = np.zeros(len(deposits), dtype=bool)
    in_ranked[owner >= 0] = mask[owner[owner >= 0]]
    area = (
        parcels["area_km2"].to_numpy(dtype=float)
        if "area_km2" in parcels
        else parcels.geometry.area.to_numpy() / 1e6
    )
    measured = pd.DataFrame({c: parcels[c] for c in _MEASURED if c in parcels}, index=parcels.index)
    if "value_raw" not in measured:  # only read when the value criterion is unused
        measured["value_raw"] = 0.0
    return _Prepared(
        parcels=parcels,
        measured=measured,
        deposits=deposits,
        site_weights=site_weights,
        owner=owner,
        target=is_target & in_ranked,
        eligible=mask,
        area=area,
        have=dict(have),
    )


def _score(prep: _Prepared, config: Config, value_raw: pd.Series | None) -> np.ndarray:
    table = prep.measured if value_raw is None else prep.measured.assign(value_raw=value_raw)
    try:
        criteria, weights = build_criteria(table, config, have=prep.have)
    except ValueError as exc:
        raise ConfigError(
            f"cannot score with weights {config.score.family_weights()}: {exc}"
        ) from exc
    score, _ = combine(
        criteria, weights.effective, method=config.score.method, gamma=config.score.gamma
    )
    return score.to_numpy()


def _near(deposits: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame, distance_m: float) -> np.ndarray:
    """Sites within *distance_m* of any of *parcels*."""
    near = np.zeros(len(deposits), dtype=bool)
    if len(deposits) and len(parcels):
        tree = shapely.STRtree(parcels.geometry.to_numpy())
        hit, _ = tree.query(deposits.geometry.to_numpy(), predicate="dwithin", distance=distance_m)
        near[hit] = True
    return near


def _uses_value(config: Config, have: dict[str, bool]) -> bool:
    return bool(have.get("deposits")) and config.score.family_weights().get("value", 0.0) > 0


def _cross_validate(
    prep: _Prepared,
    config: Config,
    *,
    scheme: Scheme,
    parcel_fold: np.ndarray | None,
    deposit_fold: np.ndarray,
    n_folds: int,
    buffer_km: float = 0.0,
    evaluate_on: EvaluateOn = "fold",
) -> CrossValidation:
    uses_value = _uses_value(config, prep.have)
    parts = []
    rows = []
    for k in range(n_folds):
        held_out = deposit_fold == k
        fold_area = prep.eligible if parcel_fold is None else prep.eligible & (parcel_fold == k)
        train = ~held_out
        if buffer_km > 0 and parcel_fold is not None:
            train &= ~_near(prep.deposits, prep.parcels[fold_area], buffer_km * 1000.0)
        value = None
        if uses_value:
            key = (scheme, k, buffer_km)
            if key not in prep.value_cache:
                prep.value_cache[key] = training_value(
                    prep.parcels, prep.deposits, prep.site_weights, train, config.value
                )
            value = prep.value_cache[key]
        score = _score(prep, config, value)
        evaluate = prep.eligible if evaluate_on == "region" else fold_area
        lo, hi = area_positions(score, prep.area, evaluate) if evaluate.any() else (None, None)
        targets = held_out & prep.target
        if lo is None or hi is None:
            rate = PredictionRate(np.zeros(0), np.zeros(0))
        else:
            where = prep.owner[targets]
            rate = PredictionRate(lo[where], hi[where])
        parts.append(rate)
        rows.append(
            {
                "fold": k,
                "n_train_sites": int(train.sum()),
                "n_targets": rate.n_targets,
                "area_km2": float(prep.area[evaluate].sum()),
                "auc": rate.auc,
                "capture_0.1": float(rate.capture(0.1)),
            }
        )
    return CrossValidation(scheme, PredictionRate.pool(parts), pd.DataFrame(rows))


def cross_validate(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    vocabulary: CommodityVocabulary,
    config: Config,
    *,
    have: dict[str, bool],
    eligible: pd.Series | np.ndarray | None = None,
    scheme: Scheme = "spatial",
    block_km: float = 25.0,
    n_folds: int = 5,
    seed: int = 0,
    targets: Targets = "commodity",
    buffer_km: float = 0.0,
    evaluate_on: EvaluateOn = "fold",
) -> CrossValidation:
    """Cross-validate a ranking against held-out known sites.

    Parameters
    ----------
    parcels
        Parcels with their measured columns (``value_raw``, ``dist_*_km``, ...,
        ``area_km2``), e.g. :attr:`prospector.ranking.RankResult.all_parcels`.
    deposits
        Known sites in the canonical schema (``commodities``, ``dev_status``), in the
        parcels' CRS, e.g. ``RegionData.deposits``.
    vocabulary
        Commodity vocabulary (criticality for the list year).
    config
        Configuration: value kernel, criteria, weights and scoring method.
    have
        Which criterion inputs exist (see :attr:`prospector.ranking.RankResult.available`).
    eligible
        Parcels that are ranked (default all); the others are not part of the area and
        sites inside them are not targets.
    scheme
        ``spatial`` (block folds) or ``random`` (site folds).
    block_km, n_folds, seed
        Block side, number of folds and seed of the fold assignment.
    targets
        Which sites are held-out targets: ``commodity`` (at least one commodity; default),
        ``critical`` (at least one critical commodity) or ``all``.
    buffer_km
        Spatial scheme only: also drop from training every site within this distance of the
        fold's ranked parcels (a dead zone; at or beyond the value-kernel radius no training
        site reaches a held-out parcel).
    evaluate_on
        Spatial scheme only: rank each fold's held-out sites among the fold's own parcels
        (``fold``, default) or among all ranked parcels (``region``; biased low, because the
        top of the ranking is then the training sites' surroundings, which hold no targets).

    Returns
    -------
    CrossValidation
    """
    prep = _prepare(
        parcels, deposits, vocabulary, config, have=have, eligible=eligible, targets=targets
    )
    _check_folds(block_km, n_folds, buffer_km, evaluate_on)
    if scheme == "spatial":
        parcel_fold, deposit_fold = block_folds(
            prep.parcels, prep.deposits, prep.owner, block_km=block_km, n_folds=n_folds, seed=seed
        )
    elif scheme == "random":
        parcel_fold, deposit_fold = (
            None,
            random_folds(len(prep.deposits), n_folds=n_folds, seed=seed),
        )
    else:
        raise ConfigError(f"scheme must be 'spatial' or 'random'; got {scheme!r}.")
    return _cross_validate(
        prep, config, scheme=scheme, parcel_fold=parcel_fold, deposit_fold=deposit_fold,
        n_folds=n_folds, buffer_km=buffer_km, evaluate_on=evaluate_on,
    )  # fmt: skip


def validation_report(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    vocabulary: CommodityVocabulary,
    config: Config,
    *,
    have: dict[str, bool],
    eligible: pd.Series | np.ndarray | None = None,
    block_km: float = 25.0,
    n_folds: int = 5,
    seed: int = 0,
    targets: Targets = "commodity",
    buffer_km: float = 0.0,
    evaluate_on: EvaluateOn = "fold",
    variants: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """Spatial vs random cross-validation of a ranking, with optional re-weighted variants.

    Parameters
    ----------
    parcels, deposits, vocabulary, config, have, eligible, block_km, n_folds, seed, targets
        As in :func:`cross_validate`.
    buffer_km, evaluate_on
        As in :func:`cross_validate` (spatial scheme only).
    variants
        Extra weightings to validate the same way, name → ``score.weights`` families, e.g.
        ``{"value_only": {"value": 1}, "evidence_only": {"evidence": 1}}``.  A variant whose
        criteria are unavailable is reported with a ``skipped`` reason.

    Returns
    -------
    dict
        ``spatial`` and ``random`` (``auc``, ``capture`` at 5/10/20 % of area, ``n_targets``,
        per-fold records), ``gap`` (random − spatial), ``chance``, ``in_sample`` (scored and
        evaluated with every site: the fully leaked upper bound), ``curves``
        (``area_fraction``, ``spatial``, ``random``), ``block_km``, ``n_folds``, ``seed``,
        ``targets``, ``n_deposits`` (target sites pooled over folds), ``n_sites``,
        ``weights`` (the family weights), and ``variants`` (same keys, per variant).
    """
    _check_folds(block_km, n_folds, buffer_km, evaluate_on)
    prep = _prepare(
        parcels, deposits, vocabulary, config, have=have, eligible=eligible, targets=targets
    )
    parcel_fold, spatial_fold = block_folds(
        prep.parcels, prep.deposits, prep.owner, block_km=block_km, n_folds=n_folds, seed=seed
    )
    random_fold = random_folds(len(prep.deposits), n_folds=n_folds, seed=seed)

    def one(cfg: Config) -> dict[str, Any]:
        spatial = _cross_validate(
            prep, cfg, scheme="spatial", parcel_fold=parcel_fold, deposit_fold=spatial_fold,
            n_folds=n_folds, buffer_km=buffer_km, evaluate_on=evaluate_on,
        )  # fmt: skip
        rnd = _cross_validate(
            prep, cfg, scheme="random", parcel_fold=None, deposit_fold=random_fold,
            n_folds=n_folds,
        )  # fmt: skip
        full_value = (
            training_value(prep.parcels, prep.deposits, prep.site_weights,
                           np.ones(len(prep.deposits), bool), cfg.value)
            if _uses_value(cfg, prep.have) else None
        )  # fmt: skip
        lo, hi = area_positions(_score(prep, cfg, full_value), prep.area, prep.eligible)
        where = prep.owner[prep.target]
        in_sample = PredictionRate(lo[where], hi[where])
        s, r = spatial.summary(), rnd.summary()
        f = np.linspace(0.0, 1.0, _CURVE_POINTS)
        return {
            "weights": cfg.score.family_weights(),
            "spatial": s,
            "random": r,
            "in_sample": in_sample.summary(),
            "gap": {
                "auc": r["auc"] - s["auc"],
                "capture": {k: r["capture"][k] - s["capture"][k] for k in s["capture"]},
            },
            "curves": {
                "area_fraction": f.tolist(),
                "spatial": np.asarray(spatial.rate.capture(f)).tolist(),
                "random": np.asarray(rnd.rate.capture(f)).tolist(),
                "in_sample": np.asarray(in_sample.capture(f)).tolist(),
            },
        }

    report = one(config)
    report.update(
        {
            "chance": {"auc": 0.5, "capture": {_key(f): f for f in CAPTURE_AT}},
            "block_km": float(block_km),
            "buffer_km": float(buffer_km),
            "evaluate_on": evaluate_on,
            "n_folds": int(n_folds),
            "seed": int(seed),
            "targets": targets,
            "n_deposits": int(prep.target.sum()),
            "n_sites": len(prep.deposits),
            "method": config.score.method,
        }
    )
    out_variants: dict[str, Any] = {}
    for name, family in (variants or {}).items():
        cfg = dataclasses.replace(
            config, score=dataclasses.replace(config.score, weights=dict(family), ahp={})
        )
        try:
            out_variants[name] = one(cfg)
        except ConfigError as exc:
            out_variants[name] = {"weights": dict(family), "skipped": str(exc)}
    report["variants"] = out_variants
    return report


def _check_folds(
    block_km: float, n_folds: int, buffer_km: float = 0.0, evaluate_on: str = "fold"
) -> None:
    problems = []
    if not (isinstance(buffer_km, (int, float)) and np.isfinite(buffer_km) and buffer_km >= 0):
        problems.append(f"buffer must be a number of km >= 0; got {buffer_km!r}")
    if evaluate_on not in ("fold", "region"):
        problems.append(f"evaluate_on must be 'fold' or 'region'; got {evaluate_on!r}")
    if not (isinstance(block_km, (int, float)) and np.isfinite(block_km) and block_km > 0):
        problems.append(f"block size must be a positive number of km; got {block_km!r}")
    if not (isinstance(n_folds, (int, np.integer)) and n_folds >= 2):
        problems.append(f"the number of folds must be an integer of at least 2; got {n_folds!r}")
    if problems:
        raise ConfigError("invalid cross-validation settings: " + "; ".join(problems) + ".")
