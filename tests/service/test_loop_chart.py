"""The retention chart's geometry (service.web.loop_pages.chart) on a known curve."""

from __future__ import annotations

from service.web.loop_pages import chart


def test_polyline_points_are_the_curve_in_chart_coordinates():
    series = [
        {
            "key": "all",
            "name": "全部",
            "n": 10,
            "points": [{"month": 0, "survival": 1.0}, {"month": 6, "survival": 0.5}],
        }
    ]
    c = chart(series, months=12, width=640, height=260)
    (line,) = c["lines"]
    # left 44, top 10, plot 584 x 220: month 0 at x 44, month 6 at x 336; 100 % at y 10, 50 % at y 120
    assert line["points"] == "44.0,10.0 336.0,120.0"
    assert line["name"] == "全部" and line["n"] == 10 and line["colour"]
