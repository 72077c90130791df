"""Per-fold scorers for validation: the learned model and the site-only baselines.

:mod:`prospector.analysis.validate` cross-validates rankings fold by fold.  The scorers
here are what it calls for the rankings that learn from the sites: each receives the
fold's *training sites* (a mask over the de-duplicated sites) and its *training cells*
(a mask over the parcels) and returns one score per parcel.  Everything that depends on
the sites is rebuilt inside the call from those masks alone:

* the positive parcels of the model are the parcels holding training sites;
* the model is fitted on training cells only — under spatial blocks, the parcels outside
  the held-out block and outside its buffer, so it never sees the held-out ground;
* brownfields kernels, ``kde`` and ``nearest5`` use the training sites only.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from prospector.analysis.baselines import brownfields_features, kde_score, nearest_score
from prospector.analysis.model import evidence_features, fit_prospectivity
from prospector.config import Config

__all__ = [
    "Scorer",
    "baseline_scorer",
    "label_sites",
    "model_scorer",
    "training_cells",
    "unexplored_km",
]

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(train_sites, train_cells) -> score per parcel``."""


def training_cells(parcels: gpd.GeoDataFrame, held_out: np.ndarray, buffer_km: float) -> np.ndarray:
    """Parcels a model may train on: not *held_out* and not within *buffer_km* of it.

    "Within" is decided on bounding boxes grown by the buffer (no GEOS distance per pair):
    a superset of the parcels truly within it — diagonal neighbours and irregular shapes
    can only drop more parcels from training, never fewer.
    """
    keep = ~np.asarray(held_out, dtype=bool)
    if buffer_km > 0 and (~keep).any():
        bounds = shapely.bounds(parcels.geometry.to_numpy())
        grow = buffer_km * 1000.0 * np.array([-1.0, -1.0, 1.0, 1.0])
        tree = shapely.STRtree(shapely.box(*(bounds[~keep] + grow).T))
        near, _ = tree.query(shapely.box(*bounds.T))
        keep[near] = False
    return keep


def model_scorer(
    parcels: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    owner: np.ndarray,
    target: np.ndarray,
    config: Config,
    *,
    brownfields: bool | None = None,
    threads: int = 1,
) -> Scorer:
    """Score parcels by a prospectivity model fitted on each fold's training data.

    Parameters
    ----------
    parcels
        Measured parcels (the evidence columns are the features).
    sites, owner
        De-duplicated sites and the positional index of each one's parcel (−1: none).
    target
        Sites the model learns from (e.g. those with a commodity).
    config
        ``config.model`` settings and ``config.seed``.
    brownfields
        Override ``config.model.brownfields``.
    threads
        LightGBM threads.
    """
    evidence = evidence_features(parcels)
    use_brownfields = config.model.brownfields if brownfields is None else brownfields
    key = parcels["parcel_id"].to_numpy()
    owner = np.asarray(owner)
    learn = np.asarray(target, dtype=bool) & (owner >= 0)
    centres = shapely.get_coordinates(shapely.centroid(parcels.geometry.to_numpy()))
    radii = config.model.brownfields_km

    def score(train_sites: np.ndarray, train_cells: np.ndarray) -> np.ndarray:
        train_sites = np.asarray(train_sites, dtype=bool)
        train_cells = np.asarray(train_cells, dtype=bool)
        use = learn & train_sites
        positive = np.bincount(owner[use], minlength=len(parcels))
        features = train_features = evidence
        if use_brownfields:
            kept = sites[train_sites]
            # Scoring: every training site counts, also inside the parcel (a known site).
            scoring = brownfields_features(parcels, kept, np.full(len(kept), -1), radii_km=radii)
            # Training rows: each positive parcel without the one site that labels it,
            # and every row without the sites as near as the ground being predicted is
            # to its nearest training site (see unexplored_km).
            labels = label_sites(owner[train_sites], use[train_sites])
            trained = brownfields_features(
                parcels, kept, labels, radii_km=radii,
                exclude_km=unexplored_km(centres, train_cells),
            )  # fmt: skip
            features = pd.concat([evidence, scoring], axis=1)
            train_features = pd.concat([evidence, trained], axis=1)
        model = fit_prospectivity(
            train_features, positive, key=key, config=config.model, seed=config.seed,
            train=train_cells, threads=threads,
        )  # fmt: skip
        return np.asarray(
            model.booster.predict(
                features[model.features].to_numpy(dtype=np.float64), num_threads=threads
            ),
            dtype=float,
        )

    return score


def label_sites(owner: np.ndarray, learn: np.ndarray) -> np.ndarray:
    """Leave-one-out owners: the first learnable site of each parcel keeps its parcel, others −1.

    Passed as *owner* to :func:`~prospector.analysis.baselines.brownfields_features`, it
    leaves out of each positive parcel's features exactly the site that makes it positive,
    so the parcel sees its other sites as a scored parcel would see a known site in it.
    """
    owner = np.asarray(owner, dtype=np.int64)
    out = np.full(len(owner), -1, dtype=np.int64)
    idx = np.flatnonzero(np.asarray(learn, dtype=bool) & (owner >= 0))
    _, first = np.unique(owner[idx], return_index=True)
    out[idx[first]] = owner[idx[first]]
    return out


def unexplored_km(centres: np.ndarray, train_cells: np.ndarray) -> float:
    """How far the ground being predicted lies from the training ground (median, km).

    The parcels outside *train_cells* (a held-out block and its buffer) are scored with
    brownfields kernels of training sites that all lie some distance away; training rows
    with every site nearby would teach the model a situation it never meets there.  The
    median distance from those parcels' centroids to the nearest training parcel's
    centroid is the radius of the sites each training row leaves out of its features.
    0 when every parcel trains (random folds, a ranking run): then only the label site
    is left out.
    """
    held = ~np.asarray(train_cells, dtype=bool)
    if not held.any() or held.all():
        return 0.0
    dist, _ = cKDTree(centres[~held]).query(centres[held])
    return float(np.median(dist)) / 1000.0


def baseline_scorer(parcels: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, kind: str) -> Scorer:
    """Score parcels by a site-only baseline (``kde`` or ``nearest5``) of the training sites."""
    centres = shapely.centroid(parcels.geometry.to_numpy())

    def score(train_sites: np.ndarray, train_cells: np.ndarray) -> np.ndarray:
        kept = sites[np.asarray(train_sites, dtype=bool)]
        if kind == "kde":
            return kde_score(centres, kept)
        if kind == "nearest5":
            return nearest_score(centres, kept, k=5)
        raise ValueError(f"unknown baseline {kind!r}")

    return score
