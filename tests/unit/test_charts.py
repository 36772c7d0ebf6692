"""The questions chart: real PNGs, read back as pixels."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colors, image

from bot.admin.charts import ANSWERED_COLOR, DECLINED_COLOR, questions_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def pixels_of(color: str, png: bytes) -> int:
    """How many pixels of the PNG are exactly ``color``."""
    rgb = image.imread(io.BytesIO(png), format="png")[..., :3]
    target = np.array(colors.to_rgb(color), dtype=rgb.dtype)
    return int(np.all(np.abs(rgb - target) < 1 / 255, axis=-1).sum())


def chart(per_day: list[tuple[str, int, int]]) -> bytes:
    buffer = io.BytesIO()
    questions_chart(per_day, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("per_day", [
    [("2025-03-01", 3, 1)],
    [("2025-03-01", 3, 1), ("2025-03-02", 0, 0), ("2025-03-03", 5, 2)],
    [(f"2025-03-{day:02d}", day, 1) for day in range(1, 31)],
])
def test_answered_and_declined_bars_are_drawn(per_day):
    png = chart(per_day)
    assert png.startswith(PNG_SIGNATURE)
    assert image.imread(io.BytesIO(png), format="png").shape[:2] == (400, 800)
    assert pixels_of(ANSWERED_COLOR, png) > 200
    assert pixels_of(DECLINED_COLOR, png) > 200


def test_more_declined_means_more_red():
    few = pixels_of(DECLINED_COLOR, chart([("2025-03-01", 5, 1), ("2025-03-02", 5, 1)]))
    many = pixels_of(DECLINED_COLOR, chart([("2025-03-01", 1, 5), ("2025-03-02", 1, 5)]))
    assert many > 2 * few


def test_no_days_draws_an_empty_chart(tmp_path: Path):
    path = tmp_path / "empty.png"
    questions_chart([], path)
    png = path.read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert pixels_of(ANSWERED_COLOR, png) == 0 and pixels_of(DECLINED_COLOR, png) == 0
    assert png != chart([("2025-03-01", 0, 0)])


def test_writes_to_a_path_given_as_text(tmp_path: Path):
    questions_chart([("2025-03-01", 1, 0)], str(tmp_path / "one.png"))
    assert (tmp_path / "one.png").read_bytes().startswith(PNG_SIGNATURE)


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, bot.admin.charts; sys.exit('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2])
    assert done.returncode == 0
