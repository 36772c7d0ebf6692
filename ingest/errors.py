"""The one error of ingest: a file that cannot be added."""

from __future__ import annotations

from index.errors import Problem


class IngestError(Problem):
    """A file that cannot be added; the message says what was wrong and what to do next."""
