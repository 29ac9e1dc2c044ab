import json
import math
import random

import plotly.graph_objects as go
import pytest

from sitegen.jsonsafe import dumps
from sitegen.model import Series
from sitegen.render import figures
from sitegen.render.env import format_number


def overlay_figure(*args, **kwargs) -> dict:
    return json.loads(dumps(figures.overlay_figure(*args, **kwargs)))


figure_div_id = figures.figure_div_id

SCRIPT = "<script>alert(1)</script>"


def _walk(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    y, value = [], rng.uniform(-5, 5)
    for _ in range(n):
        value += rng.gauss(0, 0.01)
        y.append(value)
    return y


def _series(n: int, seed: int = 0) -> Series:
    x = {"step": [float(i) for i in range(n)], "time": [i * 0.5 for i in range(n)]}
    return Series(y=_walk(n, seed), x=x)


def test_overlay_figure_is_valid_plotly():
    traces = [(f"run {k}", [float(i) for i in range(3000)], _walk(3000, k)) for k in range(3)]
    fig = overlay_figure("loss by run", traces, "step", "loss", max_points=200)
    go.Figure(fig)
    assert [trace["name"] for trace in fig["data"]] == ["run 0", "run 1", "run 2"]
    assert all(len(trace["y"]) <= 200 for trace in fig["data"])
    assert fig["layout"]["title"]["text"] == "loss by run"


def test_labels_from_data_are_escaped():
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    overlay = overlay_figure(SCRIPT, [('<b>"x"</b> & <br>', [0.0], [1.0])], SCRIPT, "<a href='x'>y</a>")
    assert overlay["data"][0]["name"] == '&lt;b&gt;"x"&lt;/b&gt; &amp; &lt;br&gt;'
    assert overlay["layout"]["title"]["text"] == escaped
    assert overlay["layout"]["yaxis"]["title"]["text"] == "&lt;a href='x'&gt;y&lt;/a&gt;"
    assert b"<" not in dumps(overlay)


def test_non_finite_values_become_null():
    y, x = [1.0, math.nan, math.inf, -math.inf, 2.5], [0.0, 1.0, 2.0, 3.0, math.nan]
    (trace,) = overlay_figure("m", [("m", x, y)], "step", "m")["data"]
    assert trace["y"] == [1, None, None, None, 2.5]
    assert trace["x"] == [0, 1, 2, 3, None]
    assert b"NaN" not in dumps(trace) and b"Infinity" not in dumps(trace)


def test_whole_x_values_are_ints_and_y_has_seven_significant_digits():
    y, x = [0.123456789, 123456.789, 1e20, 3.0], [0.0, 1.0, 2.5, 1e300]
    trace = overlay_figure("m", [("m", x, y)], "step", "m")["data"][0]
    assert dumps(trace["x"]) == b"[0,1,2.5,1e+300]"
    assert dumps(trace["y"]) == b"[0.1234568,123456.8,1e+20,3]"


def test_same_input_gives_same_bytes():
    def build() -> bytes:
        series = {name: _series(20_000, seed) for seed, name in enumerate(["loss", "lr", "acc"])}
        figures = [overlay_figure("all", [(n, s.x["step"], s.y) for n, s in series.items()], "step", "v")]
        return dumps(figures)

    assert build() == build()


def test_figure_div_ids_are_fixed():
    assert [figure_div_id(i) for i in range(3)] == ["plot-0", "plot-1", "plot-2"]


@pytest.mark.parametrize(("value", "shown"), [
    (2_000_000.0, "2,000,000"), (-3e9, "-3,000,000,000"), (2_000_000.5, "2e+06"), (123456.0, "123456"),
    (0.125, "0.125"), (7, "7"), (float("nan"), "nan"),
])
def test_a_whole_number_of_millions_reads_as_a_count(value, shown):
    assert format_number(value) == shown


def test_a_trend_names_its_metric_once_in_the_title_not_again_in_a_legend():
    from sitegen.analysis.trends import Point, Trend
    from sitegen.render.trends import trend_figure

    points = [Point(f"s{i}", f"r{i}", f"night {i}", float(i), 1.0 + i, "completed") for i in range(3)]
    figure = trend_figure(Trend("bench", "time_s", "session", points), [])
    assert [trace.get("showlegend", True) for trace in figure["data"]] == [False]


def test_legends_go_below_the_plot():
    lines = [("a", [0.0, 1.0], [1.0, 2.0]), ("b", [0.0, 1.0], [2.0, 3.0])]
    overlay = figures.overlay_figure("t", lines, "x", "y")
    bars = figures.bar_chart(["op"], {"in": [1], "out": [2]}, "rows")
    assert overlay["layout"]["legend"]["orientation"] == bars["layout"]["legend"]["orientation"] == "h"
    assert overlay["layout"]["legend"]["y"] < 0
