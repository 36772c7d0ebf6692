"""Admins: re-indexing with checks, usage reports and charts (`ops`, `charts`), and the admin
commands in the conversation (`flow`)."""
