"""Mineral value per parcel from known deposits (distance-decay kernel).

Each site gets a weight from its commodities (criticality for the configured list year,
commodity-group weights, per-commodity overrides), its development status and the
diversity of its critical commodities.  A parcel's value is the kernel-weighted sum of
the weights of the sites within ``radius_km`` of it (distance 0 inside the parcel).
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse
import shapely

from prospector._runtime import chunked
from prospector.analysis._text import join_sorted, text_array
from prospector.analysis.index import ParcelIndex
from prospector.config import ValueConfig
from prospector.schema.commodities import COMMODITY_GROUPS, CommodityVocabulary

__all__ = ["deposit_weights", "deposits_in_parcels", "kernel", "parcel_value"]

_SITE_BLOCK = 1 << 15
"""Sites whose kernel pairs are found at once (~50 candidate parcels a site: ~40 MB)."""


def kernel(distance_m: np.ndarray, radius_m: float, kind: str = "biweight") -> np.ndarray:
    """Distance-decay kernel: 1 at distance 0, 0 at and beyond *radius_m*."""
    u = np.clip(np.asarray(distance_m, dtype=float) / radius_m, 0.0, None)
    if kind == "biweight":
        k = (1.0 - u**2) ** 2
    elif kind == "gaussian":
        # Gaussian with sigma = radius / 3, truncated at the radius.
        k = np.exp(-0.5 * (3.0 * u) ** 2)
    elif kind == "uniform":
        k = np.ones_like(u)
    else:
        raise ValueError(f"unknown kernel {kind!r}")
    return np.where(u < 1.0, k, 0.0)


def _flat_commodities(lists: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten per-site commodity lists: ``(site, code, names)`` per entry, in list order.

    ``names[code[k]]`` is entry *k*'s commodity (``names`` in order of first appearance)
    and ``site[k]`` its position in *lists*.
    """
    lengths = np.fromiter((len(c) for c in lists), dtype=np.int64, count=len(lists))
    site = np.repeat(np.arange(len(lists)), lengths)
    flat = np.array(list(itertools.chain.from_iterable(lists)), dtype=object)
    named = ~pd.isna(flat)  # a None or NaN inside a list names no commodity
    if not named.all():
        site, flat = site[named], flat[named]
    code, names = pd.factorize(flat.astype(str))
    return site, code, np.asarray(names, dtype=object)


def deposit_weights(
    deposits: gpd.GeoDataFrame, vocabulary: CommodityVocabulary, config: ValueConfig
) -> pd.DataFrame:
    """Weight every site.

    Returns
    -------
    pandas.DataFrame
        Indexed like *deposits*: ``weight`` (status × best commodity weight × diversity),
        ``group`` (group of the best-weighted commodity, ``"none"`` without commodities),
        ``critical`` (bool), ``n_critical``, and one ``w_<group>`` column per commodity group
        (status × best commodity weight within that group).
    """
    status_w = (
        deposits["dev_status"]
        .map(config.status_weights)
        .fillna(config.status_weights.get("unknown", 0.0))
        .to_numpy(dtype=float)
    )
    n = len(deposits)
    # Flatten the commodity lists: one row per (site, commodity), in list order.
    site, flat, names = _flat_commodities(deposits["commodities"].to_numpy(dtype=object))
    # Weight, group and criticality of each distinct commodity.
    groups = list(COMMODITY_GROUPS)
    w_name = np.zeros(len(names))
    g_name = np.zeros(len(names), dtype=np.int64)
    c_name = np.zeros(len(names), dtype=bool)
    for j, c in enumerate(list(names)):
        group = vocabulary.groups.get(c, "industrial")
        critical = vocabulary.is_critical(c)
        if c in config.commodity_weights:
            w_name[j] = float(config.commodity_weights[c])
        else:
            base = config.critical_weight if critical else config.noncritical_weight
            w_name[j] = base * config.group_weights.get(group, 0.0)
        g_name[j] = groups.index(group) if group in groups else groups.index("industrial")
        c_name[j] = critical
    w, g, crit = w_name[flat], g_name[flat], c_name[flat]
    n_critical = np.bincount(site, weights=crit, minlength=n).astype(np.int64)
    best = np.zeros(n)
    np.maximum.at(best, site, w)
    group_w = np.zeros((n, len(groups)))
    np.maximum.at(group_w, (site, g), w)
    # The group of a site is that of its first commodity with the best (positive) weight.
    best_group = np.full(n, "none", dtype=object)
    top = (w == best[site]) & (w > 0)
    first_site, first = np.unique(site[top], return_index=True)
    best_group[first_site] = np.array(groups, dtype=object)[g[top][first]]
    diversity = 1.0 + np.minimum(0.5, config.diversity_bonus * np.maximum(n_critical - 1, 0))
    out = pd.DataFrame(index=deposits.index)
    out["weight"] = status_w * best * diversity
    out["group"] = text_array(best_group)
    out["critical"] = n_critical > 0
    out["n_critical"] = n_critical
    for j, name in enumerate(groups):
        out[f"w_{name}"] = status_w * group_w[:, j]
    return out


