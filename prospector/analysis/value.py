"""Mineral value per parcel from known deposits (distance-decay kernel).

**Site weight** = status × commodity × diversity × significance:

- *status*: ``value.status_weights`` by ``dev_status`` (producer 1.0 ... occurrence 0.3);
- *commodity*: the best weight among the site's commodities — group weight ×
  (``critical_weight`` or ``noncritical_weight`` for the configured list year; or, with
  ``commodity_weighting = "import_reliance"``, ``import_floor + (1 - import_floor) × U.S.
  net import reliance``), per-commodity overrides, and × ``off_focus_weight`` for a
  commodity outside the commodity focus;
- *diversity*: +``diversity_bonus`` per additional critical commodity (at most +50 %);
- *significance*: × (1 + bonus) when the site's source is a compilation of significant
  deposits (``significance_sources``), × (1 + ``corroboration_bonus`` × min(n_sources - 1,
  ``corroboration_cap``)) when several independent sources report it (``n_sources`` of
  de-duplicated sites), × ``size_weights[size]`` when the source publishes a size.

**Parcel value**: each site within ``radius_km`` contributes its weight × the kernel of its
distance (0 inside the parcel) × ``nearby_factor`` when it lies outside the parcel (a
deposit inside a parcel is worth more than the same deposit next door).  With ``aggregate = "discounted"`` (default) the
contributions are sorted, best first, and the k-th is multiplied by ``discount**(k-1)``:
one significant deposit outweighs many records of one camp (a camp logged as a hundred
adits adds at most ``1 / (1 - discount)`` times its best record).  ``"sum"`` adds them all.
The site contributing most is reported (``value_site``, ``value_basis``) for the ``why``
sentence.
"""

from __future__ import annotations

import fnmatch
import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse
import shapely

from prospector._runtime import chunked, release_memory
from prospector.analysis._discount import discounted_sums
from prospector.analysis._text import join_sorted, text_array
from prospector.analysis.index import ParcelIndex
from prospector.config import ValueConfig
from prospector.schema.commodities import (
    COMMODITY_GROUPS,
    CommodityVocabulary,
    load_import_reliance,
    resolve_focus,
)

__all__ = [
    "commodity_weight",
    "deposit_weights",
    "deposits_in_parcels",
    "discounted_sums",
    "kernel",
    "parcel_value",
]

_SITE_BLOCK = 1 << 15
"""Sites whose kernel pairs are found at once (~50 candidate parcels a site: ~40 MB)."""
_PARCEL_BLOCK = 1 << 16
"""Parcels whose discounted sums are sorted at once (~8 pairs a parcel: ~40 MB of sort
temporaries; 1 << 18 made the step's peak ~90 MB higher at 1M parcels, for ~0.3 s less of
scanning the pairs for each block)."""


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


def commodity_weight(
    commodity: str,
    vocabulary: CommodityVocabulary,
    config: ValueConfig,
    *,
    focus: frozenset[str] = frozenset(),
) -> float:
    """Weight of one canonical commodity under *config* (before status and significance).

    See the module docstring; *focus* is the resolved commodity focus (empty: none).
    """
    if commodity in config.commodity_weights:
        weight = float(config.commodity_weights[commodity])
    else:
        group = vocabulary.groups.get(commodity, "industrial")
        if config.commodity_weighting == "import_reliance":
            known = load_import_reliance().get(commodity)
            share = (known.percent if known else config.unknown_import_reliance) / 100.0
            base = config.import_floor + (1.0 - config.import_floor) * share
        else:
            critical = vocabulary.is_critical(commodity)
            base = config.critical_weight if critical else config.noncritical_weight
        weight = base * config.group_weights.get(group, 0.0)
    if focus and commodity not in focus:
        weight *= config.off_focus_weight
    return weight


