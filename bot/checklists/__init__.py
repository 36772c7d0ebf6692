"""Checklists: the file format (`model`), its checks (`checks`) and loading (`loading`), the run
engine (`engine`), reports (`reports`), runs from a file of answers (`answers_file`), and the
flow that runs them in the conversation (`flow`).

This package imports neither the index nor Telegram: the engine is pure.
"""

from __future__ import annotations

from bot.checklists.loading import (
    checklist_from_dict,
    load_checklist,
    load_checklists,
    validate_paths,
)
from bot.checklists.model import Checklist, ChecklistError, Cite, LoadResult, Question

__all__ = ["Checklist", "ChecklistError", "Cite", "LoadResult", "Question",
           "checklist_from_dict", "load_checklist", "load_checklists", "validate_paths"]