def parcel_value(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    weights: pd.DataFrame,
    config: ValueConfig,
    *,
    index: ParcelIndex | None = None,
) -> pd.DataFrame:
    """Kernel-weighted deposit value per parcel, total and per commodity group.

    *index* is a :class:`~prospector.analysis.index.ParcelIndex` of *parcels*, when the
    caller already has one.

    Returns
    -------
    pandas.DataFrame
        Indexed like *parcels*: ``value_raw`` and ``value_<group>`` for every group.
    """
    if deposits.crs != parcels.crs:
        raise ValueError("deposits and parcels must share the work CRS")
    n = len(parcels)
    radius_m = config.radius_km * 1000.0
    out = pd.DataFrame(index=parcels.index)
    if len(deposits) == 0:
        out["value_raw"] = 0.0
        for g in COMMODITY_GROUPS:
            out[f"value_{g}"] = 0.0
        return out
    if index is None:
        index = ParcelIndex.of(parcels.geometry.to_numpy())
    points = deposits.geometry.to_numpy()
    pb = shapely.bounds(points)
    simple = (shapely.get_type_id(points) == 0) & ~np.isnan(pb[:, 0])
    # Coordinates for the exact array path; other geometries (none after normalisation)
    # take GEOS distances.
    xy = pb[:, :2] if simple.all() else None
    rects = pb + np.array([-radius_m, -radius_m, radius_m, radius_m])
    # Sites in blocks: each block's candidate pairs are found, weighted and reduced to the
    # non-zero terms before the next, so only those are ever held (the candidates are ~50
    # parcels a site, a fifth of them zero).  Dropping exact zeros leaves every sum as it is.
    count = np.zeros(len(deposits), dtype=np.int64)
    rows: list[np.ndarray] = []
    terms: list[np.ndarray] = []
    for start in range(0, len(deposits), _SITE_BLOCK):
        stop = min(start + _SITE_BLOCK, len(deposits))
        # Candidates: parcels whose box meets the square of side 2·radius around each site
        # (the same candidates as predicate="dwithin", without its per-pair GEOS distance);
        # the kernel is 0 at and beyond the radius, so extra corner candidates add zeros.
        di, pi = index.bounds_pairs(rects[start:stop])
        di += start
        k = chunked(
            lambda p, d: kernel(index.point_distance(p, points, xy, d), radius_m, config.kernel),
            pi,
            di,
        )
        keep = k != 0  # NaN is kept: it must reach the sum
        count[start:stop] = np.bincount(di[keep] - start, minlength=stop - start)
        rows.append(pi[keep].astype(np.int32 if n < 2**31 else np.int64))
        terms.append(k[keep])
        del di, pi, k, keep
    # Weighted sums per parcel as one sparse product.  The pairs come grouped by site, which
    # is the compressed-column layout as it stands (no sort); the product adds each
    # parcel's terms in site order whatever the partition (tiles keep the sites' relative
    # order), so sums are reproducible to the last bit.
    columns = ["weight", *(f"w_{g}" for g in COMMODITY_GROUPS)]
    site_w = weights[columns].to_numpy(dtype=float)
    indptr = np.r_[0, np.cumsum(count)]
    pairs = scipy.sparse.csc_matrix(
        (np.concatenate(terms), np.concatenate(rows), indptr), shape=(n, len(deposits))
    )
    del rows, terms
    sums = np.asarray(pairs @ site_w)
    out["value_raw"] = sums[:, 0]
    for j, g in enumerate(COMMODITY_GROUPS, start=1):
        out[f"value_{g}"] = sums[:, j]
    return out


def deposits_in_parcels(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    vocabulary: CommodityVocabulary,
    *,
    index: ParcelIndex | None = None,
    critical: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Count sites inside each parcel and list their commodities.

    A site on a shared edge belongs to the first parcel (in parcel order) that touches it.
    *index* is a :class:`~prospector.analysis.index.ParcelIndex` of *parcels*; *critical*
    flags the sites with a critical commodity (``deposit_weights(...)["critical"]``); both
    are computed when not given.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray)
        Per parcel ``n_deposits, n_critical_deposits, commodities, critical_commodities``;
        and per deposit the positional index of its parcel (-1 outside every parcel).
    """
    n = len(parcels)
    out = pd.DataFrame(index=parcels.index)
    owner = np.full(len(deposits), -1, dtype=np.int64)
    if len(deposits):
        if index is None:
            index = ParcelIndex.of(parcels.geometry.to_numpy())
        di, pi = index.points_in(deposits.geometry.to_numpy())
        first = np.r_[True, di[1:] != di[:-1]] if len(di) else np.zeros(0, dtype=bool)
        owner[di[first]] = pi[first]
    inside = owner >= 0
    out["n_deposits"] = np.bincount(owner[inside], minlength=n).astype("int64")
    commodity_lists = deposits["commodities"].to_numpy()
    if critical is None:
        critical_site = np.array(
            [any(vocabulary.is_critical(c) for c in cs) for cs in commodity_lists], dtype=bool
        )
    else:
        critical_site = np.asarray(critical, dtype=bool)
    out["n_critical_deposits"] = np.bincount(owner[inside & critical_site], minlength=n).astype(
        "int64"
    )
    commodities = np.full(n, "", dtype=object)
    critical = np.full(n, "", dtype=object)
    site, code, names = _flat_commodities(commodity_lists)
    held = owner[site] >= 0
    if held.any():
        # Distinct (parcel, commodity) pairs sorted by parcel then name: one integer key each.
        order = np.argsort(names)
        sorted_names, rank = names[order], np.empty(len(names), dtype=np.int64)
        rank[order] = np.arange(len(names))
        m = len(names)
        key = np.unique(owner[site[held]] * m + rank[code[held]])
        parcel, name = key // m, sorted_names[key % m]
        keys, joined = join_sorted(parcel, name)
        commodities[keys] = joined
        is_crit = np.array([vocabulary.is_critical(c) for c in sorted_names], dtype=bool)
        sel = is_crit[key % m]
        if sel.any():
            keys, joined = join_sorted(parcel[sel], name[sel])
            critical[keys] = joined
    out["commodities"] = text_array(commodities)
    out["critical_commodities"] = text_array(critical)
    return out, owner
