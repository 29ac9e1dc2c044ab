"""The compact columns of data.js: what comes back is within the promised error, gaps stay gaps."""

import json
import math
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from data_js import decode_column as decode

from sitegen.jsonsafe import dumps
from sitegen.render.env import theme_dir
from sitegen.render.plot_columns import RELATIVE_ERROR, encode_column


def assert_close(values: list, exact: bool = False) -> list:
    column = encode_column(values, exact)
    back = decode(column)
    assert len(back) == len(values)
    finite = [v for v in values if v is not None and math.isfinite(v)]
    tolerance = 0.0 if exact else RELATIVE_ERROR * (max(finite) - min(finite)) * (1 + 1e-9) if finite else 0.0
    for original, decoded in zip(values, back, strict=True):
        if original is None or not math.isfinite(original):
            assert decoded is None
        else:
            assert abs(decoded - original) <= tolerance, (original, decoded)
    return back


def test_a_step_axis_is_start_and_stride():
    steps = [float(i) for i in range(0, 3000, 3)]
    assert encode_column(steps, exact=True) == {"start": 0, "step": 3, "n": 1000}


def test_irregular_whole_x_values_come_back_exactly():
    x = [0.0, 1.0, 5.0, 6.0, 100.0, -7.0]
    assert assert_close(x, exact=True) == x


def test_fractional_and_time_x_values_come_back_exactly():
    x = [0.5 * i for i in range(7)] + [1.1, 2.2, 1735700000.125]
    assert assert_close(x, exact=True) == x


def test_x_values_beyond_exact_integers_are_written_as_they_are():
    x = [0.1 + 1e-17 * i for i in range(3)] + [1e300, math.pi]
    assert encode_column(x, exact=True) == x


def test_y_is_within_one_ten_thousandth_of_its_range():
    rng = random.Random(1)
    assert_close([0.4 + 2 * (1 + i / 40) ** -0.8 * rng.gauss(1, 0.03) for i in range(1000)])


@pytest.mark.parametrize("scale", [1e-300, 1e-12, 1e-3, 1.0, 1e6, 1e15, 1e300])
def test_huge_tiny_and_negative_magnitudes(scale):
    rng = random.Random(2)
    assert_close([scale * rng.uniform(-5, 5) for _ in range(500)])
    assert_close([-scale * (1 + 1e-3 * rng.random()) for _ in range(100)])  # a narrow band far from 0


def test_constant_and_single_values_come_back_exactly():
    assert decode(encode_column([0.1234567] * 50, exact=False)) == [0.1234567] * 50
    assert decode(encode_column([3.0], exact=False)) == [3.0]
    assert decode(encode_column([], exact=False)) == []


def test_gaps_stay_gaps():
    values = [1.0, math.nan, None, math.inf, 2.5, -math.inf, 0.75]
    back = assert_close(values)
    assert [v is None for v in back] == [False, True, True, True, False, True, False]
    assert decode(encode_column([None, math.nan], exact=False)) == [None, None]


def test_200000_rows_cost_few_bytes_a_value():
    rng = random.Random(3)
    values = [math.sin(i / 500) + rng.gauss(0, 0.01) for i in range(200_000)]
    assert_close(values)
    assert len(dumps(encode_column(values, exact=False))) < 3 * len(values)


def test_the_encoding_is_safe_in_a_script_and_deterministic():
    values = [random.Random(4).uniform(-1, 1) for _ in range(1000)]
    text = dumps(encode_column(values, exact=False))
    assert text == dumps(encode_column(values, exact=False))
    assert not set(text.decode()) & set("<>&\\'")


def test_runs_of_equal_steps_and_gaps_are_written_once_with_a_count():
    x = [float(i) for i in range(1000) if i != 500]
    column = encode_column(x, exact=True)
    assert decode(column) == x and len(column["d"]) < 12
    values = [1.0, 1.0, 1.0, 1.0, None, None, None, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert decode(encode_column(values, exact=True)) == values


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_site_js_decodes_what_python_encodes(tmp_path):
    rng = random.Random(5)
    columns = [encode_column(values, exact) for values, exact in [
        ([rng.gauss(0, 1) for _ in range(3000)], False),
        ([float(i) for i in range(500)] + [float(i) for i in range(600, 700, 7)], True),
        ([1.0, None, None, None, math.nan, 2.0, 2.0, 2.0, 2.0, -1e6], False),
        ([1e15 * rng.random() for _ in range(100)], False),
        ([1735700000.125 + 0.5 * i for i in range(50)], True),
        ([5.0] * 20, False),
    ]]
    site_js = Path(theme_dir("default")) / "static" / "site.js"
    script = ("global.window = {}; global.document = {addEventListener() {}};"
              f"require({json.dumps(str(site_js))});"
              f"console.log(JSON.stringify({json.dumps(columns)}.map(window.sitegenColumn)))")
    decoded = json.loads(subprocess.run(["node", "-e", script], capture_output=True, check=True).stdout)
    assert decoded == [decode(column) for column in columns]
