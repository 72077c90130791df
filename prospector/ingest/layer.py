"""One vector layer in: read, check its CRS, normalise it, reproject it, keep what is near.

:func:`load_layer` is the single path every vector layer takes, whether a region run
loads it (clipped to the search area) or ``prospector layers check`` checks it (no
clip): what the check accepts, a run accepts.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pyproj
import shapely

from prospector.catalog import LayerRef
from prospector.crs import check_layer_crs, split_antimeridian, to_work_crs
from prospector.errors import ProspectorWarning
from prospector.ingest.normalize import LayerReport, normalize_layer
from prospector.ingest.read import read_vector
from prospector.schema.commodities import CommodityVocabulary

__all__ = ["canonical_order", "layer_label", "load_layer"]


def layer_label(ref: LayerRef) -> str:
    """File and layer of *ref*, as messages name them."""
    return f"{ref.path}" + (f" (layer {ref.layer})" if ref.layer else "")


def load_layer(
    ref: LayerRef,
    *,
    crs: pyproj.CRS,
    vocabulary: CommodityVocabulary,
    clip_to: shapely.Geometry | None = None,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Read one vector layer, check its CRS, normalise it and reproject it to *crs*.

    Features that miss ``clip_to`` (the boundary, or its envelope buffered by the caller)
    are dropped and counted in ``report.n_outside_region``.  A
    :class:`~prospector.errors.ProspectorWarning` announces it when every feature falls
    outside (a wrong file or CRS, most likely), and for parcel layers whenever parcels
    are dropped (parcels are meant to lie in the region).  Other layers are routinely
    larger than the region (national layers), so their count only goes to the manifest.

    Parameters
    ----------
    ref
        The file, its layer and filter, and the catalogue entry that explains it.
    crs
        Work CRS to reproject to.
    vocabulary
        Commodity vocabulary (deposits).
    clip_to
        Keep only features intersecting this geometry (in *crs*); None keeps all.

    Returns
    -------
    (geopandas.GeoDataFrame, LayerReport)
        The layer in its canonical schema and *crs*, and what happened on the way.
    """
    where = layer_label(ref)
    raw = read_vector(ref.path, layer=ref.layer, where=ref.where, points=ref.points)
    check_layer_crs(raw, where=where)
    raw = split_antimeridian(raw, where=where)
    gdf, report = normalize_layer(raw, ref.entry, where=where, vocabulary=vocabulary)
    gdf = to_work_crs(gdf, crs)
    if clip_to is not None:
        gdf = _keep_near(gdf, ref, clip_to, report)
    report.n_kept = len(gdf)
    return gdf, report


def _keep_near(
    gdf: gpd.GeoDataFrame, ref: LayerRef, clip_to: shapely.Geometry, report: LayerReport
) -> gpd.GeoDataFrame:
    """Drop (and count) the features that miss *clip_to*; warn where that is suspicious."""
    hits = gdf.sindex.query(clip_to, predicate="intersects")
    n_before = len(gdf)
    gdf = gdf.iloc[sorted(hits)].reset_index(drop=True)
    report.n_outside_region = n_before - len(gdf)
    if report.n_outside_region and (gdf.empty or ref.role == "parcels"):
        area = "the region boundary" if ref.role == "parcels" else "the search area"
        warnings.warn(
            f"{layer_label(ref)}: dropped {report.n_outside_region} of {n_before} {ref.role} "
            f"features that lie outside {area}"
            + (
                " (the region's envelope plus the value/access search radius)"
                if ref.role != "parcels"
                else ""
            )
            + ("; none is left, so the layer is not used" if gdf.empty else "")
            + ". Check that the file covers the region and that its CRS is right.",
            ProspectorWarning,
            stacklevel=3,
        )
    return gdf


def canonical_order(gdf: gpd.GeoDataFrame, key: str | None = None) -> gpd.GeoDataFrame:
    """Sort rows by *key* (a unique id), else by every attribute and the geometry's WKB.

    Makes every later step independent of the row order of the input files: sums over
    features, spatial-index hits and ties all come out the same for shuffled inputs.
    """
    if gdf.empty:
        return gdf
    if key is not None:
        order = gdf[key].astype(str).sort_values(kind="mergesort").index
    else:
        keys = pd.DataFrame(
            {
                f"c{i}": gdf[c].astype(str)
                for i, c in enumerate(gdf.columns)
                if c != gdf.geometry.name
            },
            index=gdf.index,
        )
        keys["wkb"] = shapely.to_wkb(gdf.geometry.array, hex=True)
        order = keys.sort_values(list(keys.columns), kind="mergesort").index
    return gdf.loc[order].reset_index(drop=True)
