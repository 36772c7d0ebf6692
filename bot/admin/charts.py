"""PNG charts for the admin report. matplotlib is imported on first use, with the Agg canvas
only (no pyplot, no display, no global state), so importing this module stays cheap."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from typing import IO

ANSWERED_COLOR = "#1f77b4"
DECLINED_COLOR = "#d62728"


def questions_chart(
    per_day: Sequence[tuple[str, int, int]],
    path_or_buffer: str | os.PathLike[str] | IO[bytes],
    *,
    title: str = "Questions per day",
) -> None:
    """Write a stacked bar chart of answered and declined questions per day as PNG.

    ``per_day`` holds (YYYY-MM-DD, answered, declined), as in ``Stats.questions_per_day``.
    With no days the chart is empty apart from a "No questions yet" note.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import (
        AutoDateLocator,
        ConciseDateFormatter,
        DateFormatter,
        DayLocator,
        date2num,
    )
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_ylabel("Questions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if per_day:
        days = [float(date2num(date.fromisoformat(day))) for day, _, _ in per_day]
        answered = [a for _, a, _ in per_day]
        declined = [d for _, _, d in per_day]
        axes.bar(days, answered, width=0.8, color=ANSWERED_COLOR, label="Answered")
        axes.bar(days, declined, width=0.8, bottom=answered, color=DECLINED_COLOR,
                 label="Declined")
        axes.xaxis_date()
        axes.set_xlim(min(days) - 0.6, max(days) + 0.6)  # room for the outer bars
        # One tick per day on short ranges; AutoDateLocator would show hours there.
        if max(days) - min(days) < 14:
            axes.xaxis.set_major_locator(DayLocator())
            axes.xaxis.set_major_formatter(DateFormatter("%d %b"))
        else:
            locator = AutoDateLocator(maxticks=10)
            axes.xaxis.set_major_locator(locator)
            axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.legend(loc="upper left", bbox_to_anchor=(1, 1))  # outside: never over a bar
    else:
        axes.set_xticks([])
        axes.set_yticks([])
        axes.text(0.5, 0.5, "No questions yet", ha="center", va="center",
                  transform=axes.transAxes, color="gray")
    figure.savefig(path_or_buffer, format="png")
