"""Learned prospectivity on synthetic evidence where the truth is known (SYNTHETIC data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter

from prospector.analysis.model import (
    evidence_features,
    feature_label,
    fit_prospectivity,
    predict_prospectivity,
    top_reasons,
)
from prospector.config import load_config
from prospector.errors import ConfigError

N = 50  # parcels per side


def _field(rng: np.random.Generator) -> np.ndarray:
    """A smooth random field on the N × N grid, scaled to [0, 1]."""
    f = gaussian_filter(rng.normal(size=(N, N)), sigma=3.0)
    return ((f - f.min()) / (f.max() - f.min())).reshape(-1)


@pytest.fixture(scope="module")
def synthetic():
    """Sites drawn where a 'magnetic' field is high; a decoy field with no relation."""
    rng = np.random.default_rng(42)
    signal, decoy = _field(rng), _field(rng)
    # P(site in parcel) rises steeply with the signal: ~15× between low and high ground.
    p = np.exp(4.0 * signal)
    p = p / p.sum()
    sites = rng.choice(N * N, size=300, p=p)
    positive = np.bincount(sites, minlength=N * N)
    table = pd.DataFrame(
        {
            "parcel_id": [f"p{i:05d}" for i in range(N * N)],
            "ev_mag_mean": signal * 100.0,
            "ev_decoy_mean": decoy * 100.0,
            "dist_road_km": signal * 10.0,  # access: must never become a feature
            "value_raw": positive.astype(float),
        }
    )
    row, col = np.divmod(np.arange(N * N), N)
    blocks = (row // 10 * 5 + col // 10) % 5
    return table, positive, blocks


def _config():
    return load_config({"model": {"n_estimators": 100}})


def test_features_are_evidence_only(synthetic):
    table, _, _ = synthetic
    features = evidence_features(table.assign(constant=1.0, ev_flat_mean=3.0))
    # dist_road_km (access), value_raw (sites) and the constant raster are not features.
    assert list(features.columns) == ["ev_decoy_mean", "ev_mag_mean"]


def test_model_finds_the_signal_and_ignores_the_decoy(synthetic):
    table, positive, blocks = synthetic
    features = evidence_features(table)
    config = _config()
    model = fit_prospectivity(
        features, positive, key=table["parcel_id"].to_numpy(), config=config.model,
        seed=1, blocks=blocks,
    )  # fmt: skip
    importance = model.card["importance"]
    # Gain importance: the decoy still catches some chance structure of 300 sites (trees
    # split on noise too), but the signal leads clearly.
    assert importance["ev_mag_mean"] > 1.4 * importance["ev_decoy_mean"]
    out = predict_prospectivity(model, features)
    shap = out[["shap_ev_mag_mean", "shap_ev_decoy_mean"]].abs().mean()
    assert shap["shap_ev_mag_mean"] > 2.5 * shap["shap_ev_decoy_mean"]
    # Prospectivity rises with the signal (rank correlation) and not with the decoy.
    rho = pd.Series(out["prospectivity"]).corr(table["ev_mag_mean"], method="spearman")
    rho_decoy = pd.Series(out["prospectivity"]).corr(table["ev_decoy_mean"], method="spearman")
    assert rho > 0.75
    assert abs(rho_decoy) < 0.15
    # The band brackets the full model and the values are probabilities.
    assert (out["prospectivity_lo"] <= out["prospectivity"]).all()
    assert (out["prospectivity"] <= out["prospectivity_hi"]).all()
    assert out["prospectivity"].between(0, 1).all()
    assert model.card["fold_models"] == 5
    assert model.card["training_parcels_positive"] == int((positive > 0).sum())
    # TreeSHAP: contributions plus the bias give the raw score (log-odds) exactly.
    raw = model.booster.predict(features.to_numpy(), raw_score=True)
    bias = model.booster.predict(features.to_numpy(), pred_contrib=True)[:, -1]
    total = out[[c for c in out if c.startswith("shap_")]].sum(axis=1) + bias
    np.testing.assert_allclose(total, raw, rtol=0, atol=1e-9)
    # Out-of-fold predictions exist for every parcel and carry the signal too.
    assert np.isfinite(model.oof).all()
    assert pd.Series(model.oof).corr(table["ev_mag_mean"], method="spearman") > 0.5


def test_same_output_whatever_the_row_order_and_threads(synthetic):
    table, positive, blocks = synthetic
    features = evidence_features(table)
    config = _config()
    key = table["parcel_id"].to_numpy()

    def run(order: np.ndarray, threads: int) -> pd.DataFrame:
        model = fit_prospectivity(
            features.iloc[order], positive[order], key=key[order], config=config.model,
            seed=3, blocks=blocks[order], threads=threads,
        )  # fmt: skip
        return predict_prospectivity(model, features.iloc[order], threads=threads).sort_index()

    base = run(np.arange(N * N), 1)
    shuffled = run(np.random.default_rng(0).permutation(N * N), 2)
    pd.testing.assert_frame_equal(base, shuffled, check_exact=True)


def test_partial_coverage_stays_a_feature(synthetic):
    table, positive, _ = synthetic
    partial = table.copy()
    # The magnetic survey covers the western 40 % of the region only.
    col = np.arange(N * N) % N
    partial.loc[col >= 0.4 * N, "ev_mag_mean"] = np.nan
    features = evidence_features(partial)
    assert "ev_mag_mean" in features
    assert features["ev_mag_mean"].notna().mean() == pytest.approx(0.4)
    model = fit_prospectivity(
        features, positive, key=table["parcel_id"].to_numpy(), config=_config().model, seed=1
    )
    assert model.card["coverage"]["ev_mag_mean"] == pytest.approx(0.4)
    out = predict_prospectivity(model, features)
    assert out["prospectivity"].notna().all()
    covered = col < 0.4 * N
    rho = out["prospectivity"][covered].corr(table["ev_mag_mean"][covered], method="spearman")
    assert rho > 0.6
    # Where the survey covers, it explains the prospectivity more than the decoy does.
    shap = out.loc[covered, ["shap_ev_mag_mean", "shap_ev_decoy_mean"]].abs().mean()
    assert shap["shap_ev_mag_mean"] > 1.5 * shap["shap_ev_decoy_mean"]


def test_reasons_in_plain_words(synthetic):
    table, positive, _ = synthetic
    features = evidence_features(table)
    model = fit_prospectivity(
        features, positive, key=table["parcel_id"].to_numpy(), config=_config().model, seed=1
    )
    out = predict_prospectivity(model, features)
    shap = out[[c for c in out if c.startswith("shap_")]]
    reasons = top_reasons(shap, features)
    top = int(np.argmax(out["prospectivity"].to_numpy()))
    assert reasons[top].startswith("mag high")
    assert feature_label("evidence_density", True) == "high fault density"
    assert feature_label("dist_fault_km", False) == "close to faults"
    assert feature_label("brownfields_5km", True).endswith("(interpolation)")


def test_needs_features_and_both_classes(synthetic):
    table, positive, _ = synthetic
    key = table["parcel_id"].to_numpy()
    config = _config().model
    with pytest.raises(ConfigError, match="no evidence feature"):
        fit_prospectivity(table[[]], positive, key=key, config=config, seed=1)
    features = evidence_features(table)
    with pytest.raises(ConfigError, match="with and without known sites"):
        fit_prospectivity(features, np.zeros(N * N), key=key, config=config, seed=1)
