"""AHP weights and consistency: consistent matrices, published examples, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from prospector.config.ahp import (
    RANDOM_INDEX,
    ahp_weights,
    judgement_matrix,
    weights_from_judgements,
)
from prospector.errors import ConfigError

# Wikipedia, "Analytic hierarchy process – leader example": criteria Experience, Education,
# Charisma, Age; published priorities .547, .127, .270, .056.  λmax and CR are computed
# here (eigenvector method, RI(4) = 0.90).
LEADER = [
    [1, 4, 3, 7],
    [1 / 4, 1, 1 / 3, 3],
    [1 / 3, 3, 1, 5],
    [1 / 7, 1 / 3, 1 / 5, 1],
]
# Same article, candidates Tom, Dick, Harry with respect to Experience: .217, .717, .066.
EXPERIENCE = [[1, 1 / 4, 4], [4, 1, 9], [1 / 4, 1 / 9, 1]]


def test_consistent_matrix_gives_exact_weights_and_zero_cr():
    w = np.array([0.5, 0.3, 0.2])
    result = ahp_weights(w[:, None] / w[None, :], ["value", "access", "evidence"])
    assert result.weights == pytest.approx({"value": 0.5, "access": 0.3, "evidence": 0.2})
    assert result.lambda_max == pytest.approx(3.0)
    assert result.ci == pytest.approx(0.0, abs=1e-12)
    assert result.cr == pytest.approx(0.0, abs=1e-12)


def test_leader_example_weights_and_consistency():
    result = ahp_weights(LEADER, ["experience", "education", "charisma", "age"])
    published = {"experience": 0.547, "education": 0.127, "charisma": 0.270, "age": 0.056}
    for name, weight in published.items():
        assert result.weights[name] == pytest.approx(weight, abs=1e-3)
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert round(result.lambda_max, 3) == 4.118
    assert round(result.ci, 3) == 0.039
    assert round(result.cr, 3) == 0.044
    assert result.random_index == RANDOM_INDEX[4] == 0.90


def test_leader_experience_example():
    result = ahp_weights(EXPERIENCE, ["tom", "dick", "harry"])
    assert [round(result.weights[c], 3) for c in ("tom", "dick", "harry")] == [0.217, 0.717, 0.066]
    assert round(result.cr, 3) == 0.032


def test_cyclic_judgements_are_refused_with_the_culprits():
    # a > b (9), b > c (9), c > a (9): by symmetry w = 1/3 each and
    # λmax = 1 + 9 + 1/9, CI = (λmax − 3) / 2 = 32/9, CR = CI / 0.58.
    cyclic = [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]
    with pytest.raises(ConfigError, match=r"CR = 6\.130") as err:
        ahp_weights(cyclic, ["a", "b", "c"])
    assert "a/b judged 9 but the weights imply 1" in str(err.value)
    assert "force=True" in str(err.value)
    forced = ahp_weights(cyclic, ["a", "b", "c"], force=True)
    assert forced.weights == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert forced.lambda_max == pytest.approx(1 + 9 + 1 / 9)
    assert forced.cr == pytest.approx((32 / 9) / 0.58)
    assert forced.inconsistent_pairs(1)[0][:2] in {("a", "b"), ("a", "c"), ("b", "c")}


def test_two_criteria_are_always_consistent():
    result = ahp_weights([[1, 3], [1 / 3, 1]], ["value", "access"])
    assert result.weights == pytest.approx({"value": 0.75, "access": 0.25})
    assert result.cr == 0.0


def test_toml_judgements_match_the_matrix():
    judgements = {"value/access": 3, "value/evidence": 5, "access/evidence": 2}
    matrix, names = judgement_matrix(judgements)
    assert names == ("value", "access", "evidence")
    np.testing.assert_allclose(matrix, [[1, 3, 5], [1 / 3, 1, 2], [1 / 5, 1 / 2, 1]])
    result = weights_from_judgements(judgements)
    direct = ahp_weights(matrix, names)
    assert result.weights == pytest.approx(direct.weights)
    assert result.weights["value"] > result.weights["access"] > result.weights["evidence"]
    assert result.cr < 0.1
    # Fractions and a different key direction describe the same judgements.
    flipped = weights_from_judgements(
        {"access/value": 1 / 3, "evidence/value": 0.2, "access/evidence": 2},
        criteria=["value", "access", "evidence"],
    )
    assert flipped.weights == pytest.approx(result.weights)


def test_bad_judgements_are_reported_together():
    with pytest.raises(ConfigError) as err:
        judgement_matrix(
            {"value/access": 3, "access/value": 2, "value": 4, "access/evidence": 2,
             "evidence/value": float("nan")}
        )  # fmt: skip
    text = str(err.value)
    assert "already judged" in text
    assert "'value': expected a key 'a/b'" in text
    assert "finite positive number" in text
    assert "missing judgements: value/evidence" in text


def test_bad_matrices_are_config_errors():
    with pytest.raises(ConfigError, match="not reciprocal"):
        ahp_weights([[1, 2], [2, 1]])
    with pytest.raises(ConfigError, match="square"):
        ahp_weights([[1, 2, 3]])
    with pytest.raises(ConfigError, match="finite positive"):
        ahp_weights([[1, 0], [0, 1]])
    with pytest.raises(ConfigError, match="tabulated up to 10"):
        ahp_weights(np.ones((11, 11)))
