"""The one error type of the project, and the index layer's kinds of it.

Every domain error derives from `Problem`: what happened (`message`) and what to do next
(`hint`, e.g. "partnerbot index"). Each edge (CLI, Telegram, terminal chat) translates a
`Problem` once into its own words; nothing below the edges prints or formats one.
"""

from __future__ import annotations


class Problem(Exception):
    """Something the user or admin can act on: what happened, and the next step."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n\nTry: {self.hint}"


class IndexProblem(Problem):
    """Base class for index problems shown to users and admins."""


class KnowledgeFileError(IndexProblem):
    """One or more knowledge files cannot be read; `problems` holds `file:line: field: message`."""

    def __init__(self, problems: list[str], hint: str | None = None) -> None:
        super().__init__("\n".join(problems), hint)
        self.problems = problems


class IndexMissing(IndexProblem):
    """No usable index has been built yet."""


class IndexModelMismatch(IndexProblem):
    """The index was built with another embedding model than the settings name."""


class IndexCorrupt(IndexProblem):
    """Every index version on disk is damaged."""


class IndexBuildError(IndexProblem):
    """A build failed; the live index is untouched."""


class IndexBusy(IndexProblem):
    """Another index build holds the lock."""


class IndexVersionDamaged(IndexCorrupt):
    """One index version's files are missing or no longer match its manifest; it is marked
    unusable (index/store.py) and the newest intact version serves instead."""
