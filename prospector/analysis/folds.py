"""Fold construction for cross-validation: spatial blocks and random site folds.

See :mod:`prospector.analysis.validate` for the method and why the two schemes differ.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from prospector.errors import ConfigError, CRSError

__all__ = ["block_folds", "check_folds", "random_folds"]


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
    check_folds(block_km, n_folds)
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
    check_folds(1.0, n_folds)
    rng = np.random.default_rng(seed)
    folds = np.empty(n_deposits, dtype=np.int64)
    folds[rng.permutation(n_deposits)] = np.arange(n_deposits) % n_folds
    return folds


def check_folds(
    block_km: float, n_folds: int, buffer_km: float = 0.0, evaluate_on: str = "fold"
) -> None:
    """Check cross-validation settings, reporting every problem in one :class:`ConfigError`."""
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
