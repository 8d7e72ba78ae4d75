"""Survival metrics on toy cases whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.evaluation.survival import brier_score, concordance_index, kaplan_meier, survival_at


def test_kaplan_meier_textbook_case():
    # at t=1: 5 at risk, 1 leaves -> 0.8; t=2: 4 at risk, 1 leaves (1 censored) -> 0.6;
    # t=3: 2 at risk, 1 leaves -> 0.3
    times, surv = kaplan_meier([1, 2, 2, 3, 4], [1, 1, 0, 1, 0])
    assert times.tolist() == [1, 2, 3]
    assert surv == pytest.approx([0.8, 0.6, 0.3])
    assert survival_at(times, surv, [0.5, 1, 2.5, 10]) == pytest.approx([1, 0.8, 0.6, 0.3])


def test_kaplan_meier_with_delayed_entry():
    # the third subject enters at 1.5: not at risk at t=1
    times, surv = kaplan_meier([1, 2, 3], [1, 1, 1], entry=[0, 0, 1.5])
    assert surv == pytest.approx([0.5, 0.25, 0.0])


def test_kaplan_meier_rejects_bad_input():
    with pytest.raises(ValueError):
        kaplan_meier([1, 2], [1])
    with pytest.raises(ValueError):
        kaplan_meier([1, 2], [1, 1], entry=[0, 3])


def test_concordance_known_answers():
    t, e = [1, 2, 3, 4], [1, 1, 1, 1]
    assert concordance_index(t, e, [4, 3, 2, 1]) == 1.0
    assert concordance_index(t, e, [1, 2, 3, 4]) == 0.0
    assert concordance_index(t, e, [1, 1, 1, 1]) == 0.5
    # censored at 2: compared only with the one who left before it; pairs (0,1) (0,2)
    # (0,3) concordant, (2,3) discordant -> 3 / 4
    assert concordance_index(t, [1, 0, 1, 1], [4, 1, 2, 3]) == 0.75
    # delayed entry: subject 3 entered at 3.5, after subject 0..2 left -> compared with none
    assert concordance_index(t, e, [4, 3, 2, 9], entry=[0, 0, 0, 3.5]) == 1.0
    assert np.isnan(concordance_index([1, 2], [0, 0], [1, 2]))


def test_brier_without_censoring_is_the_mean_squared_error():
    t, e = [1, 2, 3, 4], [1, 1, 1, 1]
    assert brier_score(t, e, [0.5] * 4, horizon=2.5) == pytest.approx(0.25)
    assert brier_score(t, e, [0, 0, 1, 1], horizon=2.5) == pytest.approx(0.0)
    assert brier_score(t, e, [1, 1, 0, 0], horizon=2.5) == pytest.approx(1.0)


def test_brier_with_censoring_uses_inverse_probability_weights():
    # censoring KM: G(2) = 2/3. Subject 0 left (weight 1/G(1-) = 1, error .25); subject 1
    # censored before the horizon (weight 0); subjects 2, 3 stayed (weight 1/G(2.5) = 1.5,
    # error .25 each): (0.25 + 0.375 + 0.375) / 4 = 0.25
    assert brier_score([1, 2, 3, 4], [1, 0, 1, 1], [0.5] * 4, horizon=2.5) == pytest.approx(0.25)
    # nobody observed up to the horizon: not estimable
    assert np.isnan(brier_score([1, 2], [0, 0], [0.5, 0.5], horizon=5))


def test_brier_conditions_on_entry():
    # predicted S(h) = 0.4 for someone who had lasted to entry with S(entry) = 0.8 -> 0.5
    got = brier_score([5], [0], [0.4], horizon=3, entry=[1], predicted_at_entry=[0.8])
    assert got == pytest.approx(0.25)
