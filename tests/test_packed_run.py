"""The build cache's run format: every value back exactly, a quarter of msgpack's size."""

import math

import msgspec
import pytest

from sitegen import packed_run
from sitegen.model import LogStream, Run, Series


def _run(series: dict[str, Series]) -> Run:
    return Run("a/b", "/root", "a-b-1234", "sidecar", "b", "completed", params={"lr": 0.1}, series=series,
               logs=[LogStream("train.out", "train-out", "out", None, 10, text="hello")])


def _walk(n: int) -> list[float]:
    value, values = 1.0, []
    for i in range(n):
        value = value * 0.999 + ((i * 7919) % 101 - 50) / 1e5
        values.append(value)
    return values


def test_every_value_comes_back_exactly():
    steps = [float(i) for i in range(1000)]
    epochs = [s // 100 for s in steps]
    odd = [math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 3]
    series = {
        "loss": Series(_walk(1000), {"step": steps, "epoch": epochs}, downsampled_from=5000),
        "lr": Series([1e-3 * 0.5**i for i in range(1000)], {"step": steps}),
        "odd": Series(odd, {"row": [0, 1, 2, 3, 4, 5]}),
        "empty": Series([], {}),
    }
    run = _run(series)
    back = packed_run.unpack(packed_run.pack(run))
    assert back == run
    assert math.copysign(1, back.series["odd"].y[2]) == -1


def test_nan_survives():
    back = packed_run.unpack(packed_run.pack(_run({"m": Series([math.nan, 1.0], {"step": [0.0, 1.0]})})))
    assert math.isnan(back.series["m"].y[0]) and back.series["m"].y[1] == 1.0


def test_shared_axes_are_stored_once_and_the_pack_is_small():
    steps = [float(i) for i in range(1000)]
    run = _run({name: Series(_walk(1000), {"step": steps}) for name in ("a", "b", "c")})
    packed = packed_run.pack(run)
    assert len(packed) < len(msgspec.msgpack.encode(run)) / 2.5
    assert packed == packed_run.pack(run)  # deterministic: the fingerprint includes it


@pytest.mark.parametrize("data", [b"", b"\x00", msgspec.msgpack.encode([1, 2, 3]),
                                  msgspec.msgpack.encode(_run({}))])
def test_what_is_not_a_packed_run_is_a_value_error(data):
    with pytest.raises(ValueError):
        packed_run.unpack(data)
