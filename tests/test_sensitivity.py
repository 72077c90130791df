"""Monte-Carlo weight sensitivity: exactness against independently computed ranks, determinism, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from prospector.analysis.score import combine, rank_scores
from prospector.analysis.sensitivity import dirichlet_weights, weight_sensitivity
from prospector.cli.analysis_cmds import sensitivity
from prospector.errors import MissingLayerWarning, ProspectorError
from prospector.ranking import rank
from prospector.ranking.studies import result_criteria
from tests.conftest import write_sites_region

CRS = "EPSG:5070"
X0, Y0 = -1_400_000.0, 1_900_000.0  # central Utah in CONUS Albers


@pytest.fixture
def small():
    # Parcels 'p3' and 'p1' tie on every criterion: the tie goes to the smaller id.
    criteria = pd.DataFrame(
        {
            "value": [0.9, 0.2, 0.5, 0.2, 0.0, 1.0],
            "access_rail": [0.1, 0.8, 0.5, 0.8, 1.0, 0.0],
            "evidence_fault": [0.3, 0.6, 0.1, 0.6, 0.2, 0.9],
        }
    )
    ids = pd.Series(["p5", "p3", "p4", "p1", "p2", "p0"])
    weights = {"value": 0.5, "access_rail": 0.3, "evidence_fault": 0.2, "terrain": 0.0}
    return criteria, ids, weights


def test_dirichlet_weights_are_centred_seeded_and_keep_zeros():
    weights = {"value": 0.6, "access_rail": 0.25, "evidence_fault": 0.15, "terrain": 0.0}
    draws = dirichlet_weights(weights, n_runs=4000, concentration=50.0, seed=3)
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    assert (draws["terrain"] == 0).all()
    assert draws["value"].mean() == pytest.approx(0.6, abs=0.01)
    # Dirichlet variance: w(1 − w) / (concentration + 1).
    assert draws["value"].std() == pytest.approx(np.sqrt(0.6 * 0.4 / 51), rel=0.1)
    again = dirichlet_weights(weights, n_runs=4000, concentration=50.0, seed=3)
    pd.testing.assert_frame_equal(draws, again)


def _reference_ranks(criteria, weights, ids, method):
    """Ranks written out independently of prospector.analysis.score (plain Python loops)."""
    names = [k for k, v in weights.items() if v > 0]
    w = [weights[k] for k in names]
    rows = [[float(criteria.at[i, k]) for k in names] for i in criteria.index]
    if method == "wlc":
        scores = [sum(x * wk for x, wk in zip(row, w, strict=True)) for row in rows]
    elif method == "gamma":
        top = max(w)
        scores = []
        for row in rows:
            mu = [x * wk / top for x, wk in zip(row, w, strict=True)]
            fuzzy_sum, fuzzy_prod = 1.0, 1.0
            for m in mu:
                fuzzy_sum *= 1.0 - m
                fuzzy_prod *= m
            scores.append((1.0 - fuzzy_sum) ** 0.8 * fuzzy_prod**0.2)
    else:  # TOPSIS: vector-normalised, weighted, closeness to the ideal
        norms = [sum(row[j] ** 2 for row in rows) ** 0.5 for j in range(len(names))]
        v = [[row[j] / norms[j] * w[j] for j in range(len(names))] for row in rows]
        best = [max(r[j] for r in v) for j in range(len(names))]
        worst = [min(r[j] for r in v) for j in range(len(names))]
        scores = []
        for r in v:
            d_best = sum((a - b) ** 2 for a, b in zip(r, best, strict=True)) ** 0.5
            d_worst = sum((a - b) ** 2 for a, b in zip(r, worst, strict=True)) ** 0.5
            scores.append(d_worst / (d_best + d_worst))
    order = sorted(range(len(rows)), key=lambda i: (-round(scores[i], 12), ids.iloc[i]))
    return {ids.iloc[i]: position + 1 for position, i in enumerate(order)}


@pytest.mark.parametrize("method", ["wlc", "gamma", "topsis"])
def test_single_run_ranks_equal_independent_ranks(small, method):
    criteria, ids, weights = small
    for seed in range(5):
        out = weight_sensitivity(
            criteria, weights, ids, n_runs=1, seed=seed, top_n=2, method=method
        )
        draw = dirichlet_weights(weights, n_runs=1, seed=seed).iloc[0].to_dict()
        expected = _reference_ranks(criteria, draw, ids, method)
        got = out.set_index("parcel_id")[["rank_p5", "rank_median", "rank_p95"]]
        for pid, r in expected.items():
            assert got.loc[pid].tolist() == [r, r, r]
        assert set(out.loc[out["top_n_share"] == 1.0, "parcel_id"]) == {
            pid for pid, r in expected.items() if r <= 2
        }


def test_baseline_rank_and_hand_computed_summary(small):
    criteria, ids, weights = small
    out = weight_sensitivity(criteria, weights, ids, n_runs=50, seed=0, top_n=3)
    # Unperturbed WLC scores: p5 .54, p3 .46, p4 .42, p1 .46, p2 .34, p0 .68.
    assert out["parcel_id"].tolist() == ["p0", "p5", "p1", "p3", "p4", "p2"]
    assert out["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert list(out.columns) == ["parcel_id", "rank", "rank_p5", "rank_median", "rank_p95",
                                 "top_n_share"]  # fmt: skip
    # p1 and p3 have identical criteria: p1 (smaller id) is always ahead of p3.
    by_id = out.set_index("parcel_id")
    assert (
        by_id.loc["p1", ["rank_p5", "rank_median", "rank_p95"]]
        <= by_id.loc["p3", ["rank_p5", "rank_median", "rank_p95"]]
    ).all()
    assert (out["rank_p5"] <= out["rank_median"]).all() and (
        out["rank_median"] <= out["rank_p95"]
    ).all()
    # Every run ranks 3 parcels in the top 3.
    assert out["top_n_share"].sum() == pytest.approx(3.0)


def test_one_criterion_is_stable_and_eligibility_respected(small):
    criteria, ids, _ = small
    eligible = pd.Series([True, True, True, False, True, True])
    out = weight_sensitivity(criteria, {"value": 1.0}, ids, n_runs=20, top_n=2, eligible=eligible)
    assert "p1" not in set(out["parcel_id"])
    assert out["rank"].tolist() == [1, 2, 3, 4, 5]
    assert (out["rank_p5"] == out["rank"]).all() and (out["rank_p95"] == out["rank"]).all()
    assert out["top_n_share"].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_seed_determinism(small):
    criteria, ids, weights = small
    a = weight_sensitivity(criteria, weights, ids, n_runs=30, seed=11, concentration=5)
    b = weight_sensitivity(criteria, weights, ids, n_runs=30, seed=11, concentration=5)
    c = weight_sensitivity(criteria, weights, ids, n_runs=30, seed=12, concentration=5)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_82k_parcels_200_runs():
    # Speed is measured by benchmarks, not asserted here (the suite runs on loaded machines).
    rng = np.random.default_rng(0)
    n = 82_000
    criteria = pd.DataFrame(
        {"value": rng.random(n) ** 4, "access_rail": rng.random(n), "evidence_fault": rng.random(n)}
    )
    ids = pd.Series([f"r{i:06d}" for i in range(n)])
    out = weight_sensitivity(
        criteria, {"value": 0.7, "access_rail": 0.1, "evidence_fault": 0.2}, ids
    )
    assert len(out) == n and out["rank"].tolist() == list(range(1, n + 1))
    assert out["top_n_share"].sum() == pytest.approx(100.0)


# --------------------------------------------------------------------------- run + CLI


def _write_region(tmp_path) -> str:
    xy = [[3000, 3000], [3500, 2500], [15000, 12000], [9000, 17000], [16000, 4000],
          [2000, 18000], [12000, 12500], [10000, 10000]]  # fmt: skip
    return write_sites_region(
        tmp_path, size_m=20_000, origin=(X0, Y0), sites_xy=xy,
        codes=["CU", "LI", "AU AG", "SDG"] * 2, statuses=["producer", "prospect"] * 4,
        faults=[[(0, 5000), (20000, 15000)]],
    )  # fmt: skip


def test_result_criteria_reproduce_the_run(tmp_path):
    region = _write_region(tmp_path)
    with pytest.warns(MissingLayerWarning):
        result = rank(region)
    parcels, criteria, weights = result_criteria(result)
    assert weights.effective == result.weights.effective
    score, _ = combine(criteria, weights.effective)
    ranks = rank_scores(score, parcels["parcel_id"], eligible=parcels["rank"].notna())
    pd.testing.assert_series_equal(ranks, parcels["rank"].astype("Int64"), check_names=False)
    out = weight_sensitivity(criteria, weights.effective, parcels["parcel_id"], n_runs=20,
                             eligible=parcels["rank"].notna())  # fmt: skip
    assert out["parcel_id"].head(10).tolist() == result.parcels["parcel_id"].head(10).tolist()


def test_cli_sensitivity_writes_csv_and_png(tmp_path):
    region = _write_region(tmp_path)
    out = tmp_path / "sens"
    args = ["--region", region, "--runs", "25", "--top", "10", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(sensitivity, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sensitivity.csv")
    assert list(table.columns) == ["parcel_id", "rank", "rank_p5", "rank_median", "rank_p95",
                                   "top_n_share"]  # fmt: skip
    assert table["rank"].tolist() == list(range(1, len(table) + 1))
    assert table["top_n_share"].sum() == pytest.approx(10.0)
    assert (out / "sensitivity.png").read_bytes()[:4] == b"\x89PNG"
    assert "in top 10" in result.output
    again = CliRunner().invoke(sensitivity, args)
    assert isinstance(again.exception, ProspectorError)  # exists; no --overwrite
    assert CliRunner().invoke(sensitivity, [*args, "--overwrite", "--no-plot"]).exit_code == 0
    rerun = pd.read_csv(out / "sensitivity.csv")
    pd.testing.assert_frame_equal(rerun, table)  # same seed, same numbers
    assert CliRunner().invoke(sensitivity, [*args[:-2], "--runs", "0", "--out", "x"]).exit_code == 2


def test_cli_sensitivity_says_when_top_covers_every_parcel(tmp_path):
    region = _write_region(tmp_path)
    args = ["--region", region, "--runs", "5", "--seed", "3", "--no-plot"]
    wide = CliRunner().invoke(sensitivity, [*args, "--top", "100000", "--out", str(tmp_path / "a")])
    assert wide.exit_code == 0, wide.output
    table = pd.read_csv(tmp_path / "a" / "sensitivity.csv")
    assert (table["top_n_share"] == 1.0).all()  # trivially: every parcel is in the top
    assert f"note: --top 100000 is not below the {len(table):,} ranked parcels" in wide.output
    narrow = CliRunner().invoke(sensitivity, [*args, "--top", "10", "--out", str(tmp_path / "b")])
    assert narrow.exit_code == 0 and "note: --top" not in narrow.output
