"""One human sentence per parcel saying why it ranks where it does."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from prospector._runtime import n_threads, release_memory

__all__ = ["CRITERION_LABELS", "explain"]

#: Plain-language names of criteria, used in sentences, legends and popups.
CRITERION_LABELS: dict[str, str] = {
    "value": "known deposits",
    "access_road": "road access",
    "access_rail": "rail access",
    "access_power": "power access",
    "terrain": "gentle terrain",
    "travel": "short travel from roads",
    "evidence_fault": "nearby faults",
    "prospectivity": "learned prospectivity",
}


def _int_text(values: np.ndarray) -> pa.Array:
    """Decimal text of integers, through Arrow's C cast."""
    return pc.cast(pa.array(values, type=pa.int64()), pa.string())


def _concat(*parts: pa.Array | str) -> np.ndarray:
    """Element-wise concatenation of Arrow string arrays and literals (object array)."""
    return pc.binary_join_element_wise(*parts, "").to_numpy(zero_copy_only=False)


def _km(values: pd.Series) -> pd.Series:
    """``f"{v:.0f} km"`` from 10 km, ``f"{v:.1f} km"`` below, "" for NaN (vectorised).

    ``np.rint`` rounds half to even on the exact binary value, as ``format`` does, so whole
    kilometres are exact; tenths come from ``rint(v * 10)`` except within 1e-6 of a half
    (where the product may round), which are formatted by Python like the rest used to be.
    """
    v = values.to_numpy(dtype=float, na_value=np.nan)
    out = np.full(len(v), "", dtype=object)
    finite = np.isfinite(v) & (v >= 0) & (v < 1e15)
    big = finite & (v >= 10)
    if big.any():
        out[big] = _concat(_int_text(np.rint(v[big]).astype(np.int64)), " km")
    tenths = v * 10.0
    frac = tenths - np.floor(tenths)
    small = finite & ~big & (np.abs(frac - 0.5) > 1e-6)
    if small.any():
        r = np.rint(tenths[small]).astype(np.int64)
        out[small] = _concat(_int_text(r // 10), ".", _int_text(r % 10), " km")
    other = ~np.isnan(v) & ~big & ~small
    for i in np.flatnonzero(other):
        out[i] = f"{v[i]:.0f} km" if v[i] >= 10 else f"{v[i]:.1f} km"
    return pd.Series(out, index=values.index, dtype=object)


def _first(items: pa.Array, n: int) -> pa.Array:
    """First *n* entries of '; '-joined lists, comma-separated, with an ellipsis if cut.

    Null where the list is empty.
    """
    items = _nonempty(items)
    parts = pc.split_pattern(items, "; ")
    head = pc.binary_join(pc.list_slice(parts, 0, n), ", ")
    cut = pc.greater(pc.list_value_length(parts), n)
    return pc.if_else(cut, pc.binary_join_element_wise(head, "…", ""), head)


def _strings(values: Any, n: int) -> pa.Array:
    """Return a string column as an Arrow array, "" for missing (zero-copy if Arrow-backed)."""
    if values is None:
        return pa.array(np.full(n, "", dtype=object), type=pa.string())
    arr = pa.array(pd.Series(values), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    return pc.fill_null(arr, "")


def _nonempty(arr: pa.Array) -> pa.Array:
    """*arr* with empty strings as nulls (skipped when joining parts)."""
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def _where(mask: np.ndarray, a: pa.Array | str | None, b: pa.Array | str | None) -> pa.Array:
    """Element-wise ``a if mask else b`` for Arrow string arrays, literals or None (null)."""

    def scalar(v: pa.Array | str | None) -> pa.Array | pa.Scalar:
        return v if isinstance(v, pa.Array) else pa.scalar(v, pa.string())

    return pc.if_else(pa.array(mask, type=pa.bool_()), scalar(a), scalar(b))


def _prospectivity_text(parcels: pd.DataFrame) -> pa.Array:
    """``"prospectivity 0.82 (0.71-0.90), raised by high fault density and many fault tips"``.

    From ``prospectivity``, its band and ``prospectivity_why`` (the TreeSHAP reasons).
    """
    size = len(parcels)

    def fixed(name: str) -> pa.Array:
        col = parcels.get(name)
        v = np.full(size, np.nan) if col is None else pd.to_numeric(col).to_numpy(dtype=float)
        hundredths = np.rint(np.clip(np.nan_to_num(v), 0.0, 1.0) * 100).astype(np.int64)
        text = _concat(
            _int_text(hundredths // 100), ".", pc.utf8_lpad(_int_text(hundredths % 100), 2, "0")
        )
        return pa.array(text, type=pa.string(), mask=~np.isfinite(v))

    p, lo, hi = fixed("prospectivity"), fixed("prospectivity_lo"), fixed("prospectivity_hi")
    band = pc.coalesce(pc.binary_join_element_wise(" (", lo, "–", hi, ")", ""), pa.scalar(""))
    reasons = _nonempty(_strings(parcels.get("prospectivity_why"), size))
    raised = pc.coalesce(pc.binary_join_element_wise(", raised by ", reasons, ""), pa.scalar(""))
    return pc.binary_join_element_wise("prospectivity ", p, band, raised, "")


#: Rows a thread turns into sentences at once: ~12 MB of temporaries per thread.  The
#: sentences are made last, beside the whole result: at 1M parcels 32,768-row blocks put
#: ~25 MB more on the run's peak, for ~0.2 s less.
_BLOCK = 1 << 14


def explain(parcels: pd.DataFrame, *, radius_km: float) -> pd.Series:
    """Build the ``why`` sentence of every parcel (vectorised with Arrow string kernels).

    Uses the canonical parcel columns (rank, n_deposits, commodities, critical_commodities,
    dist_*_km, land_status, agency, withdrawals, withdrawn_frac, contrib_*).  Example:
    ``"#12: 3 known sites inside (uranium, vanadium); critical: uranium, vanadium; 4.2 km
    to rail; 0.8 km to a Quaternary fault; ownership unknown. Driven by known deposits."``
    Parcels of a learned-prospectivity run (``prospectivity`` column) start with the model's
    output, its band and the features that raise it most: ``"#1: prospectivity 0.82
    (0.71–0.90), raised by high fault density and many fault tips; ..."``.
    Blocks of rows run on parallel threads (Arrow's kernels release the GIL).
    """
    size = len(parcels)
    block = _BLOCK
    starts = range(0, max(size, 1), block)
    workers = min(n_threads(), len(starts))

    def one(start: int) -> pa.Array:
        part = _sentences(parcels.iloc[start : start + block], radius_km)
        # Each thread's allocator keeps the block's freed temporaries for reuse; handed
        # back at once, they do not pile up beside the sentences (1M parcels: the step's
        # peak ~40 MB lower for ~0.1-0.3 s; every 4th block kept most of the peak).  A
        # malloc pool (a ranking run's, _runtime.malloc_arrow_pool) is trimmed after the
        # step instead: malloc_trim walks the whole heap.
        release_memory(malloc=False)
        return part

    if workers == 1:
        parts = [one(s) for s in starts]
    else:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(one, starts))
    out = pa.chunked_array(parts, type=pa.string()).to_pandas()  # Arrow-backed in pandas 3
    out.index = parcels.index
    return out


def _sentences(parcels: pd.DataFrame, radius_km: float) -> pa.Array:
    """Build the sentences of *parcels* (see :func:`explain`)."""
    size = len(parcels)

    def numbers(name: str, default: float) -> np.ndarray:
        col = parcels.get(name)
        if col is None:
            return np.full(size, default)
        return pd.to_numeric(col).to_numpy(dtype=float, na_value=np.nan)

    n = np.nan_to_num(numbers("n_deposits", 0.0)).astype(np.int64)
    value = np.nan_to_num(numbers("value_raw", 0.0))

    # Known sites: inside the parcel, else whether any lies within the kernel radius.
    has = n > 0
    listed = _first(_strings(parcels.get("commodities"), size), 4)
    crit = _first(_strings(parcels.get("critical_commodities"), size), 4)
    count = pc.binary_join_element_wise(
        _int_text(n), _where(n == 1, " known site inside", " known sites inside"), ""
    )
    what = pc.coalesce(
        pc.binary_join_element_wise(" (", listed, ")", ""), pa.scalar(" (commodity unidentified)")
    )
    critical = pc.coalesce(pc.binary_join_element_wise("; critical: ", crit, ""), pa.scalar(""))
    sites = pc.binary_join_element_wise(count, what, critical, "")
    nearby = _where(
        value > 0, f"known sites within {radius_km:g} km", f"no known site within {radius_km:g} km"
    )
    parts: list[pa.Array] = [pc.if_else(pa.array(has), sites, nearby)]
    # What made the parcel valuable: the site contributing most, and why it is significant.
    site = _nonempty(_strings(parcels.get("value_site"), size))
    basis = _nonempty(_strings(parcels.get("value_basis"), size))
    detail = pc.coalesce(pc.binary_join_element_wise(" (", basis, ")", ""), pa.scalar(""))
    parts.append(pc.binary_join_element_wise("most value from ", site, detail, ""))

    for kind, label in (
        ("road", "road"),
        ("rail", "rail"),
        ("power", "power"),
        ("fault", "a Quaternary fault"),
    ):
        col = f"dist_{kind}_km"
        if col in parcels:
            km = _nonempty(pa.array(_km(parcels[col]).to_numpy(dtype=object), type=pa.string()))
            parts.append(pc.binary_join_element_wise(km, f" to {label}", ""))

    status = parcels.get("land_status")
    status_v = (
        np.full(size, "unknown", dtype=object) if status is None else status.to_numpy(dtype=object)
    )
    ground = pc.utf8_trim_whitespace(
        pc.binary_join_element_wise(_strings(parcels.get("agency"), size), " ground", "")
    )
    reason = pc.utf8_trim_whitespace(
        pc.list_element(pc.split_pattern(_strings(parcels.get("status_reason"), size), ";"), 0)
    )
    closed_text = _where(
        pc.equal(reason, "").to_numpy(zero_copy_only=False),
        "closed",
        pc.binary_join_element_wise("closed: ", reason, ""),
    )
    land = _where(status_v == "closed", closed_text, "ownership unknown")
    land = _where(status_v == "open", pc.binary_join_element_wise("open ", ground, ""), land)
    land = _where(
        status_v == "partly_open", pc.binary_join_element_wise("partly open ", ground, ""), land
    )
    land = _where(
        status_v == "restricted",
        pc.binary_join_element_wise("open with restrictions (WSA/ACEC) ", ground, ""),
        land,
    )
    land = _where(
        status_v == "verify_boundary",
        pc.binary_join_element_wise("verify boundary: ", reason, ""),
        land,
    )
    parts.append(land)

    withdrawn = np.nan_to_num(numbers("withdrawn_frac", 0.0))
    names = _strings(parcels.get("withdrawals"), size)
    pct = _where(withdrawn >= 0.005, _int_text(np.round(withdrawn * 100).astype(np.int64)), "<1")
    named = (withdrawn > 0) & (pc.not_equal(names, "").to_numpy(zero_copy_only=False))
    parts.append(
        _where(named, pc.binary_join_element_wise(pct, "% withdrawn (", names, ")", ""), None)
    )
    if "prospectivity" in parcels:
        parts.insert(0, _prospectivity_text(parcels))
    body = pc.binary_join_element_wise(*parts, "; ", null_handling="skip")

    head: pa.Array | str = ""
    rank = parcels.get("rank")
    if rank is not None:
        r = pd.to_numeric(rank).to_numpy(dtype=float, na_value=np.nan)
        ok = ~np.isnan(r)
        text = _int_text(np.where(ok, r, 0).astype(np.int64))
        head = _where(ok, pc.binary_join_element_wise("#", text, ": ", ""), "")
    tail: pa.Array | str = ""
    contrib_cols = [c for c in parcels.columns if c.startswith("contrib_")]
    if contrib_cols:
        contrib = np.nan_to_num(
            parcels[contrib_cols].to_numpy(dtype=float, na_value=np.nan), nan=-np.inf
        )
        top = np.argmax(contrib, axis=1)
        labels = np.array(
            [
                f" Driven by {CRITERION_LABELS.get(c, c.replace('_', ' '))}."
                for c in (c.removeprefix("contrib_") for c in contrib_cols)
            ],
            dtype=object,
        )
        driven = contrib[np.arange(size), top] > 0
        tail = _where(driven, pa.array(labels[top], type=pa.string()), "")
    return pc.binary_join_element_wise(head, body, ".", tail, "")
