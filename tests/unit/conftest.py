"""Fixtures of the unit tests: an inbox of files to add and a docs directory to add them to."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def target_docs(tmp_path: Path) -> Path:
    """A knowledge docs directory holding one document already."""
    target = tmp_path / "knowledge" / "docs"
    target.mkdir(parents=True)
    (target / "existing.md").write_text("keep me\n", encoding="utf-8")
    return target


@pytest.fixture()
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