def _matches(sources: np.ndarray, patterns: dict[str, float]) -> np.ndarray:
    """Largest bonus of the patterns each source matches (0 when none)."""
    bonus = np.zeros(len(sources))
    distinct, inverse = np.unique(sources.astype(str), return_inverse=True)
    per = np.array(
        [
            max((b for p, b in patterns.items() if fnmatch.fnmatchcase(d, p)), default=0.0)
            for d in distinct
        ]
    )
    if len(distinct):
        bonus = per[inverse.reshape(-1)]
    return bonus


def _significance(deposits: gpd.GeoDataFrame, config: ValueConfig) -> tuple[np.ndarray, np.ndarray]:
    """Significance factor and its plain-language basis per site."""
    n = len(deposits)
    factor = np.ones(n)
    basis = np.full(n, "", dtype=object)
    patterns = {p.lower(): float(b) for p, b in config.significance_sources.items()}
    if patterns and n:
        if "sources" in deposits:
            # Merged sites: the best bonus among all merged records' sources.
            lists = deposits["sources"].to_numpy(dtype=object)
            lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=n)
            flat = np.array(list(itertools.chain.from_iterable(lists)), dtype=object)
            owner = np.repeat(np.arange(n), lengths)
            bonus = np.zeros(n)
            if len(flat):
                np.maximum.at(bonus, owner, _matches(np.char.lower(flat.astype(str)), patterns))
        elif "source" in deposits:
            src = deposits["source"].fillna("").to_numpy(dtype=object).astype(str)
            bonus = _matches(np.char.lower(src), patterns)
        else:
            bonus = np.zeros(n)
        factor *= 1.0 + bonus
        basis[bonus > 0] = "in a USGS significant-deposit compilation"
    if "n_sources" in deposits and n:
        extra = np.clip(
            pd.to_numeric(deposits["n_sources"]).fillna(1).to_numpy(dtype=float) - 1.0,
            0.0,
            float(config.corroboration_cap),
        )
        factor *= 1.0 + config.corroboration_bonus * extra
        many = extra > 0
        text = np.char.add(
            pd.to_numeric(deposits["n_sources"]).fillna(1).astype(int).astype(str).to_numpy(),
            " independent sources",
        ).astype(object)
        basis[many] = np.where(basis[many] == "", text[many], basis[many] + "; " + text[many])
    if "size" in deposits and n:
        size = deposits["size"].fillna("unknown").astype(str).str.lower()
        factor *= size.map(config.size_weights).fillna(1.0).to_numpy(dtype=float)
        sized = size.isin(["large", "medium"]).to_numpy()
        text = (size + " deposit").to_numpy(dtype=object)
        basis[sized] = np.where(basis[sized] == "", text[sized], basis[sized] + "; " + text[sized])
    return factor, basis


