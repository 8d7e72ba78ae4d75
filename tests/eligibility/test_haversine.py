"""One great-circle formula (matcher.data.reference.haversine): known distances, broadcasting,
NaN, the antipodes, and the same numbers, bit for bit, as the three copies it replaced
(eligibility's precomputed-cosine form, the baselines' matrix, reference.haversine_km)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from matcher.data.reference import EARTH_RADIUS_KM, haversine, haversine_km

BEIJING = (116.4074, 39.9042)
SHANGHAI = (121.4737, 31.2304)


def test_known_distances():
    # Beijing - Shanghai, great circle on the mean Earth radius: about 1,067 km
    assert haversine_km(*BEIJING, *SHANGHAI) == pytest.approx(1067.3, abs=1.0)
    assert haversine_km(*BEIJING, *BEIJING) == 0.0
    # a quarter of the equator
    assert haversine_km(0.0, 0.0, 90.0, 0.0) == pytest.approx(np.pi / 2 * EARTH_RADIUS_KM)
    # antipodes: rounding may push hav above 1, the distance stays finite (half the globe)
    assert haversine_km(0.0, 0.0, 180.0, 0.0) == pytest.approx(np.pi * EARTH_RADIUS_KM)
    assert np.isfinite(haversine_km(10.0, 20.0, -170.0, -20.0))


def test_broadcasting_and_nan():
    workers = np.array([[BEIJING[0], BEIJING[1]], [np.nan, np.nan]])
    vacancies = np.array([[SHANGHAI[0], SHANGHAI[1]], [BEIJING[0], BEIJING[1]], [0.0, 0.0]])
    d = haversine_km(workers[:, :1], workers[:, 1:2], vacancies[:, 0], vacancies[:, 1])
    assert d.shape == (2, 3)
    assert np.isnan(d[1]).all() and np.isfinite(d[0]).all()
    assert d[0, 1] == 0.0
    assert d[0, 0] == haversine_km(*BEIJING, *SHANGHAI)


finite = st.floats(-np.pi, np.pi, allow_nan=False)
coords = arrays(np.float64, 16, elements=finite)


@settings(max_examples=60, deadline=None)
@given(lon1=coords, lat1=coords, lon2=coords, lat2=coords)
def test_same_numbers_as_the_formulas_it_replaced(lon1, lat1, lon2, lat2):
    lat1, lat2 = lat1 / 2, lat2 / 2  # latitudes in [-pi/2, pi/2]
    cos1, cos2 = np.cos(lat1), np.cos(lat2)
    # matcher/eligibility/rules.py's copy (radians, cosines kept per point)
    eligibility = np.sin((lat2 - lat1) / 2.0) ** 2 + cos1 * cos2 * np.sin((lon2 - lon1) / 2.0) ** 2
    np.testing.assert_array_equal(haversine(lon1, lat1, lon2, lat2, cos1, cos2), eligibility)
    np.testing.assert_array_equal(haversine(lon1, lat1, lon2, lat2), eligibility)
    # matcher/evaluation/baselines.py's copy (degrees, a matrix, clipped) and reference's (unclipped)
    d1, d2 = np.degrees(np.c_[lon1, lat1]), np.degrees(np.c_[lon2, lat2])
    a1, b1 = np.radians(d1[:, :1]), np.radians(d1[:, 1:2])
    a2, b2 = np.radians(d2[:, 0])[None, :], np.radians(d2[:, 1])[None, :]
    h = np.sin((b2 - b1) / 2) ** 2 + np.cos(b1) * np.cos(b2) * np.sin((a2 - a1) / 2) ** 2
    baselines = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    got = haversine_km(d1[:, :1], d1[:, 1:2], d2[:, 0][None, :], d2[:, 1][None, :])
    np.testing.assert_array_equal(got, baselines)
    inside = h <= 1.0  # where the old unclipped reference.haversine_km was not NaN
    np.testing.assert_array_equal(
        got[inside], (2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h)))[inside]
    )
