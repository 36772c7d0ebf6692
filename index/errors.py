"""Errors of the index layer; each message says what went wrong and what to do next."""

from __future__ import annotations


class IndexProblem(Exception):
    """Base class for index problems shown to users and admins."""


class KnowledgeFileError(IndexProblem):
    """One or more knowledge files cannot be read; `problems` holds `file:line: field: message`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


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