def deposit_weights(
    deposits: gpd.GeoDataFrame, vocabulary: CommodityVocabulary, config: ValueConfig
) -> pd.DataFrame:
    """Weight every site (see the module docstring for the rule).

    Returns
    -------
    pandas.DataFrame
        Indexed like *deposits*: ``weight`` (status × best commodity weight × diversity ×
        significance), ``significance`` (the factor), ``basis`` (what made the site
        significant, "" when nothing), ``group`` (group of the best-weighted commodity,
        ``"none"`` without a weighted commodity), ``critical`` (bool), ``n_critical``, and one
        ``w_<group>`` column per commodity group (status × best commodity weight within that
        group × significance).
    """
    status_w = (
        deposits["dev_status"]
        .map(config.status_weights)
        .fillna(config.status_weights.get("unknown", 0.0))
        .to_numpy(dtype=float)
    )
    n = len(deposits)
    focus = resolve_focus(config.focus_commodities, config.focus_groups, vocabulary=vocabulary)
    # Flatten the commodity lists: one row per (site, commodity), in list order.
    site, flat, names = _flat_commodities(deposits["commodities"].to_numpy(dtype=object))
    # Weight, group and criticality of each distinct commodity.
    groups = list(COMMODITY_GROUPS)
    w_name = np.zeros(len(names))
    g_name = np.zeros(len(names), dtype=np.int64)
    c_name = np.zeros(len(names), dtype=bool)
    for j, c in enumerate(list(names)):
        group = vocabulary.groups.get(c, "industrial")
        w_name[j] = commodity_weight(c, vocabulary, config, focus=focus)
        g_name[j] = groups.index(group) if group in groups else groups.index("industrial")
        c_name[j] = vocabulary.is_critical(c)
    w, g, crit = w_name[flat], g_name[flat], c_name[flat]
    n_critical = np.bincount(site, weights=crit, minlength=n).astype(np.int64)
    best = np.zeros(n)
    np.maximum.at(best, site, w)
    group_w = np.zeros((n, len(groups)))
    np.maximum.at(group_w, (site, g), w)
    # The group of a site is that of its best (positive) weight; equal weights go to the
    # group listed first in COMMODITY_GROUPS (gallium before zinc at Apex).
    best_group = np.full(n, "none", dtype=object)
    top = (w == best[site]) & (w > 0)
    order = np.lexsort((g[top], site[top]))
    first_site, first = np.unique(site[top][order], return_index=True)
    best_group[first_site] = np.array(groups, dtype=object)[g[top][order][first]]
    diversity = 1.0 + np.minimum(0.5, config.diversity_bonus * np.maximum(n_critical - 1, 0))
    significance, basis = _significance(deposits, config)
    out = pd.DataFrame(index=deposits.index)
    out["weight"] = status_w * best * diversity * significance
    out["significance"] = significance
    out["basis"] = text_array(basis)
    out["group"] = text_array(best_group)
    out["critical"] = n_critical > 0
    out["n_critical"] = n_critical
    for j, name in enumerate(groups):
        out[f"w_{name}"] = status_w * group_w[:, j] * significance
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
        Indexed like *parcels*: ``value_raw`` and ``value_<group>`` for every group, and
        ``value_site`` / ``value_basis``: the name of the site contributing most to the
        parcel's value and what made it significant ("" when none).
    """
    if deposits.crs != parcels.crs:
        raise ValueError("deposits and parcels must share the work CRS")
    n = len(parcels)
    radius_m = config.radius_km * 1000.0
    if len(deposits) == 0:
        out = pd.DataFrame(index=parcels.index)
        out["value_raw"] = 0.0
        for g in COMMODITY_GROUPS:
            out[f"value_{g}"] = 0.0
        out["value_site"] = text_array(np.full(n, "", dtype=object))
        out["value_basis"] = text_array(np.full(n, "", dtype=object))
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
    site_rows: list[np.ndarray] = []
    parcel_rows: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    for start in range(0, len(deposits), _SITE_BLOCK):
        stop = min(start + _SITE_BLOCK, len(deposits))
        # Candidates: parcels whose box meets the square of side 2·radius around each site
        # (the same candidates as predicate="dwithin", without its per-pair GEOS distance);
        # the kernel is 0 at and beyond the radius, so extra corner candidates add zeros.
        bi, bp = index.bounds_pairs(rects[start:stop])
        bi += start
        distance = chunked(lambda p, d: index.point_distance(p, points, xy, d), bp, bi)
        bk = kernel(distance, radius_m, config.kernel)
        if config.nearby_factor != 1.0:
            # A site inside the parcel (distance 0) counts in full; sites nearby are evidence
            # of extension, worth ``nearby_factor`` (default 0.3) of their kernel weight.
            bk = np.where(distance > 0, bk * config.nearby_factor, bk)
        keep = bk != 0  # NaN is kept: it must reach the sum
        site_rows.append(bi[keep].astype(np.int32 if len(deposits) < 2**31 else np.int64))
        parcel_rows.append(bp[keep].astype(np.int32 if n < 2**31 else np.int64))
        kept.append(bk[keep])
        del bi, bp, bk, keep, distance
    # The blocks' candidate pairs and distances are garbage now: handed back before the
    # pairs are joined.  Each list is dropped once joined: the pairs are held twice only
    # one array at a time (~8M pairs at 1M parcels; this step's peak ~190 MB lower).
    release_memory()
    di = np.concatenate(site_rows) if site_rows else np.zeros(0, dtype=np.int64)
    del site_rows
    pi = np.concatenate(parcel_rows) if parcel_rows else np.zeros(0, dtype=np.int64)
    del parcel_rows
    k = np.concatenate(kept) if kept else np.zeros(0)
    del kept
    release_memory()
    # Weighted sums per parcel as one sparse product.  The pairs come grouped by site, which
    # is the compressed-column layout as it stands (no sort); the product adds each
    # parcel's terms in site order whatever the partition (tiles keep the sites' relative
    # order), so sums are reproducible to the last bit.
    columns = ["weight", *(f"w_{g}" for g in COMMODITY_GROUPS)]
    site_w = weights[columns].to_numpy(dtype=float)
    # Equal contributions are ordered by site id (the same in every partition), else position.
    if "site_id" in deposits:
        site_key = np.unique(deposits["site_id"].astype(str).to_numpy(), return_inverse=True)[1]
        site_key = site_key.reshape(-1)
    else:
        site_key = np.arange(len(deposits))
    if config.aggregate == "sum":
        indptr = np.r_[0, np.cumsum(np.bincount(di, minlength=len(deposits)))]
        pairs = scipy.sparse.csc_matrix((k, pi, indptr), shape=(n, len(deposits)))
        sums = np.asfortranarray(pairs @ site_w)
        del pairs
        _, top = discounted_sums(pi, k * site_w[di, 0], n, 0.0, tiebreak=site_key[di])
    else:
        # Best first per parcel (ties in site order, which tiles keep): the same terms in
        # the same order whatever the partition, so sums are reproducible to the last bit.
        # Column-major: each column is one contiguous array the result frame takes as is.
        sums = np.zeros((n, len(columns)), order="F")
        top = np.full(n, -1, dtype=np.int64)
        weighted = site_w > 0
        # Parcels in blocks: a parcel's sum needs only its own pairs, so each block's are
        # sorted alone (the sort's temporaries scale with the block, not the region).
        for lo in range(0, n, _PARCEL_BLOCK):
            hi = min(lo + _PARCEL_BLOCK, n)
            block = np.flatnonzero((pi >= lo) & (pi < hi))
            for j in range(len(columns)):
                # Only pairs of sites weighted in this column can be positive (most sites
                # count in one or two groups): the products are taken for those alone.
                rows = block[weighted[di[block], j]]
                terms = k[rows] * site_w[di[rows], j]
                live = terms > 0
                rows, terms = rows[live], terms[live]
                del live
                sums[lo:hi, j], best = discounted_sums(
                    pi[rows] - lo,
                    terms,
                    hi - lo,
                    config.discount,
                    tiebreak=site_key[di[rows]] if j == 0 else None,
                )
                # The best term of the total value names the parcel's top site (none when
                # no term is live, e.g. only off-focus sites).
                if j == 0 and len(rows):
                    top[lo:hi] = np.where(best >= 0, rows[np.maximum(best, 0)], -1)
                del rows, terms, best
            del block
    site = np.where(top >= 0, di[np.maximum(top, 0)], -1)
    del di, pi, k, top  # the pairs are done with: freed before the text columns are made
    has = site >= 0
    names = np.full(n, "", dtype=object)
    basis = np.full(n, "", dtype=object)
    if has.any():
        if "name" in deposits:
            label = deposits["name"].fillna("").to_numpy(dtype=object)
        else:
            label = deposits.get("site_id", pd.Series("", index=deposits.index)).to_numpy(
                dtype=object
            )
        names[has] = label[site[has]]
        if "basis" in weights:
            basis[has] = weights["basis"].to_numpy(dtype=object)[site[has]]
    # One frame over the columns of `sums` as they are (frame[name] = array would copy each).
    values = {"value_raw": sums[:, 0]} | {
        f"value_{g}": sums[:, j] for j, g in enumerate(COMMODITY_GROUPS, start=1)
    }
    values |= {"value_site": text_array(names), "value_basis": text_array(basis)}
    return pd.DataFrame(values, index=parcels.index, copy=False)


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
